// The operator console: live alert stream, case board, case page, device health; the site
// plan is in plan.js, the residents' requests, care households and notices in residents.js.
// Plain ES modules, no framework and nothing fetched from outside the hub. Data from the hub
// is only ever put into the page as text (never as HTML).

import { api, ApiError, whenUnauthenticated } from "./api.js";
import { ago, h, label, orderOf, pill, s, site, toast, when } from "./dom.js";
import { renderCare, renderNotices, renderRequests } from "./residents.js";
import { renderDevices } from "./devices.js";
import { renderMap } from "./map.js";
import { renderPlan } from "./plan.js";
import { renderStatistics } from "./statistics.js";

const STATUS_ORDER = ["open", "acknowledged", "dispatched", "accepted", "in_progress", "escalated", "resolved", "closed"];
const PRIORITY_ORDER = ["critical", "high", "medium", "low"];
const FINISHED = new Set(["resolved", "closed"]);
const MAX_STREAM = 50;

const state = {
  cases: new Map(), // id -> case as the list shows it
  stream: [], // newest first
  filters: { status: "active", priority: "", site: "", kind: "", text: "" },
  route: null,
  openapi: null,
  signedIn: false,
  source: null, // the live EventSource
  announced: new Set(), // ids of the cases announced as new
  refreshing: new Set(), // per reading of the case list in flight: the cases changed live meanwhile
};

// --- sign-in ---------------------------------------------------------------------------

function showSignIn(message) {
  state.signedIn = false;
  if (state.source) {
    state.source.close();
    state.source = null;
  }
  document.getElementById("who").hidden = true;
  document.getElementById("sign-out").hidden = true;
  const link = document.getElementById("link");
  link.dataset.state = "down";
  link.textContent = "signed out";
  const error = h("p", { className: "error", id: "sign-in-error" }, message || "");
  const form = h("form", {
    className: "sign-in", id: "sign-in",
    onsubmit: async (event) => {
      event.preventDefault();
      const button = form.querySelector("button");
      button.disabled = true;
      try {
        await api.signIn(form.username.value.trim(), form.password.value);
        form.reset();
        await start();
      } catch (failure) {
        error.textContent = failure instanceof ApiError ? failure.detail : String(failure);
        button.disabled = false;
      }
    },
  },
  h("h2", {}, "Sign in"),
  h("label", { for: "username" }, h("span", {}, "Username"), h("input", { id: "username", name: "username", autocomplete: "username", required: true })),
  h("label", { for: "password" }, h("span", {}, "Password"), h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true })),
  error,
  h("button", { type: "submit" }, "Sign in"));
  document.getElementById("view").replaceChildren(form);
}

async function whoAmI() {
  // A hub without accounts answers 404 here: the console then works without signing in.
  try {
    const me = await api.me();
    const who = document.getElementById("who");
    who.textContent = `${me.name} · ${me.role}`;
    who.hidden = false;
    document.getElementById("sign-out").hidden = false;
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return true;
    if (error instanceof ApiError && error.status === 401) return false;
    throw error;
  }
}

async function start() {
  if (!(await whoAmI())) {
    showSignIn();
    return;
  }
  state.signedIn = true;
  await Promise.all([refreshCases(), refreshRecentAlerts()]).catch((error) => toast(String(error), "error"));
  await render();
  if (!state.source) connectStream();
}

// --- live stream -------------------------------------------------------------------------

// The hub beats every HEARTBEAT_S on the stream; a stream silent for SILENT_AFTER_MS is dead
// (a laptop lid, a proxy or a network blip can leave a connection open that carries nothing,
// and EventSource does not notice): the page says so and connects again.
const HEARTBEAT_S = 5;
const SILENT_AFTER_MS = 3 * HEARTBEAT_S * 1000;

function setLink(linkState, text) {
  const link = document.getElementById("link");
  link.dataset.state = linkState;
  link.textContent = text;
}

