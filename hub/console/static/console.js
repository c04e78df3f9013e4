// The operator console: sign-in, the live stream, the cases it keeps and routing; the board is
// in board.js, the live alert panel's rows in alertpanel.js, the case page in casepage.js,
// device health in devices.js, the site plan in plan.js, the residents' requests, care
// households and notices in residents.js.
// Plain ES modules, no framework and nothing fetched from outside the hub. Data from the hub
// is only ever put into the page as text (never as HTML).

import { api, ApiError, whenUnauthenticated } from "./api.js";
import { h, label, orderOf, setZones, toast, when } from "./dom.js";
import { boardView, PRIORITY_ORDER, renderBoard, renderStream } from "./board.js";
import { MAX_ROWS, takeAlerts } from "./alertpanel.js";
import { FINISHED, older, renderCase } from "./casepage.js";
import { carryPages, casesSeen, watchPages } from "./pages.js";
import { renderAccount, showIdentity, signInForm } from "./account.js";
import { renderAccounts } from "./accounts.js";
import { renderTokens } from "./tokens.js";
import { renderCare, renderNotices, renderRequests } from "./residents.js";
import { renderDevices } from "./devices.js";
import { casesChanged as mapCasesChanged, renderMap } from "./map.js";
import { renderPlan } from "./plan.js";
import { renderStatistics } from "./statistics.js";
import { offerSilences, renderSilences, silenceBanner, silenceChanged } from "./silences.js";

// Cards say how long ago their last alert came: redrawn this often, not frozen at "2 s ago".
const AGES_EVERY_MS = 30000;
// The board reads every unfinished case, status by status (the hub lists the most recently
// updated first, so one read of the newest N, finished ones among them, would leave out the
// oldest open cases once a district has more than N: an unanswered fire that went quiet),
// and the newest finished ones for the filters that show them. Most days the newest N are all
// there is: one read.
const UNFINISHED_STATUSES = ["open", "acknowledged", "dispatched", "accepted", "in_progress"];
const MAX_UNFINISHED_READ = 10000;
const MAX_RECENT_READ = 500;

const state = {
  cases: new Map(), // id -> case as the list shows it
  stream: [], // rows of the live panel, newest first: {key, alert (the latest), count, ids}
  filters: { status: "active", priority: "", site: "", kind: "", text: "" },
  route: null,
  drawn: 0, // pages drawn so far (each render counts one)
  openapi: null,
  signedIn: false,
  me: null, // who signed in ({name, role} from /auth/me); null on a hub without accounts
  source: null, // the live EventSource
  heardAt: null, // when the stream last said anything (ms since the epoch)
  agesAt: 0, // when the board last said how long ago its cases' alerts came
  announced: new Set(), // ids of the cases announced as new
  refreshing: new Set(), // per reading of the case list in flight: the cases changed live meanwhile
  dirty: new Set(), // what the next frame redraws: "board", "stream", "case", "toast"
  announcing: { pending: [], count: 0, worst: null, text: null }, // new cases not yet told, the most urgent of those told, and the toast that sums them
  casePage: { reading: false, again: false }, // the open case page's reading: one at a time, and one more if it changed meanwhile
  resyncing: { reading: false, more: false, retryMs: 0, retry: null }, // the same for reading everything again, and its next try after a failure
};

// --- drawing ---------------------------------------------------------------------------

// In a big incident the stream brings hundreds of events a second: each only marks what it
// changed, and the page redraws once per frame, not once per event (a rebuild per event
// froze the page for seconds and left the board far behind the hub).
function redraw(...parts) {
  const idle = state.dirty.size === 0;
  for (const part of parts) state.dirty.add(part);
  if (idle) requestAnimationFrame(drawNow);
}

function drawNow() {
  const dirty = state.dirty;
  state.dirty = new Set();
  if (dirty.has("toast")) tellNewCases();
  const route = state.route;
  if (route?.name === "board") {
    if (dirty.has("board")) renderBoard(state);
    if (dirty.has("stream")) renderStream(state);
  } else if (route?.name === "case" && dirty.has("case")) {
    readCasePage(route.id);
  } else if (route?.name === "map" && (dirty.has("map") || dirty.has("board"))) {
    // The map draws the cases this screen keeps: one changed live, or all read again.
    mapCasesChanged(document.getElementById("view"));
  }
}

// The case page reads its case again when it changes; changes coming faster than a reading
// make one more reading after it, not one each.
function readCasePage(id) {
  const page = state.casePage;
  if (page.reading) {
    page.again = true;
    return;
  }
  page.reading = true;
  page.again = false;
  renderCase(id, state).catch(() => {}).finally(() => {
    page.reading = false;
    const route = state.route;
    if (page.again && route?.name === "case") readCasePage(route.id);
  });
}

// --- sign-in ---------------------------------------------------------------------------

