// The map (PRODUCT.md, "The map"): each site's buildings, hazard sources and key places where
// its roster's map puts them, coloured by the worst state of their devices, and the
// responders where their phones last said they were (docs/positions.md). Everything comes from
// /api/v1 (sites, positions, the site plan's devices); data is only ever put in as text.

import { api } from "./api.js";
import { ago, h, s, STATE_COLOURS } from "./dom.js";

const WORST_FIRST = Object.keys(STATE_COLOURS);
const FRESH_MS = 10 * 60 * 1000; // as dispatch counts a position (hub.positions.rules.FRESH_FOR)
const EARTH_RADIUS_M = 6371008.8;

function within(location, place) {
  return location === place || location.startsWith(`${place}/`);
}

/** The map place whose path is the longest one containing ``location``. */
function placeOf(places, location) {
  let best = null;
  for (const place of places) {
    if (within(location, place.place) && (!best || place.place.length > best.place.length)) best = place;
  }
  return best;
}

function distanceM(a, b) {
  const rad = Math.PI / 180;
  const dPhi = (b.lat - a.lat) * rad, dLambda = (b.lon - a.lon) * rad;
  const x = Math.sin(dPhi / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLambda / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(x)));
}

function marker(place, x, y, colour) {
  const size = 9;
  if (place.kind === "hazard_source") {
    return s("polygon", { points: `${x},${y - size - 2} ${x + size + 2},${y} ${x},${y + size + 2} ${x - size - 2},${y}`, fill: colour, stroke: "#333" });
  }
  if (place.kind === "key_place") return s("circle", { cx: x, cy: y, r: size, fill: colour, stroke: "#333" });
  return s("rect", { x: x - size, y: y - size, width: 2 * size, height: 2 * size, rx: 2, fill: colour, stroke: "#333" });
}

export async function renderMap(view) {
  const [sites, positions, plan] = await Promise.all([api.sites(), api.positions(), api.sitePlan()]);
  if (!location.hash.startsWith("#/map")) return; // left meanwhile
  const places = sites.flatMap((site) => site.map.map((place) => ({ ...place, site_id: site.id })));
  const devices = plan.buildings.flatMap((b) => b.floors.flatMap((f) => f.devices));
  const states = new Map();
  for (const device of devices) {
    const place = placeOf(places, device.location);
    if (!place) continue;
    const key = `${place.site_id}|${place.place}`;
    const known = states.get(key);
    if (!known || WORST_FIRST.indexOf(device.state) < WORST_FIRST.indexOf(known)) states.set(key, device.state);
  }
  const now = Date.now();
  const shown = positions.map((p) => ({ ...p, fresh: now - new Date(p.at).getTime() <= FRESH_MS }));
  const points = [...places, ...shown];
  if (points.length === 0) {
    view.replaceChildren(h("section", { className: "plan-page map-page" }, h("h2", {}, "Map"),
      h("p", { className: "muted", id: "no-map" }, "No site has a map yet: list its places with their coordinates on the roster (docs/positions.md).")));
    return;
  }
  // An equirectangular projection around the middle: exact enough for a community.
  const lats = points.map((p) => p.lat), lons = points.map((p) => p.lon);
  const midLat = (Math.min(...lats) + Math.max(...lats)) / 2;
  const xScale = Math.cos((midLat * Math.PI) / 180);
  const span = Math.max((Math.max(...lons) - Math.min(...lons)) * xScale, Math.max(...lats) - Math.min(...lats), 0.0005);
  const WIDTH = Math.max(320, Math.min(900, view.clientWidth - 40)), PAD = 60;
  const scale = (WIDTH - 2 * PAD) / span;
  const x = (p) => PAD + (p.lon - Math.min(...lons)) * xScale * scale;
  const y = (p) => PAD + (Math.max(...lats) - p.lat) * scale;
  const HEIGHT = Math.max(240, (Math.max(...lats) - Math.min(...lats)) * scale + 2 * PAD);
  const svg = s("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, width: WIDTH, height: HEIGHT, class: "plan map", role: "img", "aria-label": "Map" });
  for (const place of places) {
    const state = states.get(`${place.site_id}|${place.place}`) || "none";
    const px = x(place), py = y(place);
    svg.append(s("g", { class: `place ${place.kind}`, "data-place": place.place, "data-site": place.site_id, "data-state": state,
      onclick: () => { location.hash = "#/plan"; } },
    s("title", {}, `${place.place} (${place.kind.replaceAll("_", " ")}, ${place.site_id}): ${state === "none" ? "no devices" : state}`),
    marker(place, px, py, STATE_COLOURS[state] || "#ffffff"),
    s("text", { x: px + 14, y: py + 4, class: "building" }, place.place)));
  }
  for (const p of shown) {
    const px = x(p), py = y(p);
    svg.append(s("g", { class: "responder", "data-responder": p.responder_id, "data-fresh": String(p.fresh) },
      s("title", {}, `${p.responder_id}: ${ago(p.at)}${p.accuracy_m ? `, ±${Math.round(p.accuracy_m)} m` : ""}`),
      s("circle", { cx: px, cy: py, r: 6, fill: p.fresh ? "#1f4e79" : "none", stroke: "#1f4e79", "stroke-width": 2 }),
      s("text", { x: px + 9, y: py - 8, class: "floor-name" }, p.responder_id)));
  }
  const rows = shown.map((p) => {
    const ofSite = places.filter((place) => place.site_id === p.site_id);
    const nearest = ofSite.map((place) => [place, distanceM(p, place)]).sort((a, b) => a[1] - b[1])[0];
    return h("tr", { "data-responder": p.responder_id },
      h("td", {}, p.responder_id), h("td", {}, p.site_id || "—"),
      h("td", {}, nearest ? `${nearest[0].place}, ${Math.round(nearest[1])} m` : "—"),
      h("td", {}, ago(p.at), p.fresh ? null : h("span", { className: "muted" }, " (too old to dispatch by)")));
  });
  const legend = h("ul", { className: "legend" },
    Object.keys(STATE_COLOURS).map((name) => h("li", {}, h("span", { className: `swatch ${name}` }), name)),
    h("li", {}, "■ building · ◆ hazard source · ● key place · ◉ responder"));
  view.replaceChildren(h("section", { className: "plan-page map-page" }, h("h2", {}, "Map"), legend,
    h("div", { className: "plan-scroll" }, svg),
    h("h3", {}, "Responders"),
    rows.length
      ? h("table", { className: "devices responders" },
          h("thead", {}, h("tr", {}, ["Responder", "Site", "Nearest place", "Position"].map((t) => h("th", {}, t)))),
          h("tbody", {}, rows))
      : h("p", { className: "muted" }, "No responder's phone has reported yet (OwnTracks: docs/positions.md).")));
}
