// The map (PRODUCT.md, "The map"): each site's buildings, hazard sources and key places where
// its roster's map puts them, coloured by the worst state of their devices, and the
// responders where their phones last said they were (docs/positions.md). Places, positions
// and devices' states come from /api/v1 (sites, positions, the site plan's devices, the
// roster's responders), read again every REFRESH_MS; the unfinished cases are the ones the
// console keeps from its live stream (console.js), drawn again as they change. Data is only
// ever put in as text.

import { api, ApiError } from "./api.js";
import { ago, h, label, orderOf, pill, s, STATE_COLOURS, when } from "./dom.js";
import { STATE_WORDS, stateLegend, stateMark } from "./plan.js";

const WORST_FIRST = Object.keys(STATE_COLOURS);
const FRESH_MS = 10 * 60 * 1000; // as dispatch counts a position (hub.positions.rules.FRESH_FOR)
const EARTH_RADIUS_M = 6371008.8;
const NEAR_M = 2000; // a community and the streets round it
const VAGUE_M = 100; // a fix too vague to put anyone on site (hub.positions.rules.ON_SITE_MAX_ACCURACY_M)
const UNFINISHED = ["open", "acknowledged", "dispatched", "accepted", "in_progress"];
const PRIORITY_ORDER = ["critical", "high", "medium", "low"];
const CASES_MIN_PX = 360; // the open cases beside the map (console.css .map-layout)

/** A location path's parts as places compare (devices/location.py's ``folded``): NFKC (a
 * Chinese input method's full-width ``３号楼`` is ``3号楼``), case-folded, white space collapsed. */
function foldedParts(path) {
  return String(path).split("/").map((part) => part.normalize("NFKC").toLowerCase().split(/\s+/).filter(Boolean).join(" "));
}

function within(location, place) {
  return place.length <= location.length && place.every((part, i) => part === location[i]);
}

/** The place of ``places`` (one site's) whose path is the longest one containing ``location``,
 * as the hub places a case (hub.positions.rules.place_coordinates). */