function showSignIn(message) {
  state.signedIn = false;
  if (state.source) {
    state.source.close();
    state.source = null;
  }
  showIdentity(null);
  offerSilences(null);
  document.getElementById("stale").hidden = true;
  const link = document.getElementById("link");
  link.dataset.state = "down";
  link.textContent = "signed out";
  const shown = document.getElementById("sign-in");
  if (shown) {
    // Already asked (a page's other requests are refused one by one, some late): a new form
    // would wipe what the operator has begun typing.
    if (message) document.getElementById("sign-in-error").textContent = message;
    return;
  }
  const form = signInForm(message, start);
  document.getElementById("view").replaceChildren(form);
}

async function whoAmI() {
  // A hub without accounts answers 404 here: the console then works without signing in.
  try {
    const me = await api.me();
    state.me = me;
    showIdentity(me);
    offerSilences(me);
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      offerSilences(undefined); // no accounts: everyone may set silences
      return true;
    }
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
  const drawn = state.drawn;
  // The sites' time zones; a hub or a role without them shows the browser's clock.
  await api.sites().then(setZones).catch(() => {});
  await Promise.all([refreshCases(), refreshRecentAlerts()]).catch((error) => toast(String(error), "error"));
  // A page the operator opened while these were read stays as it is: drawn again, a form
  // begun on it would close under them. The board only takes the cases and alerts just read.
  if (state.drawn === drawn) await render();
  else redraw("board", "stream");
  if (!state.source) connectStream();
}

// --- live stream -------------------------------------------------------------------------

// The hub beats every HEARTBEAT_S on the stream; a stream silent for SILENT_AFTER_MS is dead
// (a laptop lid, a proxy or a network blip can leave a connection open that carries nothing,
// and EventSource does not notice): the page says so and connects again.
const HEARTBEAT_S = 5;
const SILENT_AFTER_MS = 3 * HEARTBEAT_S * 1000;

// Not live, the page says so over what it shows, not only in the top bar's corner: a list that
// looks live but is not hides every case that changed meanwhile.
function setLink(linkState, text) {
  const link = document.getElementById("link");
  link.dataset.state = linkState;
  link.textContent = text;
  if (linkState === "live") showStale(null);
  else if (linkState === "down" && state.heardAt !== null) {
    showStale(`Not live since ${when(new Date(state.heardAt).toISOString())}: cases that changed since are not shown. Reconnecting…`);
  }
}