function connectStream() {
  let watchdog = null;
  const current = () => state.source === source;
  const alive = () => {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => {
      if (!current()) return;
      source.close();
      setLink("down", "disconnected");
      connectStream();
    }, SILENT_AFTER_MS);
  };
  const live = (handler) => (event) => {
    if (!current()) return;
    alive();
    handler(event);
  };
  const source = api.stream({
    open: () => {
      if (!current()) return;
      alive();
      setLink("live", "live");
      // Events may have been missed before (re)connecting: reload the cases and alerts, and
      // announce the cases that opened meanwhile.
      resync();
    },
    error: () => {
      if (!current()) return;
      setLink("down", "reconnecting");
      // EventSource retries by itself after a dropped connection, but gives up on an HTTP
      // error (401 after the session ended): then ask who we are and start over.
      if (source.readyState === EventSource.CLOSED) {
        clearTimeout(watchdog);
        state.source = null;
        startAgain(2000);
      }
    },
    heartbeat: live(() => {}),
    alert: live((event) => {
      state.stream.unshift(event.alert);
      state.stream.length = Math.min(state.stream.length, MAX_STREAM);
      if (state.route?.name === "board") renderStream();
    }),
    case_opened: live((event) => caseChanged(event.case, true)),
    case_updated: live((event) => caseChanged(event.case, false)),
    // This screen fell behind and the hub dropped events for it: read everything again.
    dropped: live(() => resync()),
  }, { heartbeatS: HEARTBEAT_S });
  state.source = source;
  alive();
  return source;
}

// Start over after the stream was refused; while the hub cannot be reached (a proxy answers
// 502 during a restart), try again, less often each time, rather than never.
function startAgain(delay) {
  setTimeout(() => {
    if (!state.signedIn || state.source) return;
    start().catch(() => {
      setLink("down", "reconnecting");
      startAgain(Math.min(2 * delay, 30000));
    });
  }, delay);
}

function resync() {
  return Promise.all([refreshCases({ announce: true }), refreshRecentAlerts()]).then(() => {
    if (state.route?.name === "board") { renderBoard(); renderStream(); }
  }).catch(() => {});
}

function caseChanged(item, opened) {
  // A case is opened once: a case_opened for a case this screen already has (a change of it
  // another hub worker made came round first, or a reload read it) is not newer than that.
  const known = state.cases.get(item.id);
  if (opened && known) {
    if (!state.announced.has(item.id)) announceCase(item);
    return;
  }
  for (const during of state.refreshing) during.push(item);
  state.cases.set(item.id, { ...known, ...item });
  if (opened) announceCase(item);
  const route = state.route;
  if (route?.name === "board") renderBoard();
  else if (route?.name === "case" && Number(route.id) === item.id) renderCase(route.id);
}

function announceCase(item) {
  state.announced.add(item.id);
  toast(`New ${label(item.kind)} case at ${item.location || item.device_ids.join(", ")}`, item.priority);
}

// The live panel starts with the recent alerts, not empty until the next one arrives; an
// alert that came live meanwhile is kept once.
async function refreshRecentAlerts() {
  const recent = await api.alerts({ limit: MAX_STREAM });
  const seen = new Set(state.stream.map((alert) => alert.id));
  const merged = [...state.stream, ...recent.filter((alert) => !seen.has(alert.id))];
  merged.sort((a, b) => Date.parse(b.ts) - Date.parse(a.ts));
  state.stream = merged.slice(0, MAX_STREAM);
}

// The list as the hub has it, and then, in the order they came, the changes the stream
// brought while it was being read: the list may have been read before them, and a case opened
// meanwhile must not vanish from the board. With announce, a case new to this screen that
// the stream did not bring (it opened while the stream was down) is announced as if it had.
async function refreshCases({ announce = false } = {}) {
  const during = [];
  state.refreshing.add(during);
  let items;
  try {
    items = await api.cases({ limit: 500 });
  } finally {
    state.refreshing.delete(during);
  }
  const before = state.cases;
  const cases = new Map(items.map((item) => [item.id, item]));
  for (const item of during) cases.set(item.id, { ...cases.get(item.id), ...item });
  if (announce) {
    const brought = new Set(during.map((item) => item.id));
    for (const item of items) {
      if (!before.has(item.id) && !brought.has(item.id) && !FINISHED.has(item.status)) announceCase(item);
    }
  }
  state.cases = cases;
}

// --- board -------------------------------------------------------------------------------

