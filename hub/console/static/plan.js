// The site plan (#/plan): each site's buildings side by side, floors from the top down, a dot
// per device coloured by its state (GET /api/v1/console/site-plan). Two communities may each
// have a "Building 3": the hub keeps each site's buildings apart, and with more than one site
// on the plan each building is named with its site.

import { api } from "./api.js";
import { h, s, STATE_COLOURS } from "./dom.js";

/** Each state's mark, in its legend's swatch as a character and in its dots as the shape
 * ``stateMark`` draws: the state said by a shape too, not by colour alone (a colour-blind eye,
 * a washed-out screen). */
export const STATE_MARKS = { alarm: "!", wellbeing: "♥", security: "▲", property: "≈", fault: "×", silent: "", ok: "" };

/** The path of ``state``'s mark in a dot of radius ``r`` at ``x``, ``y`` (none for ok, silent):
 * drawn, not written, so it needs no font and adds no text to the drawing. */
function markPath(state, x, y, r) {
  const k = (n) => (n * r).toFixed(2);
  switch (state) {
    case "alarm": return [`M${x} ${y - r * 0.6}V${y + r * 0.15}M${x} ${y + r * 0.55}v0.01`, true];
    case "wellbeing": return [`M${x} ${y + r * 0.55}C${x - r} ${y - r * 0.05} ${x - r * 0.4} ${y - r * 0.8} ${x} ${y - r * 0.25}`
      + `C${x + r * 0.4} ${y - r * 0.8} ${x + r} ${y - r * 0.05} ${x} ${y + r * 0.55}Z`, false];
    case "security": return [`M${x} ${y - r * 0.6}L${x + r * 0.55} ${y + r * 0.4}L${x - r * 0.55} ${y + r * 0.4}Z`, false];
    case "property": return [[-0.3, 0.3].map((dy) => `M${x - r * 0.6} ${y + r * dy}q${k(0.3)} ${k(-0.35)} ${k(0.6)} 0t${k(0.6)} 0`).join(""), true];
    case "fault": return [`M${x - r * 0.4} ${y - r * 0.4}L${x + r * 0.4} ${y + r * 0.4}M${x + r * 0.4} ${y - r * 0.4}L${x - r * 0.4} ${y + r * 0.4}`, true];
    default: return null;
  }
}

/** ``state``'s mark as an SVG path, white in a dot of radius ``r`` at ``x``, ``y``, or null. */
export function stateMark(state, x, y, r) {
  const drawn = markPath(state, x, y, r);
  if (!drawn) return null;
  const [d, stroked] = drawn;
  return s("path", { d, class: "mark", "data-mark": state, "pointer-events": "none", fill: stroked ? "none" : "#fff",
    stroke: stroked ? "#fff" : "none", "stroke-width": stroked ? Math.max(1.6, r / 4.5) : 0, "stroke-linecap": "round" });
}

/** What each state is, in the legends' words (hub.console.routes.KIND_STATES): a water leak is
 * "property", not an alarm, and a care household's no-activity check is "wellbeing". */
export const STATE_WORDS = {
  alarm: "alarm (SOS, fire, CO, gas)", wellbeing: "wellbeing (no sign of life)", security: "security",
  property: "property (water leak)", fault: "fault", silent: "silent (never heard)", ok: "ok",
};

/** A legend of the states: each swatch with its mark, then its words (and ``count`` of it). */
export function stateLegend(count = null) {
  return Object.entries(STATE_COLOURS).map(([name, colour]) => h("li", { "data-state": name },
    h("span", { className: `swatch ${name}`, "data-colour": colour, "aria-hidden": "true" }, STATE_MARKS[name] || ""),
    count === null ? STATE_WORDS[name] || name : `${STATE_WORDS[name] || name} (${count(name)})`));
}

export function buildingLabel(building, manySites) {
  if (!manySites || building.site_id === null || building.site_id === undefined) return building.name;
  return `${building.site_name || building.site_id} · ${building.name}`;
}

