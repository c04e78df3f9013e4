// Silences (#/silences): maintenance windows and fire drills, the way alarm-monitoring software
// shows zones "on test". While a silence is on, the alerts it covers are recorded but open no
// case and page no one (docs/cases.md "Silences"). The page lists those in force and those
// coming, ends one ("End now"; "Cancel" for one not started), and sets one (POST
// /api/v1/silences); the case board carries a banner while any is in force, read again every
// 30 s, when one is due to end, and at once when the stream says one changed (any desk's
// silence_changed), so a drill left on is not forgotten. Operators and admins set silences
// (hub/auth/rules.py: "act"); a responder may read them, and is not offered the page. Data
// from the hub is only ever put into the page as text.

import { api, refusalText } from "./api.js";
import { h, label, siteOfEdge, toast, when, zoneOf } from "./dom.js";

// Kinds where a person may be in danger (devices/kinds.py LIFE_SAFETY): a silence covers them
// only when it names them (hub/silences/rules.py covers(); since 2026-12-08, before a silence
// naming no kinds covered every kind but SOS). The form says loudly when they are chosen.
// tests/console/test_console_silences_browser.py checks these words against what the hub does.
const LIFE_SAFETY = ["sos", "smoke", "co", "heat", "gas", "camera_fire", "camera_smoke"];
const NO_KINDS = "every kind but life-safety";
// The hub's AlertKind, when its API description cannot be read.
const KINDS = [
  ...LIFE_SAFETY, "water_leak", "device_offline", "battery_low", "device_tamper", "battery_declining",
  "sensor_stuck", "device_flooding", "bridge_offline", "door_forced", "door_held_open",
  "access_denied_burst", "camera_motion", "camera_person", "camera_loitering",
  "camera_obstruction", "camera_tamper", "resident_request", "no_activity",
  "device_claim_conflict", "edge_offline",
];
const DURATIONS = [["30", "30 min"], ["60", "1 h"], ["120", "2 h"], ["240", "4 h"], ["at", "until a time…"]];
const SETTERS = new Set(["operator", "admin"]);
/** The board's banner is read again this often while the board is shown. */
export const BANNER_EVERY_MS = 30000;
const BANNER_LINES = 3;

// --- who may set them --------------------------------------------------------------------

let mayAct = false;

/** Offer the Silences page to who may set silences: ``me`` ({role}) signed in, ``undefined``
 * on a hub without accounts (everyone may), ``null`` signed out. */
export function offerSilences(me) {
  mayAct = me === undefined || SETTERS.has(me?.role);
  document.getElementById("silences-nav").hidden = !mayAct;
}

// --- the silences this screen has read ------------------------------------------------------

// Every silence this screen has read (the banner's, the page's, the stream's silence_changed),
// by id: the live alert panel names the silence that keeps an alert "on test" by its reason.
const known = new Map();

function remember(items) {
  for (const silence of items) known.set(silence.id, silence);
  return items;
}

/** The silence ``id`` as this screen last read it, or undefined. */
export function knownSilence(id) {
  return known.get(id);
}

// --- words -------------------------------------------------------------------------------

// The hub names a silence's site (site_id, since 2026-12-08): a place's or a device's silence
// showed its times on the one zone all sites share, not its site's.
function zoneOfSilence(silence) {
  return zoneOf(silence.site_id ?? (silence.scope === "edge" ? siteOfEdge(silence.target) : undefined));
}

/** A time on ``zone``'s clock to the minute ("16:00", "2026-12-08 16:00"): silences are set so. */
function at(value, zone) {
  return when(value, zone).replace(/(\d\d:\d\d):\d\d$/, "$1");
}

function what(silence) {
  return silence.scope === "place" ? silence.target : `${silence.scope} ${silence.target}`;
}

function kindsText(kinds) {
  return kinds.length ? kinds.map(label).join(", ") : NO_KINDS;
}

// --- the site's clock ----------------------------------------------------------------------