function placeOf(places, location) {
  const here = foldedParts(location);
  let best = null, depth = 0;
  for (const place of places) {
    const path = foldedParts(place.place);
    if (within(here, path) && path.length > depth) [best, depth] = [place, path.length];
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

const REFRESH_MS = 15 * 1000; // phones post every 30 s (simulators/patrols.py); cases come any time
const METRES_PER_DEGREE_LAT = (Math.PI / 180) * EARTH_RADIUS_M;
// ``shown``: the hub's last answers drawn and when they came, to draw again, aged, while it
// does not answer (its server down, the control room's link cut); ``stale``: it has not
// answered since. ``cases``: the cases the console keeps (every unfinished one it may see,
// as its stream changes them); ``drawn``: which of them, at which versions, the map shows.
const refresh = { drawing: 0, timer: null, shown: null, stale: false, cases: () => [], drawn: "" };

/** Draw the map into ``view`` and keep it current while it is shown: places' states and
 * patrols walking on are read again every ``REFRESH_MS`` (nothing pushes devices' states or
 * phones' positions to this page); a case that opens, changes or is resolved is drawn at
 * once from ``cases()`` (the console's, which its stream keeps: ``casesChanged``), without
 * reading every unfinished case again. ``again``: a refresh's tick, not the operator coming
 * to the map (whose first drawing starts from the hub's answers alone). */
export async function renderMap(view, cases = null, again = false) {
  clearTimeout(refresh.timer);
  if (cases) refresh.cases = cases;
  if (!again) refresh.shown = null;
  const drawing = ++refresh.drawing;
  const latest = () => drawing === refresh.drawing && location.hash.startsWith("#/map");
  try {
    await drawMap(view, latest);
  } finally {
    // Only the latest drawing schedules the next, and only while the map is still shown.
    if (latest()) {
      refresh.timer = setTimeout(() => {
        // Not once the map is gone from the view: the sign-in form after the session ended
        // (redrawn on every tick, it lost what the operator was typing).
        if (latest() && view.querySelector(".map-page")) {
          renderMap(view, null, true).catch(() => {}); // the next tick tries again
        }
      }, REFRESH_MS);
    }
  }
}

async function drawMap(view, latest) {
  let answers;
  try {
    answers = await Promise.all([api.sites(), api.positions(), api.sitePlan(), roster()]);
  } catch (error) {
    // The hub not answering: the map shown so far is drawn again, aged and saying so. Left as
    // it was, it showed a patrol "30 s ago" and fresh for as long as the screen stayed on,
    // though dispatch had long stopped counting his position (found by an outside review).
    // Not over the sign-in form (the session ended: the hub did answer), nor before a first
    // drawing (the console shows the error).
    const signedOut = error instanceof ApiError && error.status === 401;
    if (!latest() || refresh.shown === null || signedOut || !view.querySelector(".map-page")) throw error;
    refresh.stale = true;
    drawFrom(view, refresh.shown.answers, refresh.shown.at);
    return;
  }
  if (!latest()) return; // left meanwhile, or a later drawing under way
  refresh.shown = { answers, at: Date.now() };
  refresh.stale = false;
  drawFrom(view, answers);
}

/** The console's cases changed (its stream, or its reading of them again): the map shown in
 * ``view`` is drawn again from them and the hub's last answers, at once; nothing is read. */
export function casesChanged(view) {
  if (refresh.shown === null || !location.hash.startsWith("#/map") || !view.querySelector(".map-page")) return;
  // The cases all read again as they were (the stream reconnected): nothing to draw anew. A
  // drawing rebuilds the map under the operator's mouse and keyboard.
  if (casesDrawn(unfinishedCases()) === refresh.drawn) return;
  drawFrom(view, refresh.shown.answers, refresh.stale ? refresh.shown.at : null);
}

/** The roster's responders the caller may see, or null when it may not read them (the map
 * is drawn all the same, without the responders no phone placed). */
async function roster() {
  try {
    return await api.responders();
  } catch (error) {
    if (error instanceof ApiError && (error.status === 403 || error.status === 404)) return null;
    throw error;
  }
}

const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/** A responder's on-call shifts as the roster gives them ("Mon Tue 22:00–06:00"), in their
 * site's time; none: always on call. */
function shiftsOf(responder) {
  const shifts = responder.shifts || [];
  if (shifts.length === 0) return "always on call";
  const hm = (t) => String(t).slice(0, 5);
  return `on call ${shifts.map((x) => `${x.days.map((d) => DAYS[d]).join(" ")} ${hm(x.start)}–${hm(x.end)}`).join(", ")}`;
}

/** Which cases, at which versions (each change raises a case's), a drawing shows. */
function casesDrawn(cases) {
  return cases.map((item) => `${item.id}:${item.version}`).sort().join(",");
}

/** The unfinished cases of those the console keeps (it reads every unfinished one the caller
 * may see, and its stream keeps them current). */
function unfinishedCases() {
  return [...refresh.cases()].filter((item) => UNFINISHED.includes(item.status) && !item.merged_into);
}

/** A case's kind as the map names it ("SOS", "smoke", "water leak"). */
function kindName(kind) {
  return kind === "sos" ? "SOS" : label(kind);
}

function lifeSafety(item) {
  return item.category === "life_safety";
}

/** Most urgent first: a person in danger (an SOS, a fire), then by priority, then the latest
 * changed (as the board orders a column). */
function urgency(a, b) {
  return Number(lifeSafety(b)) - Number(lifeSafety(a))
    || orderOf(PRIORITY_ORDER, a.priority) - orderOf(PRIORITY_ORDER, b.priority)
    || new Date(b.updated_at) - new Date(a.updated_at);
}

/** The case a place leads to first, of its unfinished ones: the highest priority, then one
 * nobody has answered yet (no person took it on: ``acknowledged_at``; dispatching by area
 * alone is no answer) before those taken on, the longest waiting first. */
function firstToAnswer(a, b) {
  return orderOf(PRIORITY_ORDER, a.priority) - orderOf(PRIORITY_ORDER, b.priority)
    || Number(Boolean(a.acknowledged_at)) - Number(Boolean(b.acknowledged_at))
    || new Date(a.opened_at) - new Date(b.opened_at)
    || a.id - b.id;
}

/** A fix's reported accuracy as the map lists it (the hub ranks by distance plus accuracy). */
function give(p) {
  return p.accuracy_m ? ` ±${Math.round(p.accuracy_m)} m` : "";
}

/** Where the map's labels may go, tried in turn: beside their marker, then round it.
 * [dx, dy, text-anchor] from the marker's centre, ``r`` its reach. */
function spotsAround(r) {
  return [[r, 4, "start"], [-r, 4, "end"], [0, -r, "middle"], [0, r + 10, "middle"],
    [r, -r + 2, "start"], [r, r + 6, "start"], [-r, -r + 2, "end"], [-r, r + 6, "end"]];
}

function overlap(a, b) {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x) + 2;
  const hgt = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y) + 2;
  return w > 0 && hgt > 0 ? w * hgt : 0;
}

