// Pages that did not reach their responders, as the hub says in every case view it computes
// (`pages_failing`: hub/cases/pages_failing.py): each page still needed now that did not go
// out (still being tried every minute, or given up), whom to phone, through which gateway,
// since when. The board marks the case's card ("page failed — phone wang, li"), the case page
// says it above its actions and leads the history line saying so. Nothing is read here but the
// case views the screen already has (the list, the live stream, a case page): no history, no
// English note parsed. Data from the hub is only ever put into the page as text.

import { h, label, toast, when } from "./dom.js";

const OVER = new Set(["resolved", "closed"]);

const shown = new Map(); // case id -> the keys of its pages marked, as last seen
const watch = { changed: () => {} };

/** The pages not delivered of a case (a list entry, a live view or a detail) that still ask
 * something: the hub's word as of that view. (The hub drops them as soon as the case is
 * taken on, answered or over; a view that does not say, null, keeps the last: ``carryPages``.) */
export function pagesDown(item) {
  if (!item || OVER.has(item.status) || item.merged_into) return [];
  return Array.isArray(item.pages_failing) ? item.pages_failing : [];
}

/** A newer view of a case merged over the one this screen holds: one that does not say which
 * pages are failing (the alert intake's, on the live stream) keeps what the last one said. */
export function carryPages(item, known) {
  if (item.pages_failing != null || !known || known.pages_failing == null) return item;
  return { ...item, pages_failing: known.pages_failing };
}

/** ``changed()`` when a mark comes or goes (the board redraws). */
export function watchPages(changed) {
  watch.changed = changed;
}

/** Cases seen (read, changed live, or a case page's detail): a mark that comes is said once
 * (a toast); with ``all``, the cases not among them are forgotten. */
export function casesSeen(items, { all = false } = {}) {
  const seen = new Set();
  let changed = false;
  for (const item of items) {
    seen.add(item.id);
    const before = shown.get(item.id) || "";
    const after = pagesDown(item).map(keyOf).join("|");
    if (after === before) continue;
    changed = true;
    if (after) shown.set(item.id, after);
    else shown.delete(item.id);
    if (after && !before) tell(item);
  }
  if (all) for (const id of [...shown.keys()]) if (!seen.has(id)) shown.delete(id);
  if (changed) watch.changed();
}

function keyOf(page) {
  return `${page.event} ${page.gateway} ${(page.whom || []).join(",")}`;
}

function tell(item) {
  const whom = phoneWhom(pagesDown(item));
  toast(`Page failed: ${label(item.kind)} at ${item.location || (item.device_ids || []).join(", ")} — phone ${whom}`, "critical");
}

function phoneWhom(pages) {
  const names = [...new Set(pages.flatMap((page) => page.whom || []))];
  return names.length ? names.join(", ") : "instead";
}

/** The board card's mark, or null: text (not colour alone) saying whom to phone. */
export function pageBadge(item) {
  const pages = pagesDown(item);
  if (pages.length === 0) return null;
  const what = pages.every((page) => !page.still_tried) ? "page given up" : "page failed";
  return h("span", { className: "pill page-down", "data-pill": "page failed", title: pages.map(describe).join("\n") },
    h("span", { "aria-hidden": "true" }, "⚠ "), `${what} — phone ${phoneWhom(pages)}`);
}

function describe(page) {
  const whom = page.whom?.length ? ` for ${page.whom.join(", ")}` : "";
  const why = page.error ? ` (${page.error})` : "";
  const state = page.still_tried ? "still being tried" : "given up";
  return `The ${label(page.event)} page${whom} via ${page.gateway}: not delivered after ${page.tries} tries${why}, ${state}`;
}

/** The case page's box over its actions: each page not delivered, whom and which gateway. */
export function pagesDownBox(pages, zone) {
  if (pages.length === 0) return null;
  return h("section", { id: "pages-down", className: "pages-down", "aria-label": "Pages not delivered" },
    h("h3", {}, h("span", { "aria-hidden": "true" }, "⚠ "), `Page not delivered — phone ${phoneWhom(pages)}`),
    h("ul", {}, pages.map((page) => h("li", { "data-event-id": page.line_id ?? "" },
      `${describe(page)} — since ${when(page.since, zone)}`))));
}

/** The timeline's lead for the history line the hub names as saying a page still needed is
 * not delivered (``line_id``), or null. */
export function pageLead(line, pages) {
  const page = pages.find((p) => p.line_id === line.id);
  if (!page) return null;
  const who = page.whom?.length ? ` ${page.whom.join(", ")}` : " instead";
  return h("strong", { className: "page-lead" }, `Page not delivered — phone${who} (gateway ${page.gateway}): `);
}
