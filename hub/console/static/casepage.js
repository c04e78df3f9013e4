// The case page (#/case/<id>): a case's facts, the actions the hub offers on it (read from
// its OpenAPI), the readings around the incident, camera evidence and the timeline. Data from
// the hub is only ever put into the page as text (never as HTML).

import { api, ApiError } from "./api.js";
import { h, label, orderOf, pill, s, toast, when, zoneOf } from "./dom.js";
import { carryPages, casesSeen, pageLead, pagesDown, pagesDownBox } from "./pages.js";

export const FINISHED = new Set(["resolved", "closed"]);

// Of two views of one case, the one of the higher version is the newer: several hub workers'
// events may come in another order than their changes were made, and a read may cross one.
export function older(item, than) {
  return than !== undefined && item.version !== undefined && than.version !== undefined && item.version < than.version;
}

function keep(state, item) {
  const known = state.cases.get(item.id);
  if (!older(item, known)) state.cases.set(item.id, { ...known, ...carryPages(item, known) });
}

const KNOWN_CASE_FIELDS = new Set(["id", "status", "kind", "priority", "opened_at", "updated_at", "last_alert_at",
  "alert_count", "device_ids", "location", "alerts", "events", "actions", "team", "merged_into", "pages_failing"]);

// Who declined the case since it was last (re)opened, as its history says: "<responder>
// declined" for an answer from their phone, the hub's own note ("plumber-1 did not accept in
// time") for a lapse it counted as a decline. (The case list says nothing of declines: the
// board can only tell that a case taken on went back to open.)
function declines(events) {
  const since = (events || []).findLastIndex((e) => e.action === "reopened");
  return (events || []).slice(since + 1).filter((e) => e.action === "declined")
    .map((e) => (e.actor ? `${e.actor} declined` : e.note || "declined"));
}