function boardView() {
  const view = h("div", { className: "board-page" },
    h("section", { className: "stream", "aria-label": "Live alerts" },
      h("h2", {}, "Live alerts"),
      h("ol", { id: "stream", className: "stream-list" })),
    h("section", { className: "cases", "aria-label": "Cases" },
      h("div", { className: "filters", id: "filters" }),
      h("div", { id: "board", className: "board" })));
  return view;
}

function renderStream() {
  const list = document.getElementById("stream");
  if (!list) return;
  list.replaceChildren(
    ...state.stream.map((alert) =>
      h("li", { className: `alert ${alert.severity}`, "data-alert-id": alert.id, "data-device-id": alert.device_id },
        h("a", { href: alert.case_id ? `#/case/${alert.case_id}` : "#/" },
          h("strong", {}, label(alert.kind)), " ", pill(alert.severity, alert.severity), " ",
          label(alert.state)),
        h("div", { className: "muted" }, alert.location || alert.device_id, " · ", when(alert.ts)))),
  );
  if (state.stream.length === 0) list.append(h("li", { className: "muted" }, "Waiting for alerts…"));
}

function filterControl(name, labelText, options) {
  const select = h("select", {
    name, "aria-label": labelText,
    onchange: (event) => { state.filters[name] = event.target.value; renderBoard(); },
  }, options.map(([value, text]) => h("option", { value, selected: state.filters[name] === value }, text)));
  return h("label", {}, h("span", {}, labelText), select);
}

function syncOptions(name, options) {
  // Sites and kinds appear as cases arrive: refresh the choices without rebuilding the bar.
  const select = document.querySelector(`#filters select[name="${name}"]`);
  if (!select) return;
  const wanted = options.map(([value]) => value).join("\n");
  const current = [...select.options].map((option) => option.value).join("\n");
  if (wanted === current) return;
  select.replaceChildren(...options.map(([value, text]) => h("option", { value, selected: state.filters[name] === value }, text)));
}

function renderFilters(cases) {
  const box = document.getElementById("filters");
  if (!box) return;
  const sites = [["", "any"], ...[...new Set(cases.map((c) => site(c.location)).filter(Boolean))].sort().map((x) => [x, x])];
  const kinds = [["", "any"], ...[...new Set(cases.map((c) => c.kind))].sort().map((x) => [x, label(x)])];
  if (box.childElementCount) {
    syncOptions("site", sites);
    syncOptions("kind", kinds);
    return;
  }
  const statuses = new Set([...STATUS_ORDER.filter((x) => x !== "escalated"), ...cases.map((c) => c.status)]);
  box.append(
    filterControl("status", "Status", [["active", "unfinished"], ["", "all"], ...[...statuses].map((x) => [x, label(x)])]),
    filterControl("priority", "Priority", [["", "any"], ...PRIORITY_ORDER.map((x) => [x, x])]),
    filterControl("site", "Site", sites),
    filterControl("kind", "Kind", kinds),
    h("label", {}, h("span", {}, "Search"),
      h("input", { type: "search", name: "text", value: state.filters.text, placeholder: "device, place",
        oninput: (event) => { state.filters.text = event.target.value.toLowerCase(); renderBoard(); } })),
  );
}

function matches(item) {
  const f = state.filters;
  if (f.status === "active" && FINISHED.has(item.status)) return false;
  if (f.status && f.status !== "active" && item.status !== f.status) return false;
  if (f.priority && item.priority !== f.priority) return false;
  if (f.site && site(item.location) !== f.site) return false;
  if (f.kind && item.kind !== f.kind) return false;
  if (f.text) {
    const haystack = `${item.location || ""} ${item.device_ids.join(" ")} ${item.kind}`.toLowerCase();
    if (!haystack.includes(f.text)) return false;
  }
  return true;
}

function caseCard(item) {
  return h("a", {
    className: `card ${item.priority}`, href: `#/case/${item.id}`,
    "data-case-id": item.id, "data-status": item.status,
  },
  h("div", { className: "card-head" }, h("strong", {}, label(item.kind)), pill(item.priority, item.priority)),
  h("div", {}, item.location || item.device_ids.join(", ")),
  h("div", { className: "muted" }, `#${item.id} · ${item.alert_count} alert${item.alert_count === 1 ? "" : "s"} · ${ago(item.last_alert_at)}`),
  pill(`status ${item.status}`, item.status));
}

