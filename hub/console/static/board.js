// The board: the live alert panel beside the columns of cases, by status, with their filters.
// Drawn from the console's state (its cases, live alerts and filters); console.js says when.

import { ago, h, label, orderOf, pill, site, when, zoneOf } from "./dom.js";
import { drawAlerts } from "./alertpanel.js";
import { FINISHED } from "./casepage.js";
import { pageBadge } from "./pages.js";

const STATUS_ORDER = ["open", "acknowledged", "dispatched", "accepted", "in_progress", "escalated", "resolved", "closed"];
export const PRIORITY_ORDER = ["critical", "high", "medium", "low"];
// A column shows this many cards; the rest are counted (2,000 cards in the page would make
// every rebuild slow, and nobody reads past the first screens: the filters narrow the board).
const MAX_CARDS = 200;

/** Keyboard: past the live alerts (up to 50 rows, each a stop for Tab) to the cases' filters. */
function skipToCases() {
  const cases = document.getElementById("cases");
  if (!cases) return;
  const first = cases.querySelector("select, input, button, a[href]");
  (first || cases).focus();
}

export function boardView() {
  const view = h("div", { className: "board-page" },
    h("button", { type: "button", className: "skip", onclick: skipToCases }, "Skip to cases"),
    h("section", { className: "stream", "aria-label": "Live alerts" },
      h("h2", {}, "Live alerts"),
      h("ol", { id: "stream", className: "stream-list" })),
    h("section", { className: "cases", id: "cases", tabindex: "-1", "aria-label": "Cases" },
      h("div", { className: "filters", id: "filters" }),
      h("div", { id: "board", className: "board" })));
  return view;
}

export function renderStream(state) {
  const list = document.getElementById("stream");
  if (!list) return;
  drawAlerts(list, state.stream, state.cases);
}

function filterControl(state, name, labelText, options) {
  const select = h("select", {
    name, "aria-label": labelText,
    onchange: (event) => { state.filters[name] = event.target.value; renderBoard(state); },
  }, options.map(([value, text]) => h("option", { value, selected: state.filters[name] === value }, text)));
  return h("label", {}, h("span", {}, labelText), select);
}

function syncOptions(state, name, options) {
  // Sites and kinds appear as cases arrive: refresh the choices without rebuilding the bar.
  const select = document.querySelector(`#filters select[name="${name}"]`);
  if (!select) return;
  const wanted = options.map(([value]) => value).join("\n");
  const current = [...select.options].map((option) => option.value).join("\n");
  if (wanted === current) return;
  select.replaceChildren(...options.map(([value, text]) => h("option", { value, selected: state.filters[name] === value }, text)));
}

function renderFilters(state, cases) {
  const box = document.getElementById("filters");
  if (!box) return;
  const sites = [["", "any"], ...[...new Set(cases.map((c) => site(c.location)).filter(Boolean))].sort().map((x) => [x, x])];
  const kinds = [["", "any"], ...[...new Set(cases.map((c) => c.kind))].sort().map((x) => [x, label(x)])];
  if (box.childElementCount) {
    syncOptions(state, "site", sites);
    syncOptions(state, "kind", kinds);
    return;
  }
  const statuses = new Set([...STATUS_ORDER.filter((x) => x !== "escalated"), ...cases.map((c) => c.status)]);
  box.append(
    filterControl(state, "status", "Status", [["active", "unfinished"], ["", "all"], ...[...statuses].map((x) => [x, label(x)])]),
    filterControl(state, "priority", "Priority", [["", "any"], ...PRIORITY_ORDER.map((x) => [x, x])]),
    filterControl(state, "site", "Site", sites),
    filterControl(state, "kind", "Kind", kinds),
    h("label", {}, h("span", {}, "Search"),
      h("input", { type: "search", name: "text", value: state.filters.text, placeholder: "device, place",
        oninput: (event) => { state.filters.text = event.target.value.toLowerCase(); renderBoard(state); } })),
  );
}

function matches(filters, item) {
  const f = filters;
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

// Taken on (or sent out) but nobody has accepted to go: the case that looks handled and is not.
const WAITING_FOR_SOMEONE = new Set(["acknowledged", "dispatched", "escalated"]);

// Open again with nobody on it after it was taken on: only a decline (or an acceptance left to
// lapse, which the hub counts as one) sends a taken-on case back to open, and its resident has
// been told someone is coming. Its card had read as any fresh open case.
const SENT_BACK = "Taken on (the resident was told someone is coming), then declined or not accepted in time: nobody is on it";

function nobodyGoing(item) {
  if (item.status === "open" && item.acknowledged_at && Array.isArray(item.team) && item.team.length === 0) {
    const sentBack = pill("nobody-going", "nobody going (declined)");
    sentBack.title = SENT_BACK;
    return sentBack;
  }
  if (!WAITING_FOR_SOMEONE.has(item.status) || !Array.isArray(item.team)) return null;
  if (item.team.some((member) => member.accepted)) return null;
  const asked = item.team.length;
  return pill("nobody-going", asked ? `nobody going (${asked} asked)` : "nobody going");
}

function caseCard(item) {
  const zone = zoneOf(item.site_id);
  return h("a", {
    className: `card ${item.priority}`, href: `#/case/${item.id}`,
    "data-case-id": item.id, "data-status": item.status,
  },
  h("div", { className: "card-head" }, h("strong", {}, label(item.kind)), pill(item.priority, item.priority)),
  h("div", {}, item.location || item.device_ids.join(", ")),
  h("div", { className: "muted" }, `#${item.id} · opened ${when(item.opened_at, zone)} · ${item.alert_count} alert${item.alert_count === 1 ? "" : "s"}, last ${ago(item.last_alert_at)}`),
  h("div", { className: "card-state" }, pill(`status ${item.status}`, item.status),
    item.escalation_level > 0 ? pill("escalation", `escalated ${item.escalation_level}`) : null,
    nobodyGoing(item), pageBadge(item)));
}

export function renderBoard(state) {
  const board = document.getElementById("board");
  if (!board) return;
  // The board is rebuilt on every change: the card the keyboard is on stays the one it is on.
  const focused = board.contains(document.activeElement) ? document.activeElement.dataset.caseId : undefined;
  state.agesAt = Date.now();
  const cases = [...state.cases.values()];
  renderFilters(state, cases);
  const shown = cases.filter((item) => matches(state.filters, item)).sort((a, b) =>
    orderOf(PRIORITY_ORDER, a.priority) - orderOf(PRIORITY_ORDER, b.priority) ||
    new Date(b.updated_at) - new Date(a.updated_at));
  const statuses = [...new Set(shown.map((c) => c.status))].sort((a, b) => orderOf(STATUS_ORDER, a) - orderOf(STATUS_ORDER, b));
  board.replaceChildren(
    ...statuses.map((status) => {
      const column = shown.filter((c) => c.status === status);
      return h("section", { className: "column", "data-column": status },
        h("h3", {}, label(status), " ", h("span", { className: "count" }, column.length)),
        column.slice(0, MAX_CARDS).map(caseCard),
        column.length > MAX_CARDS
          ? h("p", { className: "muted more-cards" }, `and ${column.length - MAX_CARDS} more: narrow the filters to see them`)
          : null);
    }),
  );
  if (shown.length === 0) board.append(h("p", { className: "muted empty" }, "No cases match."));
  if (focused !== undefined) board.querySelector(`[data-case-id="${CSS.escape(focused)}"]`)?.focus();
}
