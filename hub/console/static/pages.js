// Pages that did not reach their responders: a case's `notice_failed` history lines (the hub
// writes one when a notice to a pager/SMS gateway still fails after 10 tries, or is given
// up) not followed by `notice_delivered`, and still asking something of someone as the case
// is now. The board marks the case's card ("page failed — phone wang, li"), the case page
// says it above its actions and highlights the line. The case list says nothing of notices:
// the board reads the history (GET /cases/<id>) of each unfinished case it sees changed, a
// couple at a time. Data from the hub is only ever put into the page as text.

import { api } from "./api.js";
import { h, label, toast, when } from "./dom.js";

const OVER = new Set(["resolved", "closed"]);
// As the hub's hub/cases/notify.py: a call-out asks someone to take the case on, a dispatch
// or hand-over asks its team to answer; the other notices only inform.
const CALLS_OUT = new Set(["opened", "reopened", "priority_raised", "escalated"]);
const SENDS = new Set(["dispatched", "handed_over"]);
// A notice given up because a later one says it again (a dispatch or escalation the hub
// repeats every few minutes) was not delivered either, and the later one, failing too, says
// nothing until its own 10th try, when a later one again has come: it is still being tried,
// and nothing when it goes out before then: a page that went out since says the gateway is back.
// One given up for another reason never went out: whether it is still needed is the case's now.
const SAID_AGAIN = "a later one says it again";
// hub/cases/notify.py: failing_note, and the notice_delivered line's note.
const FAILED = /^the ([a-z_]+) notice(?: for (.+?))? to (.+?) (is not delivered|was given up) after (\d+) tries(?: \((.*)\))?: ([^:]*)$/s;
const DELIVERED = /^the ([a-z_]+) notice went out after \d+ tries/;
// Histories read side by side: a storm of changed cases is read a few at a time, not all at once.
const MAX_READS = 2;

/** What a notice_failed line says: {event, whom (those to phone), sentTo, gateway, tries, error, givenUp (its reason,
 * or null while still tried)}; for a note this console cannot read, event null (kept, to be safe). */
export function readFailed(line) {
  const m = FAILED.exec(line.note || "");
  if (!m) return { line, event: null, whom: [], sentTo: [], gateway: null, tries: null, error: null, givenUp: null };
  const whom = m[2] ? m[2].split(", ").filter(Boolean) : [];
  return { line, event: m[1], whom, sentTo: whom, gateway: m[3], tries: Number(m[5]), error: m[6] || null,
    givenUp: m[4] === "was given up" ? m[7] : null };
}

/** The notices a history says did not go out (still tried, or given up), oldest first, one
 * per event and gateway (the newest line says how it is now): a notice_delivered line answers
 * those still tried of its event (it names no gateway: with one gateway, as most sites have,
 * that is the one), and those said again by a later copy. */
export function undelivered(events) {
  let out = [];
  for (const line of [...(events || [])].sort((a, b) => a.id - b.id)) {
    if (line.action === "notice_failed") {
      const page = readFailed(line);
      if (page.givenUp === SAID_AGAIN) Object.assign(page, { givenUp: null, saidAgain: true });
      out = out.filter((x) => x.event !== page.event || x.gateway !== page.gateway);
      out.push(page);
    } else if (line.action === "notice_delivered") {
      const event = DELIVERED.exec(line.note || "")?.[1];
      // A page went out: the gateway takes pages again, and a later copy still tried goes with them.
      out = out.filter((x) => !x.saidAgain && (x.givenUp !== null || (x.event !== null && x.event !== event)));
    }
  }
  // Who declined it themselves was reached (by phone, by the app): not one to phone.
  const declined = new Set((events || []).filter((e) => e.action === "declined" && e.actor).map((e) => e.actor));
  for (const page of out) page.whom = page.whom.filter((who) => !declined.has(who));
  return out;
}

/** Whether a page not delivered still asks something of someone, the case as it is now: a
 * call-out until the case is taken on, a dispatch until someone on the case has accepted,
 * nothing once the case is over. Unlike the hub's still_paging, a dispatch whose responders
 * the hub took off the case for not accepting in time (they were never paged: they could
 * not) is still one to phone them about while nobody is going. */
export function stillNeeded(page, item) {
  if (OVER.has(item.status) || item.merged_into) return false;
  if (page.event === null) return true;
  if (CALLS_OUT.has(page.event)) return !item.acknowledged_at;
  if (SENDS.has(page.event)) return page.whom.length > 0 && !(item.team || []).some((m) => m.accepted);
  return false;
}

const read = new Map(); // case id -> {version, pages}: its history's pages not delivered, as last read
const watch = { cases: () => new Map(), changed: () => {}, urgent: [], rest: [], queued: new Set(), reading: 0 };