function renderBoard() {
  const board = document.getElementById("board");
  if (!board) return;
  const cases = [...state.cases.values()];
  renderFilters(cases);
  const shown = cases.filter(matches).sort((a, b) =>
    orderOf(PRIORITY_ORDER, a.priority) - orderOf(PRIORITY_ORDER, b.priority) ||
    new Date(b.updated_at) - new Date(a.updated_at));
  const statuses = [...new Set(shown.map((c) => c.status))].sort((a, b) => orderOf(STATUS_ORDER, a) - orderOf(STATUS_ORDER, b));
  board.replaceChildren(
    ...statuses.map((status) => {
      const column = shown.filter((c) => c.status === status);
      return h("section", { className: "column", "data-column": status },
        h("h3", {}, label(status), " ", h("span", { className: "count" }, column.length)),
        column.map(caseCard));
    }),
  );
  if (shown.length === 0) board.append(h("p", { className: "muted empty" }, "No cases match."));
}

// --- case page -----------------------------------------------------------------------------

const KNOWN_CASE_FIELDS = new Set(["id", "status", "kind", "priority", "opened_at", "updated_at", "last_alert_at",
  "alert_count", "device_ids", "location", "alerts", "events", "actions", "team", "merged_into"]);

function teamText(team) {
  // Everyone the case is dispatched to, with their duty and whether they accepted yet.
  if (!Array.isArray(team) || team.length === 0) return "nobody yet";
  return team.map((m) => `${m.responder} (${label(m.duty)}, ${m.accepted ? "accepted" : "waiting"})`).join("; ");
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

function fieldValue(value) {
  // Fields this console does not know yet are shown readably, whatever their shape.
  if (value === null || value === undefined) return "—";
  if (Array.isArray(value)) return value.length ? value.map(fieldValue).join("; ") : "—";
  if (typeof value === "object") {
    return Object.entries(value).map(([k, v]) => `${label(k)}: ${fieldValue(v)}`).join(", ");
  }
  if (typeof value === "string" && ISO_TIME.test(value)) return when(value);
  return String(value);
}

async function caseActions() {
  // The actions this hub offers are read from its OpenAPI: dispatch, comment and
  // resolution codes appear by themselves once the API has them.
  if (!state.openapi) state.openapi = await api.openapi();
  const spec = state.openapi;
  const actions = [];
  for (const [path, methods] of Object.entries(spec.paths || {})) {
    const match = path.match(/^\/api\/v1\/cases\/\{[a-z_]+\}\/([a-z_]+)$/);
    if (!match || !methods.post) continue;
    const content = methods.post.requestBody?.content?.["application/json"]?.schema;
    actions.push({ name: match[1], summary: methods.post.summary, schema: resolveSchema(spec, content) });
  }
  const order = ["acknowledge", "dispatch", "accept", "decline", "start", "comment", "resolve", "close"];
  return actions.sort((a, b) => orderOf(order, a.name) - orderOf(order, b.name));
}

function resolveSchema(spec, schema) {
  if (!schema) return null;
  if (schema.$ref) return resolveSchema(spec, spec.components.schemas[schema.$ref.split("/").pop()]);
  if (schema.anyOf) return resolveSchema(spec, schema.anyOf.find((x) => x.type !== "null"));
  if (schema.allOf && schema.allOf.length === 1) return resolveSchema(spec, schema.allOf[0]);
  return schema;
}

function actionForm(caseId, action) {
  const schema = action.schema;
  const properties = schema?.properties || {};
  const required = new Set(schema?.required || []);
  const inputs = Object.entries(properties).map(([name, prop]) => {
    const resolved = resolveSchema(state.openapi, prop) || {};
    const id = `f-${action.name}-${name}`;
    let input;
    if (resolved.enum) {
      input = h("select", { id, name, required: required.has(name) },
        required.has(name) ? null : h("option", { value: "" }, "—"),
        resolved.enum.map((value) => h("option", { value }, label(value))));
    } else if (resolved.type === "integer" || resolved.type === "number") {
      input = h("input", { id, name, type: "number", required: required.has(name) });
    } else if (resolved.type === "array") {
      input = h("input", { id, name, placeholder: "comma-separated", required: required.has(name), "data-array": true });
    } else if (name === "note" || name === "text" || name === "comment") {
      input = h("textarea", { id, name, rows: 2, required: required.has(name), maxlength: resolved.maxLength });
    } else {
      input = h("input", { id, name, required: required.has(name) });
    }
    return h("label", { for: id }, h("span", {}, label(name), required.has(name) ? " *" : ""), input);
  });
  const form = h("form", {
    className: "action", "data-action": action.name,
    onsubmit: async (event) => {
      event.preventDefault();
      const body = {};
      for (const element of form.querySelectorAll("[name]")) {
        const value = element.value.trim();
        if (!value) continue;
        if (element.type === "number") body[element.name] = Number(value);
        else if (element.dataset.array !== undefined) body[element.name] = value.split(",").map((x) => x.trim()).filter(Boolean);
        else body[element.name] = value;
      }
      const button = form.querySelector("button");
      button.disabled = true;
      try {
        const updated = await api.caseAction(caseId, action.name, body);
        if (updated && updated.id !== undefined) state.cases.set(updated.id, { ...state.cases.get(updated.id), ...updated });
        toast(`${label(action.name)}: done`, "ok");
        form.reset();
        await renderCase(caseId);
      } catch (error) {
        toast(error instanceof ApiError ? error.detail : String(error), "error");
        button.disabled = false;
      }
    },
  }, inputs, h("button", { type: "submit", name: `do-${action.name}` }, label(action.name)));
  return form;
}

const PRIMARY_ACTIONS = new Set(["acknowledge", "dispatch", "comment", "resolve"]);

function moreActions(caseId, actions) {
  if (actions.length === 0) return null;
  return h("details", { className: "more-actions" }, h("summary", {}, "More actions"),
    actions.map((action) => actionForm(caseId, action)));
}

function timeline(detail) {
  const entries = [
    ...(detail.events || []).map((event) => ({ ts: event.ts, kind: "event", event })),
    ...(detail.alerts || []).map((alert) => ({ ts: alert.ts, kind: "alert", alert })),
  ].sort((a, b) => new Date(a.ts) - new Date(b.ts));
  return h("ol", { className: "timeline", "aria-label": "Timeline" },
    entries.map((entry) => {
      if (entry.kind === "alert") {
        const a = entry.alert;
        const values = Object.entries(a.reason?.values || {}).map(([k, v]) => `${k}=${v}`).join(" ");
        return h("li", { className: `t-alert ${a.severity}` }, h("time", {}, when(a.ts)),
          h("span", {}, `alert ${label(a.kind)} ${label(a.state)} (${a.reason?.rule || ""}${values ? ": " + values : ""})`));
      }
      const e = entry.event;
      return h("li", { className: `t-event ${e.action}`, "data-event": e.action }, h("time", {}, when(e.ts)),
        h("span", {}, label(e.action), e.actor ? ` by ${e.actor}` : "", e.note ? ` — ${e.note}` : ""),
        Object.entries(e).filter(([k]) => !["id", "case_id", "ts", "action", "note", "actor", "alert_id"].includes(k) && e[k] !== null)
          .map(([k, v]) => h("span", { className: "muted" }, ` ${label(k)}: ${fieldValue(v)}`)));
    }));
}

function readingsChart(data) {
  // One small chart per numeric reading, every device of the case as its own line.
  const series = new Map();
  for (const sample of data.samples) {
    for (const [name, value] of Object.entries(sample.readings)) {
      const numeric = typeof value === "boolean" ? Number(value) : value;
      if (typeof numeric !== "number") continue;
      const key = name;
      if (!series.has(key)) series.set(key, new Map());
      const byDevice = series.get(key);
      if (!byDevice.has(sample.device_id)) byDevice.set(sample.device_id, []);
      byDevice.get(sample.device_id).push([new Date(sample.ts).getTime(), numeric]);
    }
  }
  if (series.size === 0) return h("p", { className: "muted" }, "No readings kept around this incident.");
  const t0 = new Date(data.start).getTime();
  const t1 = Math.max(new Date(data.end).getTime(), t0 + 1000);
  const colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf"];
  const W = 640, H = 160, L = 44, R = 8, T = 10, B = 22;
  return h("div", { className: "charts" }, [...series.entries()].map(([name, byDevice]) => {
    const values = [...byDevice.values()].flat().map((p) => p[1]);
    let lo = Math.min(...values), hi = Math.max(...values);
    if (lo === hi) { lo -= 1; hi += 1; }
    const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
    const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
    const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${name} around the incident`, class: "chart", "data-reading": name },
      s("rect", { x: L, y: T, width: W - L - R, height: H - T - B, fill: "#fafafa", stroke: "#ddd" }),
      s("text", { x: 4, y: T + 8, class: "axis" }, hi.toFixed(1)),
      s("text", { x: 4, y: H - B, class: "axis" }, lo.toFixed(1)),
      s("text", { x: L, y: H - 6, class: "axis" }, new Date(t0).toLocaleTimeString(undefined, { hour12: false })),
      s("text", { x: W - R, y: H - 6, class: "axis", "text-anchor": "end" }, new Date(t1).toLocaleTimeString(undefined, { hour12: false })),
    );
    const opened = new Date(data.opened_at || data.start).getTime();
    if (data.opened_at) svg.append(s("line", { x1: x(opened), x2: x(opened), y1: T, y2: H - B, stroke: "#e8483b", "stroke-dasharray": "4 3" }));
    [...byDevice.entries()].forEach(([device, points], index) => {
      points.sort((a, b) => a[0] - b[0]);
      const d = points.map(([t, v], i) => `${i ? "L" : "M"}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
      svg.append(s("path", { d, fill: "none", stroke: colours[index % colours.length], "stroke-width": 2 },
        s("title", {}, device)));
      if (points.length === 1) svg.append(s("circle", { cx: x(points[0][0]), cy: y(points[0][1]), r: 3, fill: colours[index % colours.length] }));
    });
    return h("figure", {}, h("figcaption", {}, label(name), " ", h("span", { className: "muted" }, [...byDevice.keys()].join(", "))), svg);
  }));
}

