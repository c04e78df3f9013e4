// Every request the console makes to the hub goes through this module, so that sign-in
// (issue 6's auth) can put its token in one place: setAuthorization() and streamUrl().

const BASE = "/api/v1";
let authorization = null;
let onUnauthenticated = () => {};

export class ApiError extends Error {
  constructor(status, detail, body = null) {
    super(`${status}: ${detail}`);
    this.status = status;
    this.detail = detail;
    this.body = body; // the hub's answer as sent (a 412 names the case's version and status)
  }
}

/** A refusal of the hub's in words: a field check (422) names the field and what is wrong
 * with it ("display_name: String should have at least 1 character"), else the hub's detail. */
export function refusalText(failure) {
  if (!(failure instanceof ApiError)) return String(failure);
  const details = failure.body?.detail;
  if (!Array.isArray(details)) return failure.detail;
  return details.map((item) => `${(item.loc || []).at(-1) ?? "body"}: ${item.msg}`).join("; ");
}

/** Send this Authorization header with every later request (scripts, kiosks; the sign-in
 * form relies on the hub's HttpOnly session cookie instead, which pages cannot read). */
export function setAuthorization(value) {
  authorization = value;
}

/** Call ``handler`` whenever the hub answers 401 (the session ended or never began). */
export function whenUnauthenticated(handler) {
  onUnauthenticated = handler;
}

async function request(method, path, body, extraHeaders) {
  const headers = { Accept: "application/json", ...(extraHeaders || {}) };
  if (authorization) headers.Authorization = authorization;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path.startsWith("/") ? path : `${BASE}/${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    if (response.status === 401 && !path.endsWith("auth/login") && !path.endsWith("auth/me")) onUnauthenticated();
    let detail = response.statusText;
    let data = null;
    try {
      data = await response.json();
      detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
    } catch {
      // not JSON: keep the status text
    }
    throw new ApiError(response.status, detail, data);
  }
  return response.json();
}

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") search.append(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export const api = {
  cases: (params) => request("GET", `cases${query(params)}`).then((d) => d.items),
  caseDetail: (id) => request("GET", `cases/${encodeURIComponent(id)}`),
  /** Do ``action`` on case ``id``; given the ``version`` of the case the page shows, only on
   * the case at that version (If-Match: a case changed since is refused with 412). */
  caseAction: (id, action, body, version) =>
    request("POST", `cases/${encodeURIComponent(id)}/${encodeURIComponent(action)}`, body || {},
      Number.isInteger(version) ? { "If-Match": `"${version}"` } : undefined),
  alerts: (params) => request("GET", `alerts${query(params)}`).then((d) => d.items),
  devices: () => request("GET", "devices").then((d) => d.items),
  device: (id) => request("GET", `devices/${encodeURIComponent(id)}`),
  retiredDevices: () => request("GET", "devices?retired=true").then((d) => d.items),
  retireDevice: (id, reason) => request("DELETE", `devices/${encodeURIComponent(id)}${query({ reason })}`),
  edges: () => request("GET", "edges").then((d) => d.items),
  health: () => request("GET", "health"),
  caseReadings: (id) => request("GET", `console/cases/${encodeURIComponent(id)}/readings`),
  sitePlan: () => request("GET", "console/site-plan"),
  deviceHealth: () => request("GET", "console/device-health").then((d) => d.items),
  openapi: () => request("GET", "/openapi.json"),
  households: () => request("GET", "households").then((d) => d.items),
  requests: (params) => request("GET", `requests${query(params)}`).then((d) => d.items),
  logRequest: (body) => request("POST", "requests", body),
  careList: () => request("GET", "care").then((d) => d.items),
  statistics: (params) => request("GET", `statistics${query(params)}`),
  sites: () => request("GET", "sites").then((d) => d.items),
  positions: () => request("GET", "positions").then((d) => d.items),
  responders: () => request("GET", "responders").then((d) => d.items),
  setCare: (householdId, body) =>
    request("PUT", `households/${encodeURIComponent(householdId)}/care`, body),
  careAway: (householdId, until) =>
    request("POST", `households/${encodeURIComponent(householdId)}/care/away`, { until }),
  notices: () => request("GET", "notices").then((d) => d.items),
  sendNotice: (body) => request("POST", "notices", body),
  silences: (params) => request("GET", `silences${query(params)}`).then((d) => d.items),
  setSilence: (body) => request("POST", "silences", body),
  endSilence: (id) => request("POST", `silences/${encodeURIComponent(id)}/end`, {}),
  me: () => request("GET", "auth/me"),
  signIn: (username, password) => request("POST", "auth/login", { username, password }),
  signOut: () => request("POST", "auth/logout", {}),
  changePassword: (current, next) =>
    request("POST", "auth/password", { current_password: current, new_password: next }),
  users: () => request("GET", "users").then((d) => d.items),
  createUser: (body) => request("POST", "users", body),
  changeUser: (id, change) => request("PATCH", `users/${encodeURIComponent(id)}`, change),
  setUserDisabled: (id, disabled) =>
    request("POST", `users/${encodeURIComponent(id)}/disabled`, { disabled }),
  resetPassword: (id, password) =>
    request("POST", `users/${encodeURIComponent(id)}/password`, { new_password: password }),
  tokens: () => request("GET", "tokens").then((d) => d.items),
  /** Issue an API token: ``{token, record}``, the token shown this once. */
  issueToken: (body) => request("POST", "tokens", body),
  revokeToken: (id) => request("DELETE", `tokens/${encodeURIComponent(id)}`),

  /** Return the case's evidence list, or null when this hub has no evidence endpoint. */
  async caseEvidence(id) {
    try {
      const data = await request("GET", `cases/${encodeURIComponent(id)}/evidence`);
      return Array.isArray(data) ? data : data.items || [];
    } catch (error) {
      if (error instanceof ApiError && (error.status === 404 || error.status === 405)) {
        return null;
      }
      throw error;
    }
  },

  /** Return an object URL of one evidence image (fetched with the same credentials). */
  async evidenceImage(evidenceId) {
    const headers = {};
    if (authorization) headers.Authorization = authorization;
    const response = await fetch(`${BASE}/evidence/${encodeURIComponent(evidenceId)}`, { headers });
    if (!response.ok) throw new ApiError(response.status, response.statusText);
    return URL.createObjectURL(await response.blob());
  },

  /** Open the live event stream (Server-Sent Events); handlers by event type. With
   * heartbeatS, the hub also sends a "heartbeat" event at least that often. */
  stream(handlers, { heartbeatS } = {}) {
    const query = heartbeatS ? `?heartbeat_s=${encodeURIComponent(heartbeatS)}` : "";
    const source = new EventSource(`${BASE}/stream${query}`);
    for (const [type, handler] of Object.entries(handlers)) {
      if (type === "open" || type === "error") {
        source.addEventListener(type, handler);
      } else {
        source.addEventListener(type, (event) => handler(JSON.parse(event.data)));
      }
    }
    return source;
  },
};