/** The pages not delivered of a case (a list entry or a detail) that still ask something. */
export function pagesDown(item) {
  return (read.get(item.id)?.pages || []).filter((page) => stillNeeded(page, item));
}

/** Watch the cases ``cases()`` returns (a Map by id); ``changed()`` when a mark comes or goes. */
export function watchPages(cases, changed) {
  watch.cases = cases;
  watch.changed = changed;
}

/** Cases seen (read, or changed live): an unfinished one whose history this screen has not
 * read at its version is read. A case only opened has no notice lines yet: not read. */
export function casesSeen(items, { all = false } = {}) {
  for (const item of items) {
    if (OVER.has(item.status)) read.delete(item.id);
    else if (item.version === undefined || read.get(item.id)?.version !== item.version) queue(item);
  }
  if (all) {
    const cases = watch.cases();
    for (const id of read.keys()) if (!cases.has(id)) read.delete(id);
  }
  pump();
}

/** A case's detail read by another page (its case page): its history as the board's too. */
export function historyRead(detail) {
  const known = watch.cases().get(detail.id);
  const item = known && !(known.version < detail.version) ? known : detail;
  const before = pagesDown(item).map((page) => page.line.id).join();
  read.set(detail.id, { version: detail.version, pages: undelivered(detail.events) });
  const after = pagesDown(item).map((page) => page.line.id).join();
  if (after && !before) tell(item);
  if (after !== before) watch.changed();
}

function queue(item) {
  if (watch.queued.has(item.id)) return;
  watch.queued.add(item.id);
  (item.category === "life_safety" ? watch.urgent : watch.rest).push(item.id);
}

function pump() {
  while (watch.reading < MAX_READS && (watch.urgent.length || watch.rest.length)) {
    const id = watch.urgent.length ? watch.urgent.shift() : watch.rest.shift();
    watch.queued.delete(id);
    const item = watch.cases().get(id);
    if (!item || OVER.has(item.status) || (item.version !== undefined && read.get(id)?.version === item.version)) continue;
    // The case page shown reads its case itself on each change (and tells historyRead).
    if (location.hash === `#/case/${id}`) continue;
    watch.reading += 1;
    api.caseDetail(id).then(historyRead).catch(() => {}).finally(() => {
      watch.reading -= 1;
      // Changed again while it was read: read again (after the others waiting), once.
      const now = watch.cases().get(id);
      if (now && now.version !== undefined && item.version !== undefined && now.version > item.version) queue(now);
      pump();
    });
  }
}

function tell(item) {
  const whom = phoneWhom(pagesDown(item));
  toast(`Page failed: ${label(item.kind)} at ${item.location || (item.device_ids || []).join(", ")} — phone ${whom}`, "critical");
}

function phoneWhom(pages) {
  const names = [...new Set(pages.flatMap((page) => page.whom))];
  return names.length ? names.join(", ") : "instead";
}

/** The board card's mark, or null: text (not colour alone) saying whom to phone. */
export function pageBadge(item) {
  const pages = pagesDown(item);
  if (pages.length === 0) return null;
  const what = pages.every((page) => page.givenUp !== null) ? "page given up" : "page failed";
  return h("span", { className: "pill page-down", "data-pill": "page failed", title: pages.map(describe).join("\n") },
    h("span", { "aria-hidden": "true" }, "⚠ "), `${what} — phone ${phoneWhom(pages)}`);
}

function describe(page) {
  if (page.event === null) return page.line.note || "a page was not delivered";
  const whom = page.sentTo.length ? ` for ${page.sentTo.join(", ")}` : "";
  const why = page.error ? ` (${page.error})` : "";
  const state = page.givenUp === null ? "still being tried" : `given up: ${page.givenUp}`;
  return `The ${label(page.event)} page${whom} via ${page.gateway}: not delivered after ${page.tries} tries${why}, ${state}`;
}

/** The case page's box over its actions: each page not delivered, whom and which gateway. */
export function pagesDownBox(pages, zone) {
  if (pages.length === 0) return null;
  return h("section", { id: "pages-down", className: "pages-down", "aria-label": "Pages not delivered" },
    h("h3", {}, h("span", { "aria-hidden": "true" }, "⚠ "), `Page not delivered — phone ${phoneWhom(pages)}`),
    h("ul", {}, pages.map((page) => h("li", { "data-event-id": page.line.id },
      `${describe(page)} — since ${when(page.line.ts, zone)}`))));
}

/** The timeline's lead for a notice_failed line still not delivered, or null. */
export function pageLead(line, pages) {
  const page = pages.find((p) => p.line.id === line.id);
  if (!page) return null;
  const who = page.whom.length ? ` ${page.whom.join(", ")}` : " instead";
  const via = page.gateway ? ` (gateway ${page.gateway})` : "";
  return h("strong", { className: "page-lead" }, `Page not delivered — phone${who}${via}: `);
}