async function evidenceSection(caseId) {
  const items = await api.caseEvidence(caseId).catch(() => null);
  if (items === null) return null; // this hub has no evidence endpoint: show nothing
  const section = h("section", { className: "evidence", "aria-label": "Evidence" }, h("h3", {}, "Evidence"));
  if (items.length === 0) section.append(h("p", { className: "muted" }, "No evidence yet."));
  for (const item of items) {
    const caption = ["kind", "variant", "device_id"].filter((k) => item[k]).map((k) => label(item[k]));
    if (item.ts) caption.push(when(item.ts));
    const figure = h("figure", { "data-evidence-id": item.id }, h("figcaption", {}, caption.join(" · ")));
    section.append(figure);
    if (item.id !== undefined) {
      api.evidenceImage(item.id).then((url) => figure.prepend(h("img", { src: url, alt: `evidence ${item.id}`, loading: "lazy" })))
        .catch(() => figure.prepend(h("p", { className: "muted" }, "image unavailable")));
    }
  }
  return section;
}

async function renderCase(id) {
  const view = document.getElementById("view");
  let detail;
  try {
    detail = await api.caseDetail(id);
  } catch (error) {
    view.replaceChildren(h("p", { className: "error" }, error instanceof ApiError ? error.detail : String(error)));
    return;
  }
  if (state.route?.name !== "case" || String(state.route.id) !== String(id)) return;
  state.cases.set(detail.id, { ...state.cases.get(detail.id), ...detail });
  const [actions, readings, evidence] = await Promise.all([
    caseActions().catch(() => []),
    api.caseReadings(id).catch(() => null),
    evidenceSection(id),
  ]);
  // Left meanwhile (another page, or another case): this page must not replace that one.
  if (state.route?.name !== "case" || String(state.route.id) !== String(id)) return;
  if (readings) readings.opened_at = detail.opened_at;
  const extra = Object.entries(detail).filter(([key]) => !KNOWN_CASE_FIELDS.has(key));
  // When the hub says which moves are legal now, offer only those (comments always).
  const offered = Array.isArray(detail.actions)
    ? actions.filter((action) => detail.actions.includes(action.name) || action.name === "comment")
    : actions;
  const finished = FINISHED.has(detail.status);
  // A live update must not wipe a note the operator is typing.
  const typed = [...view.querySelectorAll("form.action [name]")].filter((e) => e.value).map((e) => [e.id, e.value]);
  view.replaceChildren(h("article", { className: "case-page", "data-case-id": detail.id, "data-status": detail.status },
    h("p", {}, h("a", { href: "#/" }, "← cases")),
    h("h2", {}, `#${detail.id} ${label(detail.kind)} `, pill(detail.priority, detail.priority), " ",
      h("span", { id: "case-status", className: `pill status ${detail.status}`, "data-pill": detail.status }, label(detail.status))),
    h("dl", { className: "facts" },
      h("dt", {}, "Where"), h("dd", {}, detail.location || "—"),
      h("dt", {}, "Devices"), h("dd", {}, detail.device_ids.join(", ")),
      h("dt", {}, "Opened"), h("dd", {}, when(detail.opened_at)),
      h("dt", {}, "Last alert"), h("dd", {}, when(detail.last_alert_at)),
      h("dt", {}, "Alerts"), h("dd", {}, detail.alert_count),
      "team" in detail ? [h("dt", {}, "Team"), h("dd", { id: "case-team" }, teamText(detail.team))] : [],
      // A press taken in by the incident it was part of: the work goes on in that case.
      detail.merged_into ? [h("dt", {}, "Merged into"),
        h("dd", {}, h("a", { id: "merged-into", href: `#/case/${detail.merged_into}` }, `#${detail.merged_into}`))] : [],
      extra.map(([key, value]) => [h("dt", {}, label(key)), h("dd", {}, fieldValue(value))])),
    h("section", { className: "actions", "aria-label": "Actions" },
      finished ? h("p", { className: "muted" }, "This case is finished.") : [
        offered.filter((action) => PRIMARY_ACTIONS.has(action.name)).map((action) => actionForm(detail.id, action)),
        moreActions(detail.id, offered.filter((action) => !PRIMARY_ACTIONS.has(action.name))),
      ]),
    h("section", { "aria-label": "Readings" }, h("h3", {}, "Readings around the incident"),
      readings ? readingsChart(readings) : h("p", { className: "muted" }, "Readings unavailable.")),
    evidence,
    h("section", {}, h("h3", {}, "Timeline"), timeline(detail))));
  for (const [id, value] of typed) {
    const element = document.getElementById(id);
    if (element) element.value = value;
  }
}

