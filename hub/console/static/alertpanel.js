// The live alert panel of the cases page: one row per device and kind, newest first. A
// flapping sensor's hundreds of alerts are one row that counts them, not a flood that pushes a
// resident's SOS out of sight. Data from the hub is only ever put into the page as text.

import { h, label, pill, siteOfEdge, when, zoneOf } from "./dom.js";
import { knownSilence } from "./silences.js";

/** The panel holds this many rows (and the page reads this many recent alerts to start). */
export const MAX_ROWS = 50;
// A row remembers its latest alerts' ids, so that an alert read again after a reconnect is
// not counted twice.
const ROW_IDS = 2 * MAX_ROWS;

/** Put ``alerts`` into ``rows`` ({key, alert (the latest), count, ids} each): each joins its
 * device's row for its kind, counted once however often it is read, the row moving up with
 * its latest alert; the oldest rows past MAX_ROWS are dropped. */
export function takeAlerts(rows, alerts) {
  for (const alert of alerts) {
    const key = `${alert.device_id}\n${alert.kind}`;
    let row = rows.find((item) => item.key === key);
    if (!row) {
      row = { key, alert, count: 0, ids: [] };
      rows.push(row);
    }
    if (row.ids.includes(alert.id)) continue;
    row.ids.push(alert.id);
    if (row.ids.length > ROW_IDS) row.ids.shift();
    row.count += 1;
    if (Date.parse(alert.ts) >= Date.parse(row.alert.ts)) row.alert = alert;
  }
  rows.sort((a, b) => Date.parse(b.alert.ts) - Date.parse(a.alert.ts));
  rows.length = Math.min(rows.length, MAX_ROWS);
}

/** The site whose clock an alert's time is read on: its case's, when this screen holds it,
 * else its edge's (the site that lists that edge, as the hub places the device's cases). An
 * alert carries no site of its own: without this, an alert of a case not on this screen (a
 * finished one, or one past what the board reads) was shown on the browser's clock whenever
 * the sites' zones differ. */
function alertSite(alert, cases) {
  return cases.get(alert.case_id)?.site_id ?? siteOfEdge(alert.edge_id);
}

/** How many alerts a row stands for, and what that number counts: its case's count of this
 * device's alerts of this kind (the case's member), when this screen holds the case and that
 * is more, else the alerts this screen saw. A screen opened at 3 a.m. had shown ×1 for a
 * sensor that had flapped 300 times into one case since midnight. */
function repeats({ alert, count }, cases) {
  const member = (cases.get(alert.case_id)?.members || [])
    .find((item) => item.device_id === alert.device_id && item.kind === alert.kind);
  if (member && member.alert_count > count) {
    return [member.alert_count, `${member.alert_count} alerts from this device in case #${alert.case_id}`];
  }
  return [count, `${count} alerts from this device seen by this screen`];
}

/** What a row says of a silenced alert (the hub's ``silence_id``): "on test", muted, its
 * silence's reason as the title; not an alarm needing action. A hub before 2026-12-08 does not
 * say (undefined): shown as an alarm, as it always was. */
function onTest(alert) {
  if (alert.silence_id === null || alert.silence_id === undefined) return null;
  const silence = knownSilence(alert.silence_id);
  return silence ? `On test (silence ${alert.silence_id}): ${silence.reason}` : `On test (silence ${alert.silence_id})`;
}

function alertRow(row, cases) {
  const { key, alert } = row;
  const [count, counted] = repeats(row, cases);
  const test = onTest(alert);
  const attrs = { className: test ? "alert on-test" : `alert ${alert.severity}`, "data-alert-id": alert.id, "data-device-id": alert.device_id, "data-row-key": key };
  if (test) attrs.title = test;
  return h("li", attrs,
    h("a", { href: alert.case_id ? `#/case/${alert.case_id}` : "#/" },
      h("strong", {}, label(alert.kind)), " ", test ? pill("on-test", "on test") : pill(alert.severity, alert.severity), " ",
      label(alert.state),
      count > 1 ? h("span", { className: "repeats", title: counted }, ` ×${count}`) : null),
    h("div", { className: "muted" }, alert.location || alert.device_id, " · ",
      when(alert.ts, zoneOf(alertSite(alert, cases)))));
}

/** Draw ``rows`` into the list ``list``; ``cases`` (id -> case) gives each alert its site's
 * clock and its case's count. The row the keyboard is on (one per device and kind) keeps the
 * keyboard through the redraw a new alert brings: a storm redraws the list several times a
 * second, and each redraw had sent the operator tabbing through the alerts back to the top of
 * the page. */
export function drawAlerts(list, rows, cases) {
  const active = document.activeElement;
  const focused = list.contains(active) ? active.closest("li[data-row-key]")?.dataset.rowKey : undefined;
  list.replaceChildren(...rows.map((row) => alertRow(row, cases)));
  if (rows.length === 0) list.append(h("li", { className: "muted" }, "Waiting for alerts…"));
  if (focused === undefined) return;
  for (const item of list.children) {
    if (item.dataset.rowKey === focused) item.querySelector("a")?.focus({ preventScroll: true });
  }
}