function showStale(text) {
  const stale = document.getElementById("stale");
  stale.hidden = text === null;
  if (text !== null) stale.textContent = text;
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
    state.heardAt = Date.now();
    alive();
    handler(event);
  };
  const source = api.stream({
    open: () => {
      if (!current()) return;
      state.heardAt = Date.now();
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
    heartbeat: live(() => redrawAges()),
    alert: live((event) => {
      takeAlerts(state.stream, [event.alert]);
      redraw("stream");
    }),
    case_opened: live((event) => caseChanged(event.case, true)),
    case_updated: live((event) => caseChanged(event.case, false)),
    // Another desk (or this one) set, ended or cancelled a silence: banner and page at once.
    silence_changed: live((event) => silenceChanged(event.silence)),
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

// A hub that falls behind in a storm says so again and again: one reading at a time, and one
// more after it if it said so meanwhile, not a reading of every case per notice. A reading
// that fails (an overloaded hub answers 503) leaves a list that is not the hub's under a
// "live" stream: the page says so and tries again, less often each time, until it reads it.
const RESYNC_RETRY_MAX_MS = 30000;

function resync() {
  const again = state.resyncing;
  if (again.reading) {
    again.more = true;
    return;
  }
  again.reading = true;
  again.more = false;
  clearTimeout(again.retry);
  Promise.all([refreshCases({ announce: true }), refreshRecentAlerts()]).then(() => {
    again.retryMs = 0;
    if (document.getElementById("link").dataset.state === "live") showStale(null);
    redraw("board", "stream");
  }).catch((error) => {
    const why = error instanceof ApiError ? error.detail : String(error);
    showStale(`The cases could not be read again (${why}): the list may be out of date. Trying again…`);
    again.retryMs = Math.min(2 * (again.retryMs || 1000), RESYNC_RETRY_MAX_MS);
    again.retry = setTimeout(() => {
      if (state.source) resync();
    }, again.retryMs);
  }).finally(() => {
    again.reading = false;
    if (again.more && state.source) resync();
  });
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
  if (older(item, known)) return;
  const merged = { ...known, ...carryPages(item, known) };
  state.cases.set(item.id, merged);
  if (opened) announceCase(item);
  casesSeen([merged]); // the hub says in the view which of its pages did not go out
  const route = state.route;
  // The alert panel too: its rows read their case's site clock and its count of their alerts.
  if (route?.name === "board") redraw("board", "stream");
  else if (route?.name === "case" && Number(route.id) === item.id) redraw("case");
  else if (route?.name === "map") redraw("map");
}

function announceCase(item) {
  state.announced.add(item.id);
  state.announcing.pending.push(item);
  redraw("toast");
}

// One new case is told as itself; several at once (a fire sets off a tower's detectors) are
// summed up in one toast that keeps counting while it shows, naming the most urgent (an SOS
// among a floor's smoke detectors), in its colour.
function tellNewCases() {
  const told = state.announcing;
  const items = told.pending;
  told.pending = [];
  if (items.length === 0) return;
  const box = document.getElementById("toast");
  if (box.hidden || box.textContent !== told.text) {
    told.count = 0;
    told.worst = null;
  }
  told.count += items.length;
  for (const item of items) {
    if (told.worst === null || orderOf(PRIORITY_ORDER, item.priority) < orderOf(PRIORITY_ORDER, told.worst.priority)) told.worst = item;
  }
  const worst = told.worst;
  const where = worst.location || worst.device_ids.join(", ");
  told.text = told.count === 1
    ? `New ${label(worst.kind)} case at ${where}`
    : `New cases: ${told.count} — most urgent ${label(worst.kind)} at ${where}`;
  toast(told.text, worst.priority);
}

// The live panel starts with the recent alerts, not empty until the next one arrives; an
// alert that came live meanwhile is kept once.
async function refreshRecentAlerts() {
  takeAlerts(state.stream, await api.alerts({ limit: MAX_ROWS }));
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
    const reads = [await api.cases({ limit: MAX_RECENT_READ })];
    if (reads[0].length >= MAX_RECENT_READ) {
      reads.push(...await Promise.all(UNFINISHED_STATUSES.map((status) => api.cases({ status, limit: MAX_UNFINISHED_READ }))));
    }
    // A case that changed between two reads is in both: the newer view is kept.
    const newest = new Map();
    for (const item of reads.flat()) if (!older(item, newest.get(item.id))) newest.set(item.id, item);
    items = [...newest.values()];
  } finally {
    state.refreshing.delete(during);
  }
  const before = state.cases;
  const cases = new Map(items.map((item) => [item.id, item]));
  for (const item of during) {
    if (!older(item, cases.get(item.id))) cases.set(item.id, { ...cases.get(item.id), ...carryPages(item, cases.get(item.id)) });
  }
  if (announce) {
    const brought = new Set(during.map((item) => item.id));
    for (const item of items) {
      if (!before.has(item.id) && !brought.has(item.id) && !FINISHED.has(item.status)) announceCase(item);
    }
  }
  state.cases = cases;
  // Only cases this screen holds can be announced again: the set does not grow for ever.
  state.announced = new Set([...state.announced].filter((id) => cases.has(id)));
  casesSeen(cases.values(), { all: true });
}

// --- board -------------------------------------------------------------------------------

// A quiet night redraws nothing: the cards' "last 2 s ago" is redrawn every AGES_EVERY_MS (on
// the stream's heartbeat, or the page's own timer while the stream is down).
function redrawAges() {
  if (state.signedIn && state.route?.name === "board" && Date.now() - state.agesAt >= AGES_EVERY_MS) redraw("board");
}

// --- routing --------------------------------------------------------------------------------

function parseRoute() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [name, id] = hash.split("/");
  if (name === "case" && id) return { name: "case", id };
  if (name === "plan") return { name: "plan" };
  if (name === "devices") return { name: "devices" };
  if (["requests", "care", "notices", "statistics", "map", "account", "accounts", "tokens", "silences"].includes(name)) return { name };
  return { name: "board" };
}

async function render() {
  state.drawn += 1;
  state.route = parseRoute();
  for (const link of document.querySelectorAll("[data-nav]")) {
    link.toggleAttribute("aria-current", link.dataset.nav === (state.route.name === "tokens" ? "accounts" : state.route.name));
  }
  const view = document.getElementById("view");
  try {
    switch (state.route.name) {
      case "case":
        await renderCase(state.route.id, state);
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
        await renderMap(view, () => state.cases.values());
        break;
      case "account":
        renderAccount(view, state.me);
        break;
      case "accounts":
        await renderAccounts(view, state.me);
        break;
      case "tokens":
        await renderTokens(view);
        break;
      case "silences":
        await renderSilences(view);
        break;
      default:
        view.replaceChildren(boardView());
        silenceBanner(view.firstChild); // "On test: …" while any silence is in force
        renderStream(state);
        renderBoard(state);
    }
  } catch (error) {
    view.replaceChildren(h("p", { className: "error" }, error instanceof ApiError ? error.detail : String(error)));
  }
}

whenUnauthenticated(() => showSignIn("Your session ended: sign in again."));
watchPages(() => redraw("board"));
setInterval(redrawAges, AGES_EVERY_MS);
window.addEventListener("hashchange", () => {
  if (state.signedIn) render();
});
document.getElementById("sign-out").addEventListener("click", async () => {
  await api.signOut().catch(() => {});
  showSignIn();
});
start().catch((error) => toast(String(error), "error"));