// --- routing --------------------------------------------------------------------------------

function parseRoute() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [name, id] = hash.split("/");
  if (name === "case" && id) return { name: "case", id };
  if (name === "plan") return { name: "plan" };
  if (name === "devices") return { name: "devices" };
  if (["requests", "care", "notices", "statistics", "map"].includes(name)) return { name };
  return { name: "board" };
}

async function render() {
  state.route = parseRoute();
  for (const link of document.querySelectorAll("[data-nav]")) {
    link.toggleAttribute("aria-current", link.dataset.nav === state.route.name);
  }
  const view = document.getElementById("view");
  try {
    switch (state.route.name) {
      case "case":
        await renderCase(state.route.id);
        break;
      case "plan":
        await renderPlan();
        break;
      case "devices":
        await renderDevices();
        break;
      case "requests":
        await renderRequests(view);
        break;
      case "care":
        await renderCare(view);
        break;
      case "notices":
        await renderNotices(view);
        break;
      case "statistics":
        await renderStatistics(view);
        break;
      case "map":
        await renderMap(view);
        break;
      default:
        view.replaceChildren(boardView());
        renderStream();
        renderBoard();
    }
  } catch (error) {
    view.replaceChildren(h("p", { className: "error" }, error instanceof ApiError ? error.detail : String(error)));
  }
}

whenUnauthenticated(() => showSignIn("Your session ended: sign in again."));
window.addEventListener("hashchange", () => {
  if (state.signedIn) render();
});
document.getElementById("sign-out").addEventListener("click", async () => {
  await api.signOut().catch(() => {});
  showSignIn();
});
start().catch((error) => toast(String(error), "error"));
