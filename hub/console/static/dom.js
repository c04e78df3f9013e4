// Small DOM helpers every console view shares. Data from the hub only ever goes into the page
// as text (never as HTML).

const SVG = "http://www.w3.org/2000/svg";

/** A device's state and its colour, worst first: the site plan's and the map's (the legends'
 * swatches are the same colours as classes in console.css). ``wellbeing`` (a care household
 * with no sign of life: reddish purple) and ``property`` (a water leak: blue) since
 * 2026-12-07, both told from the alarm's red by colour-blind eyes too, and each drawn with
 * its mark (plan.js STATE_MARKS): a leak had been red as an SOS. */
export const STATE_COLOURS = {
  alarm: "#d62728", wellbeing: "#cc79a7", security: "#ff7f0e", property: "#0072b2",
  fault: "#b8860b", silent: "#9e9e9e", ok: "#2ca02c",
};

export function h(tag, attrs, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key === "className") element.className = value;
    else element.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function s(tag, attrs, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null) continue;
    if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else element.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function toast(text, kind = "info") {
  const box = document.getElementById("toast");
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (box.hidden = true), 4000);
}

// Each site's time zone (its roster's, GET /sites): times are shown on the site's clock, not
// the browser's (a desk PC or a kiosk left on UTC read a 22:10 fire as 14:10).
const zones = new Map();
// Which site each edge serves (a site's edge_ids): an alert names its edge, not its site, and
// its case may not be on this screen (finished, or past what the board reads).
const edgeSites = new Map();

/** Remember the sites' time zones and edges ({id, timezone, edge_ids} each). */
export function setZones(sites) {
  zones.clear();
  edgeSites.clear();
  for (const item of sites) {
    if (item.id && item.timezone) zones.set(item.id, item.timezone);
    for (const edge of item.edge_ids || []) if (item.id) edgeSites.set(edge, item.id);
  }
}

/** The site an edge serves, as the hub places a device's cases (its edge's site); undefined
 * when no site this caller sees lists it. */
export function siteOfEdge(edgeId) {
  return edgeSites.get(edgeId);
}

/** The time zone of a site: its own, else the one every known site shares, else the browser's
 * (undefined). */
export function zoneOf(siteId) {
  if (siteId && zones.has(siteId)) return zones.get(siteId);
  const all = new Set(zones.values());
  return all.size === 1 ? [...all][0] : undefined;
}

function dayIn(date, zone) {
  return date.toLocaleDateString("sv-SE", { timeZone: zone }); // 2026-12-07
}

/** A time on ``zone``'s clock (a site's, zoneOf()), as 22:10:05 today and 2026-12-06 22:10:05
 * on another day. */
export function when(value, zone = zoneOf()) {
  if (!value) return "—";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  let timeZone = zone;
  try {
    dayIn(date, timeZone);
  } catch {
    timeZone = undefined; // a zone this browser does not know: its own clock
  }
  const time = date.toLocaleTimeString("en-GB", { hour12: false, timeZone });
  return dayIn(date, timeZone) === dayIn(new Date(), timeZone) ? time : `${dayIn(date, timeZone)} ${time}`;
}

export function ago(value) {
  if (!value) return "never";
  const seconds = Math.max(0, (Date.now() - new Date(value).getTime()) / 1000);
  if (seconds < 60) return `${Math.round(seconds)} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

export function site(location) {
  return (location || "").split("/")[0].trim();
}

export function label(text) {
  return String(text || "").replaceAll("_", " ");
}

export function pill(kind, text) {
  return h("span", { className: `pill ${kind}`, "data-pill": text }, label(text));
}

export function orderOf(list, value) {
  const index = list.indexOf(value);
  return index === -1 ? list.length : index;
}