/** Put each label (most urgent first) where it lies over no label put before, no marker and
 * not past the map's edge, else where it lies over the least: labels written side by side
 * from the marker alone overlapped (a patrol at a building's door wrote his name over its
 * name). Measured as drawn (a Chinese name is wider than its letters count). */
function placeLabels(labels, markers, width, height) {
  const taken = markers.map((m) => m.getBBox());
  for (const { text, x, y, spots } of labels) {
    let best = null;
    for (const [dx, dy, anchor] of spots) {
      text.setAttribute("x", x + dx);
      text.setAttribute("y", y + dy);
      text.setAttribute("text-anchor", anchor);
      const box = text.getBBox();
      const outside = box.x < 0 || box.y < 0 || box.x + box.width > width || box.y + box.height > height;
      const cost = (outside ? 1e9 : 0) + taken.reduce((sum, other) => sum + overlap(box, other), 0);
      if (best === null || cost < best.cost) best = { cost, dx, dy, anchor, box };
      if (cost === 0) break;
    }
    text.setAttribute("x", x + best.dx);
    text.setAttribute("y", y + best.dy);
    text.setAttribute("text-anchor", best.anchor);
    taken.push(best.box);
  }
}

/** Draw the hub's ``answers`` (sites, positions, site plan, roster) and the console's
 * unfinished cases, aged to now; ``answeredAt``: when the answers came, if the hub has not
 * answered since. */