// How far ``zone``'s wall clock is ahead of UTC at ``date`` (ms).
function offsetMs(date, zone) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", {
    timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(date).map((part) => [part.type, part.value]));
  const wall = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second);
  return wall - Math.floor(date.getTime() / 1000) * 1000;
}

/** The moment a datetime-local value ("2026-12-07T16:00") names on ``zone``'s clock (the
 * browser's when none, or one this browser does not know); null when it names none. */
export function siteMoment(text, zone) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(text || "");
  if (!m) return null;
  const [year, month, day, hour, minute] = m.slice(1).map(Number);
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  try {
    let moment = wall - offsetMs(new Date(wall), zone);
    moment = wall - offsetMs(new Date(moment), zone); // across a change of the clocks
    return zone ? new Date(moment) : new Date(year, month - 1, day, hour, minute);
  } catch {
    return new Date(year, month - 1, day, hour, minute);
  }
}

// --- the board's banner --------------------------------------------------------------------

const banner = { seq: 0, timer: null, ticking: false };

function bannerLine(silence) {
  const zone = zoneOfSilence(silence);
  return h("li", { "data-silence-id": silence.id },
    h("a", { href: "#/silences" },
      h("strong", {}, "On test: "), what(silence), ` (${kindsText(silence.kinds)}) until ${at(silence.ends_at, zone)}`,
      h("span", { className: "reason" }, ` — ${silence.reason}`)));
}

/** Read the silences in force again and show them in the board's banner, if it is shown. */
export async function readBanner() {
  const box = document.getElementById("silence-banner");
  if (!box) return;
  const seq = ++banner.seq;
  let items;
  try {
    items = remember(await api.silences({ active: true }));
  } catch {
    return; // the last word stays; the next tick tries again
  }
  if (seq !== banner.seq || !box.isConnected) return; // a later reading, or the board is gone
  box.hidden = items.length === 0;
  const shown = items.slice().sort((a, b) => Date.parse(a.ends_at) - Date.parse(b.ends_at));
  box.replaceChildren(h("ul", {}, shown.slice(0, BANNER_LINES).map(bannerLine),
    shown.length > BANNER_LINES
      ? h("li", {}, h("a", { href: "#/silences" }, `and ${shown.length - BANNER_LINES} more on test`))
      : null));
  // The one due to end first goes when it ends, not up to 30 s later (once: a hub whose clock
  // is behind this screen's still has it on, and the 30 s readings take it from there).
  clearTimeout(banner.timer);
  const next = shown.length ? Date.parse(shown[0].ends_at) - Date.now() + 500 : Infinity;
  if (next > 0 && next < BANNER_EVERY_MS) banner.timer = setTimeout(readBanner, next);
}

/** Put the banner of the silences in force on the board page ``page`` and read them. */
export function silenceBanner(page) {
  const box = h("div", { id: "silence-banner", className: "silence-banner", role: "status", hidden: true });
  page.insertBefore(box, page.querySelector(".stream"));
  if (!banner.ticking) {
    banner.ticking = true;
    setInterval(readBanner, BANNER_EVERY_MS);
  }
  readBanner();
}

// --- the page --------------------------------------------------------------------------------

let hubKinds = null; // the hub's AlertKind, read once

async function alertKinds() {
  try {
    hubKinds ??= (await api.openapi())?.components?.schemas?.AlertKind?.enum;
    const kinds = hubKinds;
    if (Array.isArray(kinds) && kinds.length) {
      return [...LIFE_SAFETY.filter((k) => kinds.includes(k)), ...kinds.filter((k) => !LIFE_SAFETY.includes(k))];
    }
  } catch {
    // the list this console knows
  }
  return KINDS;
}

/** Whether ``silence`` has not started yet: ending it cancels it. */
function notStarted(silence) {
  return Date.parse(silence.starts_at) > Date.now();
}

function endButton(silence) {
  const coming = notStarted(silence);
  return h("button", { type: "button", className: coming ? "end cancel" : "end", "data-end": silence.id }, coming ? "Cancel" : "End now");
}