function teamText(team, events) {
  // Everyone the case is dispatched to, with their duty and whether they accepted yet, and
  // who declined it ("nobody yet" had read as if nobody had been asked).
  const declined = declines(events);
  const members = Array.isArray(team) ? team : [];
  const on = members.map((m) => `${m.responder} (${label(m.duty)}, ${m.accepted ? "accepted" : "waiting"})`);
  if (on.length === 0) return declined.length ? `nobody: ${declined.join("; ")}` : "nobody yet";
  return [...on, ...declined].join("; ");
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

function fieldValue(value, zone) {
  // Fields this console does not know yet are shown readably, whatever their shape.
  if (value === null || value === undefined) return "—";
  if (Array.isArray(value)) return value.length ? value.map((v) => fieldValue(v, zone)).join("; ") : "—";
  if (typeof value === "object") {
    return Object.entries(value).map(([k, v]) => `${label(k)}: ${fieldValue(v, zone)}`).join(", ");
  }
  if (typeof value === "string" && ISO_TIME.test(value)) return when(value, zone);
  return String(value);
}

async function caseActions(state) {
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

// ``after``: the form is one of a finished case's. Its fields have their own ids: a note typed
// for the case before it was resolved is not put into them by a live update (it is kept under
// "Not sent", to be sent again, or not, once the operator has seen the case is resolved).
function actionForm(state, caseId, action, { after = false } = {}) {
  const schema = action.schema;
  const properties = schema?.properties || {};
  const required = new Set(schema?.required || []);
  const inputs = Object.entries(properties).map(([name, prop]) => {
    const resolved = resolveSchema(state.openapi, prop) || {};
    const id = `f-${after ? "after-" : ""}${action.name}-${name}`;
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
      // Done only on the case as this page shows it: changed since (another operator handed
      // it over, resolved it), the hub refuses it (412) instead of doing it to what it became.
      const shown = Number(form.closest("article.case-page")?.dataset.version);
      try {
        const updated = await api.caseAction(caseId, action.name, body, shown);
        if (updated && updated.id !== undefined) keep(state, updated);
        if (state.changedMeanwhile?.id === caseId) state.changedMeanwhile = null;
        toast(`${label(action.name)}: done`, "ok");
        form.reset();
        await renderCase(caseId, state);
      } catch (error) {
        // Refused (another operator moved the case meanwhile: resolved, taken on) or failed:
        // say so, and show the case as the hub has it now, not as this page last read it.
        const why = error instanceof ApiError ? error.detail : String(error);
        if (error instanceof ApiError && error.status === 412) {
          const now = error.body?.status ? label(error.body.status) : "changed";
          state.changedMeanwhile = { id: caseId, version: error.body?.version, text: `This case changed while this page showed it: `
            + `it is now ${now}. ${label(action.name)} was not done: check it as it is below and send again.` };
          toast(`${label(action.name)} not done: the case changed meanwhile (now ${now}); your note is kept`, "error");
        } else {
          toast(`${label(action.name)} not done: ${why}`, "error");
        }
        button.disabled = false;
        await renderCase(caseId, state);
      }
    },
  }, inputs, FOR_GOOD[action.name] ? forGood(action) : null,
  h("button", { type: "submit", name: `do-${action.name}` }, label(action.name)));
  return form;
}

// Actions that cannot be undone, and what the operator ticks to say they know it: the button
// alone, a click away from "Reopen", closed a case for good (a keyboard's Enter on the wrong
// form, a tap beside the intended one). The tick is the browser's own required field: no
// dialog, and the keyboard reaches it with Tab and Space.
const FOR_GOOD = { close: "for good: a closed case cannot be reopened" };

function forGood(action) {
  const id = `f-${action.name}-for-good`;
  // No name: it is not part of the body the hub is sent.
  return h("label", { for: id, className: "for-good" },
    h("span", {}, label(action.name), " ", FOR_GOOD[action.name]),
    h("input", { id, type: "checkbox", required: true }));
}

const PRIMARY_ACTIONS = new Set(["acknowledge", "dispatch", "comment", "resolve"]);
// What a finished case still takes: a note on its record (the follow-up call to the family
// the day after: the hub takes a comment at any point in a case's life, the page had offered
// none once the case was resolved), reopened (resolved by mistake, or the leak is back), or
// closed for good. A closed case takes only the note.
const AFTER_FINISHED = { resolved: ["comment", "reopen", "close"], closed: ["comment"] };

function moreActions(state, caseId, actions) {
  if (actions.length === 0) return null;
  return h("details", { className: "more-actions" }, h("summary", {}, "More actions"),
    actions.map((action) => actionForm(state, caseId, action)));
}

function timeline(detail, down) {
  const zone = zoneOf(detail.site_id);
  const entries = [
    ...(detail.events || []).map((event) => ({ ts: event.ts, kind: "event", event })),
    ...(detail.alerts || []).map((alert) => ({ ts: alert.ts, kind: "alert", alert })),
  ].sort((a, b) => new Date(a.ts) - new Date(b.ts));
  return h("ol", { className: "timeline", "aria-label": "Timeline" },
    entries.map((entry) => {
      if (entry.kind === "alert") {
        const a = entry.alert;
        const values = Object.entries(a.reason?.values || {}).map(([k, v]) => `${k}=${v}`).join(" ");
        return h("li", { className: `t-alert ${a.severity}` }, h("time", {}, when(a.ts, zone)),
          h("span", {}, `alert ${label(a.kind)} ${label(a.state)} (${a.reason?.rule || ""}${values ? ": " + values : ""})`));
      }
      const e = entry.event;
      // A page that did not reach its responders, still needed: said first, not one grey line among many.
      const lead = pageLead(e, down);
      return h("li", { className: `t-event ${e.action}${lead ? " page-down" : ""}`, "data-event": e.action }, h("time", {}, when(e.ts, zone)),
        h("span", {}, lead, label(e.action), e.actor ? ` by ${e.actor}` : "", e.note ? ` — ${e.note}` : ""),
        Object.entries(e).filter(([k]) => !["id", "case_id", "ts", "action", "note", "actor", "alert_id"].includes(k) && e[k] !== null)
          .map(([k, v]) => h("span", { className: "muted" }, ` ${label(k)}: ${fieldValue(v, zone)}`)));
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

const OFTEN_FALSE_JUDGED = 3;
const OFTEN_FALSE_SHARE = 0.5;

/** How a device's cases were judged before (GET /devices/<id>: case_resolutions), in words,
 * beside its id on the case page: the zone history an alarm operator reads before deciding. A
 * device judged false or nuisance in at least half of 3 or more cases is said to be often
 * false, to have it checked: the case in front of the operator is still to be checked. */
function deviceRecord(id, device) {
  const counts = device?.case_resolutions || {};
  const judged = Object.entries(counts).reduce((sum, [code, n]) => sum + (code === "test" ? 0 : n), 0);
  if (!judged) return h("li", { "data-device": id }, id);
  const wrong = (counts.false_alarm || 0) + (counts.nuisance || 0);
  const often = judged >= OFTEN_FALSE_JUDGED && wrong / judged >= OFTEN_FALSE_SHARE;
  return h("li", { "data-device": id, className: often ? "often-false" : "" }, id,
    h("span", { className: "muted" }, ` · ${judged} case${judged === 1 ? "" : "s"} judged, ${wrong} false or nuisance`),
    often ? h("strong", {}, " · often false: have it checked") : null);
}

export async function renderCase(id, state) {
  const view = document.getElementById("view");
  let detail;
  try {
    detail = await api.caseDetail(id);
  } catch (error) {
    view.replaceChildren(h("p", { className: "error" }, error instanceof ApiError ? error.detail : String(error)));
    return;
  }
  if (state.route?.name !== "case" || String(state.route.id) !== String(id)) return;
  keep(state, detail);
  casesSeen([detail]);
  const down = pagesDown(detail);
  const [actions, readings, evidence, devices] = await Promise.all([
    caseActions(state).catch(() => []),
    api.caseReadings(id).catch(() => null),
    evidenceSection(id),
    Promise.all(detail.device_ids.map((device) => api.device(device).catch(() => null))),
  ]);
  // Left meanwhile (another page, or another case): this page must not replace that one.
  if (state.route?.name !== "case" || String(state.route.id) !== String(id)) return;
  if (readings) readings.opened_at = detail.opened_at;
  const extra = Object.entries(detail).filter(([key]) => !KNOWN_CASE_FIELDS.has(key));
  // When the hub says which moves are legal now, offer only those (comments always, but a
  // responder writes only on the record of a case they are on: the hub refuses the others).
  const onTeam = Array.isArray(detail.team) && detail.team.some((m) => m.responder === state.me?.name);
  const mayComment = state.me?.role !== "responder" || onTeam;
  const offered = (Array.isArray(detail.actions)
    ? actions.filter((action) => detail.actions.includes(action.name) || action.name === "comment")
    : actions).filter((action) => action.name !== "comment" || mayComment);
  const finished = FINISHED.has(detail.status);
  const zone = zoneOf(detail.site_id);
  // A live update must not wipe a note the operator is typing, nor take the keyboard from it
  // (the next keys went nowhere), nor fold the actions they opened.
  const typed = [...view.querySelectorAll("form.action [name]")].filter((e) => e.value)
    .map((e) => [e.id, e.value, e.tagName === "TEXTAREA"]);
  const active = view.contains(document.activeElement) && document.activeElement.id ? document.activeElement : null;
  const caret = active && typeof active.selectionStart === "number" ? [active.selectionStart, active.selectionEnd] : null;
  const unfolded = view.querySelector("details.more-actions")?.open === true;
  // Said while the page shows the case as the refusal found it (not once it changes again).
  const meanwhile = state.changedMeanwhile;
  const changed = meanwhile?.id === detail.id && meanwhile.version === detail.version ? meanwhile.text : null;
  view.replaceChildren(h("article", { className: "case-page", "data-case-id": detail.id, "data-status": detail.status,
    "data-version": detail.version ?? "" },
    h("p", {}, h("a", { href: "#/" }, "← cases")),
    h("h2", {}, `#${detail.id} ${label(detail.kind)} `, pill(detail.priority, detail.priority), " ",
      h("span", { id: "case-status", className: `pill status ${detail.status}`, "data-pill": detail.status }, label(detail.status)),
      // Said beside the status, as on its card (its line is under "Details", below the actions).
      detail.escalation_level > 0 ? [" ", pill("escalation", `escalated ${detail.escalation_level}`)] : null),
    h("dl", { className: "facts" },
      h("dt", {}, "Where"), h("dd", {}, detail.location || "—"),
      h("dt", {}, "Devices"), h("dd", {}, h("ul", { id: "case-devices", className: "plain" },
        detail.device_ids.map((device, n) => deviceRecord(device, devices[n])))),
      h("dt", {}, "Opened"), h("dd", {}, when(detail.opened_at, zone)),
      h("dt", {}, "Last alert"), h("dd", {}, when(detail.last_alert_at, zone)),
      h("dt", {}, "Alerts"), h("dd", {}, detail.alert_count),
      "team" in detail ? [h("dt", {}, "Team"), h("dd", { id: "case-team" }, teamText(detail.team, detail.events))] : [],
      // A press taken in by the incident it was part of: the work goes on in that case.
      detail.merged_into ? [h("dt", {}, "Merged into"),
        h("dd", {}, h("a", { id: "merged-into", href: `#/case/${detail.merged_into}` }, `#${detail.merged_into}`))] : []),
    pagesDownBox(down, zone),
    h("section", { className: "actions", "aria-label": "Actions" },
      changed ? h("p", { id: "case-changed", className: "error", role: "alert" }, changed) : null,
      finished ? [
        h("p", { className: "muted" }, detail.status === "resolved"
          ? "This case is resolved: add a note to its record, or reopen it if the problem is back."
          : "This case is closed for good: a note can still be added to its record."),
        AFTER_FINISHED[detail.status].map((name) => offered.find((action) => action.name === name))
          .filter(Boolean).map((action) => actionForm(state, detail.id, action, { after: true })),
      ] : [
        offered.filter((action) => PRIMARY_ACTIONS.has(action.name)).map((action) => actionForm(state, detail.id, action)),
        moreActions(state, detail.id, offered.filter((action) => !PRIMARY_ACTIONS.has(action.name))),
      ]),
    // The rest of what the hub says of the case, below the actions: a dozen lines of it above
    // them (rule, kinds, members, grid, version…) had pushed an SOS's actions below the fold
    // of a 1366×768 laptop.
    extra.length ? h("section", { id: "case-details", "aria-label": "Details" }, h("h3", {}, "Details"),
      h("dl", { className: "facts" },
        extra.map(([key, value]) => [h("dt", {}, label(key)), h("dd", {}, fieldValue(value, zone))]))) : null,
    h("section", { "aria-label": "Readings" }, h("h3", {}, "Readings around the incident"),
      readings ? readingsChart(readings) : h("p", { className: "muted" }, "Readings unavailable.")),
    evidence,
    h("section", {}, h("h3", {}, "Timeline"), timeline(detail, down))));
  // A note whose form is gone (the case was resolved meanwhile) is kept beside the actions.
  const unsent = (state.unsent?.id === detail.id ? state.unsent.notes : []);
  for (const [id, value, note] of typed) {
    const element = document.getElementById(id);
    if (element) element.value = value;
    else if (note && !unsent.includes(value)) unsent.push(value);
  }
  state.unsent = { id: detail.id, notes: unsent };
  if (unsent.length) {
    const box = h("div", { id: "unsent", className: "unsent" }, h("p", {}, "Not sent (copy it to send it again):"),
      unsent.map((note) => h("textarea", { className: "unsent-note", readOnly: true, rows: 2 }, note)),
      h("button", { type: "button", onclick: () => { state.unsent = null; box.remove(); } }, "Dismiss"));
    view.querySelector("section.actions")?.append(box);
  }
  const more = view.querySelector("details.more-actions");
  if (more && unfolded) more.open = true;
  const refocus = active && document.getElementById(active.id);
  if (refocus) {
    refocus.focus();
    if (caret) refocus.setSelectionRange(...caret);
  }
}
