// The live alert panel of the cases page: one row per device and kind, newest first. A
// flapping sensor's hundreds of alerts are one row that counts them, not a flood that pushes a
// resident's SOS out of sight. Data from the hub is only ever put into the page as text.

import { h, label, pill, when, zoneOf } from "./dom.js";

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

/** Draw ``rows`` into the list ``list``; ``cases`` (id -> case) gives each alert its site's clock. */
export function drawAlerts(list, rows, cases) {
  list.replaceChildren(
    ...rows.map(({ alert, count }) =>
      h("li", { className: `alert ${alert.severity}`, "data-alert-id": alert.id, "data-device-id": alert.device_id },
        h("a", { href: alert.case_id ? `#/case/${alert.case_id}` : "#/" },
          h("strong", {}, label(alert.kind)), " ", pill(alert.severity, alert.severity), " ",
          label(alert.state),
          count > 1 ? h("span", { className: "repeats", title: `${count} alerts from this device seen by this screen` }, ` ×${count}`) : null),
        h("div", { className: "muted" }, alert.location || alert.device_id, " · ",
          when(alert.ts, zoneOf(cases.get(alert.case_id)?.site_id))))),
  );
  if (rows.length === 0) list.append(h("li", { className: "muted" }, "Waiting for alerts…"));
}
