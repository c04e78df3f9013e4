// Device health (#/devices): every registered device's state, battery and last word, and the
// edges' own health (what they stored and not yet delivered, dropped, refused, found
// flooding). Everything comes from /api/v1; data is only ever put into the page as text.

import { api } from "./api.js";
import { ago, h, label, pill, toast, when } from "./dom.js";

// An edge's counters that an operator should see: what it dropped, refused and found flooding.
function edgeTrouble(counters) {
  const rejected = Object.entries(counters)
    .filter(([name]) => name.startsWith("rejected."))
    .reduce((sum, [, n]) => sum + n, 0);
  return { dropped: counters.messages_dropped || 0, rejected, floods: counters.floods_seen || 0 };
}

function edgesTable(edges) {
  if (edges.length === 0) return h("p", { className: "muted" }, "No edge has reported yet.");
  return h("table", { className: "devices edges" },
    h("thead", {}, h("tr", {}, ["Edge", "State", "Last seen", "Outbox", "Dropped", "Refused", "Floods"].map((x) => h("th", {}, x)))),
    h("tbody", {}, edges.map((edge) => {
      const trouble = edgeTrouble(edge.counters || {});
      // Each number says what it counts: on a phone the table's head is not shown.
      const count = (n, what, severity, title) =>
        h("td", { title, "data-count": what }, n > 0 ? pill(severity, String(n)) : "0", " ", h("span", { className: "muted" }, what));
      return h("tr", { "data-edge-id": edge.id, "data-state": edge.state, className: edge.state === "offline" ? "offline" : "" },
        h("td", {}, h("strong", {}, edge.id)),
        h("td", {}, edge.state === "offline" ? pill("critical", "offline") : pill("ok", "online"),
          // Its disk refused these stores (a full or failing SD card): what they hold is lost
          // at a power cut, so the card wants replacing.
          (edge.in_memory || []).length > 0
            ? h("div", { className: "disk-failing", title: "the edge's disk refused to write these; what they hold is lost at a power cut: replace its SD card" },
              pill("critical", `disk failing: ${edge.in_memory.join(", ")} in memory`))
            : null),
        h("td", {}, ago(edge.last_seen)),
        count(edge.outbox_depth, "in outbox", "medium", "alerts stored at the edge, not yet acknowledged by the hub"),
        count(trouble.dropped, "dropped", "high", "device messages dropped because one topic flooded the site broker"),
        count(trouble.rejected, "refused", "medium", "device messages refused: malformed, unknown device, forged"),
        count(trouble.floods, "floods", "high", "windows in which a topic was found flooding"));
    })));
}

// How long the device may be silent before it is shown offline, and why: its edge's
// check-in deadline (the kind's default, configured, or learned from the device's rhythm).
function deadline(row) {
  const hours = row.offline_after_s / 3600;
  const span = hours >= 1 ? `${Math.round(hours * 10) / 10} h` : `${Math.round(row.offline_after_s / 60)} min`;
  return row.checkin_source ? `offline after ${span} (${row.checkin_source})` : `offline after ${span}`;
}

// Retiring a device (replaced, removed, or discovered and registered again under another
// id): two steps, the second with an optional reason; the hub refuses while a case or a
// household still needs it, and says why.
function retireControl(row) {
  const reason = h("input", { name: "reason", maxlength: 500, size: 18, placeholder: "why (optional)", "aria-label": `Why ${row.id} is retired` });
  const form = h("form", {
    className: "retire",
    onsubmit: async (event) => {
      event.preventDefault();
      try {
        await api.retireDevice(row.id, reason.value.trim());
        toast(`${row.id} retired`);
        await renderDevices();
      } catch (error) {
        toast(error.detail || String(error), "error");
      }
    },
  }, reason, h("button", { type: "submit" }, "Retire"));
  return h("details", { className: "retire" }, h("summary", {}, "Retire…"), form);
}

function retiredTable(retired) {
  if (retired === null || retired.length === 0) return null;
  return h("details", { className: "retired-devices" },
    h("summary", {}, `Retired devices (${retired.length})`),
    h("table", { className: "devices retired" },
      h("thead", {}, h("tr", {}, ["Device", "Where", "Retired", "By", "Why"].map((x) => h("th", {}, x)))),
      h("tbody", {}, retired.map((d) => h("tr", { "data-retired-id": d.id },
        h("td", {}, h("strong", {}, d.id), h("div", { className: "muted" }, label(d.kind)),
          // Its edge's last status still gave it a check-in deadline: the edge still lists it
          // (its site file, or a detector it found on its Zigbee network; the hub's registry
          // no longer does) and supervises it.
          d.checkin ? h("div", { className: "still-listed", title: "its faults are kept silent; an alarm from it brings it back" }, pill("medium", `still listed by ${d.edge_id}: remove it from that edge's site file, or its Zigbee network`)) : null),
        h("td", {}, d.location),
        h("td", {}, when(d.retired_at)),
        h("td", {}, d.retired_by || "—"),
        h("td", {}, d.retired_reason || "—"))))));
}

export async function renderDevices() {
  const view = document.getElementById("view");
  // The edges and the retired devices are a second look: a caller who may not read them
  // still gets the devices.
  const [rows, edges, retired] = await Promise.all([
    api.deviceHealth(),
    api.edges().catch(() => null),
    api.retiredDevices().catch(() => null),
  ]);
  view.replaceChildren(h("section", { className: "devices-page" }, h("h2", {}, "Device health"),
    h("table", { className: "devices" },
      h("thead", {}, h("tr", {}, ["Device", "Where", "State", "Battery", "Last seen", "Nuisance", ""].map((x) => h("th", {}, x)))),
      h("tbody", {}, rows.map((row) => h("tr", { "data-device-id": row.id, className: row.offline ? "offline" : "" },
        h("td", {}, h("strong", {}, row.id), h("div", { className: "muted" }, label(row.kind))),
        h("td", {}, row.location),
        h("td", {}, row.offline ? pill("critical", "offline") : pill("ok", "online"),
          row.faults.map((f) => pill("medium", f)), row.battery_low ? pill("medium", "battery low") : null,
          row.unserved_reason ? h("span", { title: row.unserved_reason }, pill("high", "no edge serves it")) : null,
          row.unplaced ? h("span", { className: "unplaced", title: "registered by the hub from its own alarm: register it where it really is, under this id" }, pill("high", "not placed")) : null),
        h("td", {}, row.battery_pct === null ? "—" : `${Math.round(row.battery_pct)} %`),
        h("td", {}, ago(row.last_seen), h("div", { className: "muted checkin" }, deadline(row))),
        h("td", {}, row.nuisance_rate === null ? "—" : `${Math.round(row.nuisance_rate * 100)} %`),
        h("td", {}, retireControl(row)))))),
    retiredTable(retired),
    edges === null ? null : h("h2", {}, "Edges"),
    edges === null ? null : edgesTable(edges)));
}
