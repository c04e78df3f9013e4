// Statistics up the chain (用数据说话): a month's figures of the caller's sites, grouped by
// district, street, community, grid or category, and the cases that climbed the ladder
// (docs/statistics.md). Everything comes from GET /api/v1/statistics; data is only ever put
// into the page as text.

import { api, ApiError } from "./api.js";
import { h, label, toast, when } from "./dom.js";

const GROUPINGS = [["site", "community"], ["street", "street"], ["district", "district"], ["grid", "grid"], ["category", "category"]];
const chosen = { month: null, by: "site", shown: 0 };

function thisMonth() {
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}`;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

function share(value) {
  return value === null || value === undefined ? "—" : `${Math.round(value * 100)} %`;
}

function figureCells(f) {
  return [
    h("td", { "data-figure": "opened" }, f.opened),
    h("td", { "data-figure": "resolved" }, f.resolved),
    h("td", { "data-figure": "active" }, f.active),
    h("td", { "data-figure": "overdue" }, f.overdue, f.opened ? h("span", { className: "muted" }, ` (${share(f.overdue_rate)})`) : null),
    h("td", { "data-figure": "response" }, `${duration(f.response_p50_s)} / ${duration(f.response_p90_s)}`),
    h("td", { "data-figure": "closure" }, `${duration(f.closure_p50_s)} / ${duration(f.closure_p90_s)}`),
    h("td", { "data-figure": "false-alarms" }, share(f.false_alarm_rate)),
    h("td", { "data-figure": "rating" }, f.rating_mean === null ? "—" : `${f.rating_mean.toFixed(1)} (${f.ratings})`),
  ];
}

export async function renderStatistics(view) {
  chosen.month = chosen.month || thisMonth();
  const form = h("form", { className: "action", id: "statistics-period" },
    h("label", {}, "Month", h("input", { type: "month", name: "month", value: chosen.month, required: true })),
    h("label", {}, "Group by",
      h("select", { name: "by" }, GROUPINGS.map(([value, text]) => h("option", { value, selected: value === chosen.by }, text)))),
    h("button", { type: "submit" }, "Show"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    chosen.month = String(data.get("month") || thisMonth());
    chosen.by = String(data.get("by") || "site");
    renderStatistics(view).catch((error) => toast(error instanceof ApiError ? error.detail : String(error), "error"));
  });
  const asked = ++chosen.shown;
  // Each community's month in its own time zone (the hub cuts it); a case of no site in the
  // browser's.
  const timezone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const report = await api.statistics({ month: chosen.month, timezone, by: chosen.by });
  // Only the latest question's answer, and only while this page is still the one shown.
  if (asked !== chosen.shown || !location.hash.startsWith("#/statistics")) return;
  const head = ["", "Opened", "Resolved", "Active", "Overdue", "Taken on p50 / p90", "Resolved in p50 / p90", "False alarms", "Rating"];
  // A category reads as words; a community, street, district or grid by its name as the
  // roster spells it (lan_yuan is not "lan yuan"), a street with its district (两个区 may each
  // have a 新华街道: two groups).
  const name = (key) => (report.by === "category" ? label(key) : key);
  const rows = report.groups.map((g) => h("tr", { "data-group": g.key ?? "", "data-district": g.district ?? "" },
    h("th", { scope: "row" }, g.key === null ? h("span", { className: "muted" }, `no ${label(report.by === "site" ? "community" : report.by)}`) : name(g.key),
      g.district ? h("span", { className: "muted" }, ` (${g.district})`) : null),
    figureCells(g.figures)));
  const overdue = report.overdue.map((c) => h("tr", { "data-case-id": c.id },
    h("td", {}, h("a", { href: `#/case/${c.id}` }, `#${c.id}`)),
    h("td", {}, label(c.category)),
    h("td", {}, [c.site_id, c.grid_id].filter(Boolean).join(" · ") || "—"),
    h("td", {}, c.street || "—"),
    h("td", {}, when(c.opened_at)),
    h("td", {}, label(c.status)),
    h("td", {}, `climbed ${c.escalations}×, now at level ${c.escalation_level}`)));
  view.replaceChildren(h("section", { className: "residents-page statistics-page" },
    h("h2", {}, "Statistics"), form,
    h("table", { className: "devices statistics" },
      h("thead", {}, h("tr", {}, head.map((x) => h("th", {}, x)))),
      h("tbody", {}, rows),
      h("tfoot", {}, h("tr", { "data-group": "total" }, h("th", { scope: "row" }, "All"), figureCells(report.total)))),
    h("h3", {}, "Overdue: climbed the ladder"),
    overdue.length
      ? h("table", { className: "devices overdue" },
          h("thead", {}, h("tr", {}, ["", "Category", "Community · grid", "Street", "Opened", "Status", ""].map((x) => h("th", {}, x)))),
          h("tbody", {}, overdue))
      : h("p", { className: "muted", id: "no-overdue" }, "Nothing overdue this month.")));
}