function silenceRow(silence, { endable }) {
  const zone = zoneOfSilence(silence);
  const ended = silence.ended_at ? ` (ended by ${silence.ended_by || "—"})` : "";
  return h("tr", { "data-silence-id": silence.id },
    h("th", {}, what(silence)),
    h("td", { className: silence.kinds.length ? "" : "every-kind" }, kindsText(silence.kinds)),
    h("td", {}, at(silence.starts_at, zone)),
    h("td", {}, at(silence.ends_at, zone), ended),
    h("td", { className: "reason" }, silence.reason),
    h("td", {}, silence.created_by || "—"),
    h("td", {}, endable && mayAct ? endButton(silence) : null));
}

function silenceTable(id, caption, items, endable) {
  return h("table", { className: "devices silences", id },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, ["What", "Kinds", "From", "Until", "Reason", "Set by", ""].map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, items.length
      ? items.map((item) => silenceRow(item, { endable }))
      : h("tr", {}, h("td", { colspan: 7, className: "muted" }, "None."))));
}

function warningOf(kinds) {
  if (kinds.length === 0) {
    return "No kind chosen: every kind but the life-safety ones is silenced — water leaks, faults, doors and cameras from there open no case and page no one; an SOS, smoke, heat, CO, gas or a camera's fire still do. A fire drill names smoke and heat.";
  }
  const danger = kinds.filter((k) => LIFE_SAFETY.includes(k));
  if (kinds.includes("sos")) return `SOS is silenced: a resident pressing the button there will reach no one. Also silenced: ${kindsText(kinds.filter((k) => k !== "sos")) || "nothing else"}.`;
  if (danger.length) return `Life-safety alarms silenced: ${kindsText(danger)} from there will open no case and page no one.`;
  return "";
}

function silenceForm(kinds, done, error) {
  const warning = h("p", { className: "silence-warning", id: "silence-warning", role: "alert" });
  const chosen = () => [...form.querySelectorAll('input[name="kinds"]:checked')].map((box) => box.value);
  const zoneNow = () => zoneOf(form.scope.value === "edge" ? siteOfEdge(form.target.value.trim()) : undefined);
  const zoneLabel = h("span", {});
  const until = h("label", { hidden: true }, h("span", {}, "Until", zoneLabel), h("input", { type: "datetime-local", name: "ends_at" }));
  const update = () => {
    warning.textContent = warningOf(chosen());
    warning.hidden = !warning.textContent;
    const at = form.duration.value === "at";
    until.hidden = !at;
    form.ends_at.required = at;
    zoneLabel.textContent = at ? ` (on ${zoneNow() || "this screen's"} clock)` : "";
  };
  const form = h("form", {
    className: "add-account silence-form", id: "set-silence",
    onchange: update, oninput: update,
    onsubmit: async (event) => {
      event.preventDefault();
      error.textContent = "";
      const minutes = Number(form.duration.value);
      const ends = form.duration.value === "at" ? siteMoment(form.ends_at.value, zoneNow()) : new Date(Math.ceil((Date.now() + minutes * 60000) / 60000) * 60000); // to the minute
      if (!ends) {
        error.textContent = "Say until when.";
        return;
      }
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        const set = await api.setSilence({
          scope: form.scope.value, target: form.target.value, kinds: chosen(),
          ends_at: ends.toISOString(), reason: form.reason.value,
        });
        toast(`On test: ${what(set)} until ${at(set.ends_at, zoneOfSilence(set))}`);
        await done();
      } catch (failure) {
        error.textContent = refusalText(failure);
      } finally {
        button.disabled = false;
      }
    },
  },
  h("h3", {}, "Set a silence"),
  h("label", {}, h("span", {}, "What"),
    h("select", { name: "scope" }, [["place", "a place (e.g. Building 3)"], ["device", "a device"], ["edge", "an edge's whole site"]].map(([v, t]) => h("option", { value: v }, t)))),
  h("label", {}, h("span", {}, "Which (a place, a device id or an edge id)"),
    h("input", { name: "target", required: true, maxlength: 256, placeholder: "Building 3" })),
  h("fieldset", { className: "kinds" }, h("legend", {}, `Only these kinds (none: ${NO_KINDS})`),
    kinds.map((kind) => h("label", { className: LIFE_SAFETY.includes(kind) ? "life-safety" : "" },
      h("input", { type: "checkbox", name: "kinds", value: kind }), label(kind)))),
  warning,
  h("label", {}, h("span", {}, "For"),
    h("select", { name: "duration" }, DURATIONS.map(([v, t]) => h("option", { value: v, selected: v === "60" }, t)))),
  until,
  h("label", {}, h("span", {}, "Reason (the audit trail keeps it)"),
    h("input", { name: "reason", required: true, maxlength: 500, placeholder: "fire drill" })),
  h("button", { type: "submit" }, "Set silence"));
  update();
  return form;
}