function drawFrom(view, answers, answeredAt = null) {
  const [sites, positions, plan, responders] = answers;
  const cases = unfinishedCases();
  refresh.drawn = casesDrawn(cases);
  const stale = answeredAt === null ? null
    : h("p", { className: "error", id: "map-stale" }, `The hub has not answered since ${when(new Date(answeredAt).toISOString())}: places' states and responders' positions as of then; trying again.`);
  const listed = sites.flatMap((site) => site.map.map((place) => ({ ...place, site_id: site.id })));
  // 0, 0 is a roster's placeholder (the Gulf of Guinea is no community's): drawn, it would
  // stretch the map over half the earth and squeeze every real place into one dot.
  const unplaced = listed.filter((place) => place.lat === 0 && place.lon === 0);
  const places = listed.filter((place) => !unplaced.includes(place));
  const notOnMap = unplaced.length
    ? h("p", { className: "muted", id: "unplaced" }, `Not on the map (0, 0 on the roster): ${unplaced.map((p) => `${p.place} (${p.site_id})`).join(", ")}`)
    : null;
  const keyOf = (place) => `${place.site_id}|${place.place}`;
  // Places are named within their site (another community's Building 3 is another place):
  // each plan device carries its site as the hub finds it (hub.roster.rules.site_of_device).
  const devices = plan.buildings.flatMap((b) => b.floors.flatMap((f) => f.devices));
  const states = new Map();
  for (const device of devices) {
    const site = device.site_id;
    const place = site == null ? null : placeOf(listed.filter((p) => p.site_id === site), device.location);
    if (!place) continue;
    const key = keyOf(place);
    const known = states.get(key);
    if (!known || WORST_FIRST.indexOf(device.state) < WORST_FIRST.indexOf(known)) states.set(key, device.state);
  }
  // Each unfinished case at its place, as the hub places it (its site's place containing its
  // location), most urgent first: a place leads to its most urgent case, and says an SOS or
  // a fire in words, not by its red alone (an unknown kind is red too).
  const ordered = [...cases].sort(urgency);
  const placeOfCase = new Map(ordered.map((item) => [item.id, item.site_id == null || !item.location ? null
    : placeOf(places.filter((p) => p.site_id === item.site_id), item.location)]));
  const casesAt = new Map();
  for (const item of ordered) {
    const place = placeOfCase.get(item.id);
    if (place) casesAt.set(keyOf(place), [...(casesAt.get(keyOf(place)) || []), item]);
  }
  const now = Date.now();
  // A phone more than NEAR_M from every place (its last fix from home, or from leave) is
  // listed, not drawn: drawn, it would squeeze the community into a dot.
  const far = (p) => places.length > 0 && places.every((place) => distanceM(p, place) > NEAR_M);
  const shown = positions.map((p) => ({ ...p, fresh: now - new Date(p.at).getTime() <= FRESH_MS, far: far(p) }));
  const drawn = shown.filter((p) => !p.far);
  const points = [...places, ...drawn];
  const caseList = h("section", { className: "map-cases", id: "map-cases", "aria-label": "Open cases" },
    h("h3", {}, `Open cases (${ordered.length})`),
    ordered.length === 0 ? h("p", { className: "muted" }, "No open case.")
      : h("ol", {}, ordered.map((item) => {
          const place = placeOfCase.get(item.id);
          return h("li", { className: lifeSafety(item) ? "life-safety" : null },
            h("a", { href: `#/case/${item.id}`, "data-case-id": item.id },
              lifeSafety(item) ? "⚠ " : "", h("strong", {}, kindName(item.kind)), ` — ${item.location || item.place || "no place"}`,
              place ? null : h("span", { className: "muted" }, " (not on the map)")),
            " ", pill(item.priority, item.priority), " ", pill(`status ${item.status}`, item.status));
        })));
  // Where the operator had scrolled the open cases to (they scroll on their own beside the
  // map): each drawing had sent them back to their top.
  const listTop = view.querySelector("#map-cases")?.scrollTop || 0;
  if (points.length === 0) {
    view.replaceChildren(h("section", { className: "plan-page map-page" }, h("h2", {}, "Map"),
      h("p", { className: "muted", id: "no-map" }, "No site has a map yet: list its places with their coordinates on the roster (docs/positions.md)."), stale, notOnMap, caseList));
    caseList.scrollTop = listTop;
    return;
  }
  const positioned = shown.map((p) => {
    const ofSite = places.filter((place) => place.site_id === p.site_id);
    const nearest = ofSite.map((place) => [place, distanceM(p, place)]).sort((a, b) => a[1] - b[1])[0];
    return h("tr", { "data-responder": p.responder_id, "data-far": String(p.far) },
      h("td", {}, p.responder_id), h("td", {}, p.site_id || "—"),
      h("td", {}, nearest ? `${nearest[0].place}, ${Math.round(nearest[1])} m${give(p)}` : "—",
        p.far ? h("span", { className: "muted" }, " (off the map)") : null),
      h("td", {}, ago(p.at), p.fresh ? null : h("span", { className: "muted" }, " (too old to dispatch by)")));
  });
  // The roster's active responders whose phone the hub holds no position of: not drawn, they
  // had not been listed either (a patrol on duty with OwnTracks off was nobody there). The
  // roster does not say who is on call now: every active one is listed, with their shifts.
  const placed = new Set(positions.map((p) => p.responder_id));
  const unseen = (responders || []).filter((r) => r.active !== false && !placed.has(r.id))
    .sort((a, b) => String(a.site_id).localeCompare(String(b.site_id)) || String(a.id).localeCompare(String(b.id)));
  const rows = [...positioned, ...unseen.map((r) => h("tr", { className: "no-position", "data-responder": r.id, "data-position": "none" },
    h("td", {}, r.id, r.name && r.name !== r.id ? h("span", { className: "muted" }, ` (${r.name})`) : null),
    h("td", {}, r.site_id || "—"), h("td", {}, "—"),
    h("td", {}, h("strong", {}, "no position reported"), h("span", { className: "muted" }, ` · ${shiftsOf(r)}`))))];
  const unseenNote = unseen.length
    ? h("p", { className: "muted", id: "no-position-note" }, `${unseen.length} responder${unseen.length > 1 ? "s" : ""} on the roster with no position reported: their phone sent none the hub keeps (OwnTracks off, or off call). The hub does not say who is on call now: every active responder of the roster is listed, with their shifts.`)
    : null;
  const legend = h("ul", { className: "legend" }, stateLegend(),
    h("li", {}, "■ building · ◆ hazard source · ● key place · ◉ responder · ⚠ ringed: SOS, fire, gas (a person in danger)"));
  const scroll = h("div", { className: "plan-scroll" });
  // The keyboard's place (a place, or a case's link) is found again after the drawing: every
  // 15 s the map is drawn anew, which had sent the focus back to the page's top.
  const focused = document.activeElement;
  const refocus = focused && view.contains(focused)
    ? focused.dataset.caseId ? `#map-cases a[data-case-id="${CSS.escape(focused.dataset.caseId)}"]`
      : focused.dataset.place ? `g.place[data-site="${CSS.escape(focused.dataset.site)}"][data-place="${CSS.escape(focused.dataset.place)}"]` : null
    : null;
  view.replaceChildren(h("section", { className: "plan-page map-page" }, h("h2", {}, "Map"), stale, legend,
    h("div", { className: "map-layout" }, h("div", { className: "map-area" }, scroll), caseList), notOnMap,
    h("h3", {}, "Responders"),
    positioned.length ? null : h("p", { className: "muted" }, "No responder's phone has reported yet (OwnTracks: docs/positions.md)."),
    rows.length
      ? h("table", { className: "devices responders" },
          h("thead", {}, h("tr", {}, ["Responder", "Site", "Nearest place", "Position"].map((t) => h("th", {}, t)))),
          h("tbody", {}, rows))
      : null, unseenNote));
  // Sized to the room it has on this screen, across and down: drawn 900 px tall whatever
  // the window, a 1366×768 laptop showed its bottom row (an SOS there) only when scrolled.
  const PAD = 60;
  // Beside the open cases on a wide screen (console.css: the map its width, the cases the rest).
  const layout = scroll.closest(".map-layout");
  const beside = window.matchMedia("(min-width: 1100px)").matches ? CASES_MIN_PX + 12 : 0;
  const roomX = Math.max(320, layout.clientWidth - beside - 16);
  const roomY = Math.max(320, window.innerHeight - (scroll.getBoundingClientRect().top + window.scrollY) - 24);
  // An equirectangular projection around the middle: exact enough for a community.
  const lats = points.map((p) => p.lat), lons = points.map((p) => p.lon);
  const midLat = (Math.min(...lats) + Math.max(...lats)) / 2;
  const xScale = Math.cos((midLat * Math.PI) / 180);
  const spanX = (Math.max(...lons) - Math.min(...lons)) * xScale, spanY = Math.max(...lats) - Math.min(...lats);
  const scale = Math.min((roomX - 2 * PAD) / Math.max(spanX, 1e-9), (roomY - 2 * PAD) / Math.max(spanY, 1e-9),
    (Math.min(roomX, roomY) - 2 * PAD) / 0.0005); // a lone place: some 55 m across
  const WIDTH = Math.min(roomX, Math.max(320, spanX * scale + 2 * PAD));
  const HEIGHT = Math.max(240, spanY * scale + 2 * PAD);
  const x = (p) => PAD + (p.lon - Math.min(...lons)) * xScale * scale;
  const y = (p) => PAD + (Math.max(...lats) - p.lat) * scale;
  const svg = s("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, width: WIDTH, height: HEIGHT, class: "plan map", role: "img", "aria-label": "Map" });
  scroll.append(svg);
  const labels = [], markers = [];
  for (const place of places) {
    const state = states.get(keyOf(place)) || "none";
    const here = casesAt.get(keyOf(place)) || [];
    const danger = [...new Set(here.filter(lifeSafety).map((item) => kindName(item.kind)))];
    const px = x(place), py = y(place);
    // A place leads to its most urgent unfinished case (an operator at the map goes to the
    // fire, not to a plan to find it again); a place with none, to the site plan (its
    // devices). All its cases are listed beside the map, each a link.
    const lead = [...here].sort(firstToAnswer)[0];
    const target = lead ? `#/case/${lead.id}` : "#/plan";
    const go = () => { location.hash = target; };
    const says = `${place.place} (${place.kind.replaceAll("_", " ")}, ${place.site_id}): ${state === "none" ? "no devices" : STATE_WORDS[state] || state}`
      + (danger.length ? `, ${danger.join(", ")}` : "") + (here.length ? `, ${here.length} open case${here.length > 1 ? "s" : ""}` : "")
      + (lead ? `; opens its ${lead.priority} ${kindName(lead.kind)} case` : "; opens the site plan");
    const mark = marker(place, px, py, STATE_COLOURS[state] || "#ffffff");
    const text = s("text", { x: px + 14, y: py + 4, class: "building" }, place.place,
      danger.length ? s("tspan", { class: "danger" }, ` ⚠ ${danger.join(", ")}`) : null,
      here.length ? s("tspan", { class: "count" }, ` (${here.length})`) : null);
    svg.append(s("g", { class: `place ${place.kind}`, "data-place": place.place, "data-site": place.site_id, "data-state": state,
      "data-danger": String(danger.length > 0), "data-leads-to": target, tabindex: 0, role: "link", "aria-label": says, onclick: go,
      onkeydown: (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); go(); } } },
    s("title", {}, says),
    danger.length ? s("circle", { class: "hazard", cx: px, cy: py, r: 17, fill: "none", stroke: "#d62728", "stroke-width": 4, "pointer-events": "none" }) : null,
    mark, stateMark(state, px, py, 8), text));
    markers.push(danger.length ? svg.lastChild.querySelector(".hazard") : mark);
    labels.push({ text, x: px, y: py, spots: spotsAround(danger.length ? 22 : 14), first: danger.length > 0 });
  }
  for (const p of drawn) {
    const px = x(p), py = y(p);
    // The circle the phone's fix allows (its ``acc``), to the map's scale: a cell tower's fix
    // "give or take 2 km" is not the GPS fix at the door that the dot alone looks like.
    const radius = ((p.accuracy_m || 0) / METRES_PER_DEGREE_LAT) * scale;
    const dot = s("circle", { cx: px, cy: py, r: 6, fill: p.fresh ? "#1f4e79" : "none", stroke: "#1f4e79", "stroke-width": 2 });
    // A position too old to dispatch by says its age on the map, not by a hollow dot alone.
    const text = s("text", { x: px + 9, y: py - 8, class: "floor-name" }, p.responder_id,
      (p.accuracy_m || 0) > VAGUE_M ? give(p) : "", p.fresh ? "" : ` · ${ago(p.at)}`);
    svg.append(s("g", { class: "responder", "data-responder": p.responder_id, "data-fresh": String(p.fresh) },
      s("title", {}, `${p.responder_id}: ${ago(p.at)}${give(p)}`),
      radius > 6 ? s("circle", { class: "accuracy", cx: px, cy: py, r: radius, "pointer-events": "none", fill: "#1f4e79", "fill-opacity": 0.08, stroke: "#1f4e79", "stroke-opacity": 0.4, "stroke-dasharray": "4 3" }) : null,
      dot, text));
    markers.push(dot);
    labels.push({ text, x: px, y: py, spots: spotsAround(9).map(([dx, dy, a]) => [dx, dy === 4 ? -8 : dy, a]), first: false });
  }
  placeLabels([...labels.filter((l) => l.first), ...labels.filter((l) => !l.first)], markers, WIDTH, HEIGHT);
  caseList.scrollTop = listTop;
  if (refocus) view.querySelector(refocus)?.focus({ preventScroll: true });
}