export async function renderPlan() {
  const view = document.getElementById("view");
  const plan = await api.sitePlan();
  const manySites = new Set(plan.buildings.map((b) => b.site_id ?? null)).size > 1;
  // Buildings side by side as far as the screen allows, then wrapped to the next row: a
  // phone shows one building per row at full size instead of shrinking the dots.
  const GAP = 24, HEAD = 30, DOT = 12, PITCH = 2 * DOT + 6, LABEL = 22;
  const available = Math.max(240, view.clientWidth - 40);
  const COL_W = Math.min(300, available);
  const perRow = Math.max(1, Math.floor((available + GAP) / (COL_W + GAP)));
  const perLine = Math.max(1, Math.floor((COL_W - 12) / PITCH));
  const floorHeight = (floor) => LABEL + Math.ceil(Math.max(1, floor.devices.length) / perLine) * PITCH + 4;
  const buildingHeight = (building) => HEAD + building.floors.reduce((sum, f) => sum + floorHeight(f) + 4, 0);
  const rowsOfBuildings = [];
  for (let i = 0; i < plan.buildings.length; i += perRow) rowsOfBuildings.push(plan.buildings.slice(i, i + perRow));
  const rowHeights = rowsOfBuildings.map((row) => Math.max(...row.map(buildingHeight)) + GAP);
  const width = Math.min(plan.buildings.length || 1, perRow) * (COL_W + GAP);
  const height = Math.max(40, rowHeights.reduce((a, b) => a + b, 0));
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "plan", role: "img", "aria-label": "Site plan" });
  let rowTop = 0;
  rowsOfBuildings.forEach((row, rowIndex) => {
    row.forEach((building, column) => {
      const x0 = column * (COL_W + GAP);
      const group = s("g", { class: "plan-building", "data-building": building.name, "data-site": building.site_id ?? "" });
      group.append(s("text", { x: x0 + 4, y: rowTop + HEAD - 10, class: "building" }, buildingLabel(building, manySites),
        building.hazards ? ` ⚠ ${building.hazards}` : ""));
      let y0 = rowTop + HEAD;
      building.floors.forEach((floor) => {
        const fh = floorHeight(floor);
        group.append(s("rect", { x: x0, y: y0, width: COL_W, height: fh, rx: 4, class: "floor" }),
          s("text", { x: x0 + 6, y: y0 + 15, class: "floor-name" }, floor.name));
        floor.devices.forEach((device, index) => {
          const cx = x0 + 6 + DOT + (index % perLine) * PITCH;
          const cy = y0 + LABEL + DOT + Math.floor(index / perLine) * PITCH;
          const go = () => { if (device.case_ids.length) location.hash = `#/case/${device.case_ids[device.case_ids.length - 1]}`; };
          const where = building.site_name ? `${building.site_name}: ${device.location}` : device.location;
          const dot = s("g", { class: `device ${device.state}`, "data-device-id": device.id, "data-state": device.state, "data-site": device.site_id ?? "", onclick: go, tabindex: 0 },
            s("title", {}, `${device.id} (${device.kind}) ${where}: ${STATE_WORDS[device.state] || device.state}${device.offline ? " (nothing heard past its check-in deadline)" : ""}`),
            s("circle", { cx, cy, r: DOT - 2, fill: STATE_COLOURS[device.state] || "#666" }),
            stateMark(device.state, cx, cy, DOT - 2));
          if (device.hazard) {
            dot.append(s("circle", { cx, cy, r: DOT + 1, fill: "none", stroke: "#d62728", "stroke-width": 2, class: "hazard" }));
          }
          group.append(dot);
        });
        y0 += fh + 4;
      });
      svg.append(group);
    });
    rowTop += rowHeights[rowIndex];
  });
  const legend = h("ul", { className: "legend" }, stateLegend((name) => plan.counts[name] || 0),
    h("li", {}, "ringed: a person in danger"));
  view.replaceChildren(h("section", { className: "plan-page" }, h("h2", {}, "Site plan"), legend,
    h("div", { className: "plan-scroll" }, svg),
    plan.buildings.length === 0 ? h("p", { className: "muted" }, "No devices registered yet.") : null));
}