// The Silences page on screen, to redraw its tables when a silence changes (another desk set or
// ended one: the stream's silence_changed), never its form (an operator may be typing in it).
let shown = null;

/** Redraw the Silences page's tables, if it is shown, from the hub's lists of silences. */
async function fillTables({ current, past }) {
  const [active, all] = await Promise.all([api.silences({ active: true }).then(remember), api.silences().then(remember)]);
  const inForce = new Set(active.map((s) => s.id));
  const now = Date.now();
  const coming = all.filter((s) => !inForce.has(s.id) && !s.ended_at && Date.parse(s.ends_at) > now)
    .sort((a, b) => Date.parse(a.starts_at) - Date.parse(b.starts_at));
  const over = all.filter((s) => !inForce.has(s.id) && !coming.includes(s)).slice(0, 20);
  current.replaceChildren(silenceTable("silences-active", "In force now", active, true),
    silenceTable("silences-coming", "Coming", coming, true));
  const open = past.querySelector("details")?.open ?? false;
  past.replaceChildren(h("details", { open }, h("summary", {}, `Over (${over.length} latest)`), silenceTable("silences-over", "Over", over, false)));
}

/** A silence was set, ended or cancelled (the stream's silence_changed, from any desk): the
 * banner and the Silences page, if shown, show it at once, not at their next reading. */
export function silenceChanged(silence) {
  remember([silence]);
  readBanner();
  if (shown?.current.isConnected) fillTables(shown).catch(() => {});
}

/** The Silences page into ``view``. */
export async function renderSilences(view) {
  const error = h("p", { className: "error", id: "silences-error", role: "alert" });
  const current = h("div", { className: "silences-current" });
  const past = h("div", { className: "silences-past" });
  const tables = { current, past };
  const [kinds] = await Promise.all([alertKinds(), fillTables(tables)]);
  const again = () => fillTables(tables);
  const page = h("div", { className: "silences-page" },
    h("h2", {}, "Silences"),
    h("p", { className: "muted" }, "While a silence is on, the alerts it covers are recorded but open no case and page no one. An alarm still raised when it ends is reported then."),
    error,
    current,
    mayAct ? silenceForm(kinds, again, error) : null,
    past);
  page.addEventListener("click", async (event) => {
    const id = event.target.closest?.("button[data-end]")?.dataset.end;
    if (!id) return;
    const silence = knownSilence(Number(id));
    const cancel = notStarted(silence);
    const asked = cancel
      ? `Cancel the silence of ${what(silence)}? It has not started: nothing will be silenced.`
      : `End the silence of ${what(silence)} now? Alerts from there open cases and page again.`;
    if (!confirm(asked)) return;
    error.textContent = "";
    try {
      await api.endSilence(id);
      toast(`Silence of ${what(silence)} ${cancel ? "cancelled" : "ended"}`);
      await again();
    } catch (failure) {
      error.textContent = refusalText(failure);
    }
  });
  shown = tables;
  view.replaceChildren(page);
}
