// The residents' side of the console: requests (点单) with their stage and rating, logging a
// phone call or walk-in for a household, care households (独居老人), and notices (通知) with
// their read receipts and copies sent out. Everything goes through /api/v1 (api.js); data is
// only ever put into the page as text.

import { api, ApiError } from "./api.js";
import { h, label, pill, toast, when } from "./dom.js";

const CATEGORIES = ["repair", "utilities", "sanitation", "noise", "elevator", "hazard", "other"];
const NOTICE_CATEGORIES = ["general", "water_shutoff", "power_cut", "fire_drill", "evacuation"];
const STAGE_KIND = { received: "high", assigned: "medium", visit_planned: "medium", in_progress: "medium", done: "ok" };
const CARE_KIND = { no_activity: "critical", sensors_silent: "high", away: "low", fine: "ok", not_watched: "low" };

function field(labelText, control) {
  return h("label", {}, labelText, control);
}

function select(name, options, attrs) {
  return h("select", { name, ...attrs }, options.map(([value, text]) => h("option", { value }, text)));
}

function failed(error) {
  toast(error instanceof ApiError ? error.detail : String(error), "error");
}

/** Run ``work`` for a form's submit, then re-render; show the hub's refusal as a toast. */
function onSubmit(form, work, rerender) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      await work(new FormData(form));
      await rerender();
    } catch (error) {
      failed(error);
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

function householdOptions(households) {
  return households.map((x) => [String(x.id), `${x.name} · ${x.location}`]);
}

// --- requests ----------------------------------------------------------------------------

function rating(request) {
  const last = request.ratings[request.ratings.length - 1];
  if (!last) return "—";
  return `${"★".repeat(last.score)}${"☆".repeat(5 - last.score)}${last.fixed ? "" : " not fixed"}`;
}

export async function renderRequests(view) {
  const [requests, households] = await Promise.all([api.requests({ limit: 200 }), api.households()]);
  const log = onSubmit(
    h("form", { className: "action", id: "log-request" },
      field("Household", select("household_id", householdOptions(households), { required: true })),
      field("Category", select("category", CATEGORIES.map((c) => [c, label(c)]))),
      field("What the resident said", h("input", { name: "text", required: true, maxlength: 2000, size: 40 })),
      field("Volunteer may help", select("volunteers", [["", "category default"], ["true", "yes"], ["false", "no"]])),
      h("button", { type: "submit" }, "Log call or walk-in")),
    async (data) => {
      const body = {
        household_id: Number(data.get("household_id")),
        category: data.get("category"),
        text: data.get("text"),
      };
      if (data.get("volunteers")) body.volunteers = data.get("volunteers") === "true";
      const opened = await api.logRequest(body);
      toast(`Request ${opened.request.id} logged: case ${opened.case_id}`);
    },
    () => renderRequests(view));
  const rows = requests.map((r) => h("tr", { "data-request-id": r.id, "data-stage": r.stage },
    h("td", {}, h("a", { href: `#/case/${r.case_id}` }, `#${r.id}`)),
    h("td", {}, r.household_name),
    h("td", {}, label(r.category), r.priority === "high" ? pill("high", "high") : null),
    h("td", {}, r.text),
    h("td", {}, pill(STAGE_KIND[r.stage] || "low", r.stage)),
    h("td", {}, r.team.map((m) => `${m.responder} (${m.duty})${m.accepted ? " ✓" : ""}`).join(", ") || "—"),
    h("td", { className: "rating" }, rating(r)),
    h("td", {}, label(r.source), h("div", { className: "muted" }, when(r.created_at)))));
  view.replaceChildren(h("section", { className: "residents-page requests-page" },
    h("h2", {}, "Residents' requests"), log,
    h("table", { className: "devices requests" },
      h("thead", {}, h("tr", {}, ["", "Household", "Category", "Text", "Stage", "Team", "Rating", "From"].map((x) => h("th", {}, x)))),
      h("tbody", {}, rows)),
    requests.length === 0 ? h("p", { className: "muted" }, "No requests yet.") : null));
}

// --- care households -----------------------------------------------------------------------

export async function renderCare(view) {
  const [cares, households] = await Promise.all([api.careList(), api.households()]);
  const flag = onSubmit(
    h("form", { className: "action", id: "flag-care" },
      field("Household", select("household_id", householdOptions(households), { required: true })),
      field("Consent given by", h("input", { name: "consent_by", required: true, maxlength: 128 })),
      field("Family contact", h("input", { name: "contact_name", maxlength: 128 })),
      field("Relation", h("input", { name: "contact_relation", maxlength: 128 })),
      field("Contact webhook", h("input", { name: "contact_target", type: "url", maxlength: 2000 })),
      field("Sensors (ids, comma separated)", h("input", { name: "device_ids" })),
      field("Quiet hours", h("input", { name: "quiet_hours", type: "number", min: 1, max: 48, value: 6 })),
      h("button", { type: "submit" }, "Flag for care")),
    async (data) => {
      const contacts = data.get("contact_name") && data.get("contact_target")
        ? [{ name: data.get("contact_name"), relation: data.get("contact_relation") || "family", target: data.get("contact_target") }]
        : [];
      const devices = String(data.get("device_ids") || "").split(",").map((x) => x.trim()).filter(Boolean);
      // The hub takes a whole profile. A household in care already keeps what this form does
      // not show, or leaves blank: a trip under way (ending it would start wellbeing checks
      // and messages to the family while she is on holiday), its waking hours, its contacts
      // and its sensors.
      const before = cares.find((c) => String(c.household_id) === String(data.get("household_id")));
      await api.setCare(data.get("household_id"), {
        enabled: true,
        consent: { by: data.get("consent_by") },
        contacts: contacts.length > 0 || !before ? contacts : before.contacts,
        device_ids: devices.length > 0 || !before ? devices : before.device_ids,
        quiet_hours: Number(data.get("quiet_hours")),
        ...(before ? { waking_from: before.waking_from, waking_until: before.waking_until, away_until: before.away_until } : {}),
      });
      toast("Care settings saved");
    },
    () => renderCare(view));
  const rows = cares.map((c) => {
    const away = onSubmit(
      h("form", { className: "away" },
        h("input", { name: "until", type: "date", "aria-label": "away until" }),
        h("button", { type: "submit" }, c.away_until ? "Change" : "Away until")),
      async (data) => {
        const day = data.get("until");
        await api.careAway(c.household_id, day ? new Date(`${day}T00:00:00`).toISOString() : null);
        toast(day ? `${c.household_name} away until ${day}` : `${c.household_name} is back`);
      },
      () => renderCare(view));
    return h("tr", { "data-household-id": c.household_id, "data-care-status": c.status },
      h("td", {}, h("strong", {}, c.household_name), c.enabled ? null : pill("low", "off")),
      h("td", {}, pill(CARE_KIND[c.status] || "low", c.status),
        c.alarm_case_id ? h("div", {}, h("a", { href: `#/case/${c.alarm_case_id}` }, `case ${c.alarm_case_id}`)) : null),
      h("td", {}, when(c.last_activity), h("div", { className: "muted" }, `${c.quiet_hours_so_far.toFixed(1)} / ${c.quiet_hours} waking h quiet`)),
      h("td", {}, c.contacts.map((x) => h("div", {}, `${x.name} (${x.relation}) · ${x.channel}`))),
      h("td", {}, c.consent_by, h("div", { className: "muted" }, when(c.consent_at))),
      h("td", {}, c.device_ids.join(", ") || "—", c.silent_sensors.length ? h("div", { className: "error" }, `silent: ${c.silent_sensors.join(", ")}`) : null),
      h("td", {}, c.away_until ? h("div", {}, when(c.away_until)) : null, away));
  });
  view.replaceChildren(h("section", { className: "residents-page care-page" },
    h("h2", {}, "Care households"), flag,
    h("table", { className: "devices care" },
      h("thead", {}, h("tr", {}, ["Household", "Status", "Last sign of life", "Family", "Consent", "Sensors", "Away"].map((x) => h("th", {}, x)))),
      h("tbody", {}, rows)),
    cares.length === 0 ? h("p", { className: "muted" }, "No care households yet.") : null));
}

// --- notices -------------------------------------------------------------------------------

function copiesText(copies) {
  return `${copies.delivered} sent · ${copies.pending} waiting · ${copies.failed} failed`;
}

export async function renderNotices(view) {
  const [notices, households] = await Promise.all([api.notices(), api.households()]);
  const send = onSubmit(
    h("form", { className: "action", id: "send-notice" },
      field("To", select("scope", [["building", "a building"], ["site", "a site"], ["households", "households"]])),
      field("Building or site", h("input", { name: "where", placeholder: "Building 2 / site id" })),
      field("Households", select("household_ids", householdOptions(households), { multiple: true, size: 3 })),
      field("Category", select("category", NOTICE_CATEGORIES.map((c) => [c, label(c)]))),
      field("Title", h("input", { name: "title", required: true, maxlength: 128 })),
      field("Text", h("textarea", { name: "body", required: true, maxlength: 4000, rows: 2 })),
      h("button", { type: "submit" }, "Send notice")),
    async (data) => {
      const scope = data.get("scope");
      const body = { scope, category: data.get("category"), title: data.get("title"), body: data.get("body") };
      if (scope === "building") body.building = data.get("where");
      if (scope === "site") body.site_id = data.get("where");
      if (scope === "households") body.household_ids = data.getAll("household_ids").map(Number);
      const sent = await api.sendNotice(body);
      toast(`Notice sent to ${sent.recipients} households`);
    },
    () => renderNotices(view));
  const items = notices.map((n) => h("article", { className: "notice case-page", "data-notice-id": n.id },
    h("h3", {}, pill(n.category === "evacuation" ? "critical" : "low", n.category), " ", n.title),
    h("p", {}, n.body),
    h("p", { className: "muted" }, `${when(n.created_at)} · ${n.created_by || "—"} · to ${label(n.scope)} ${n.building || n.site_id || ""}`),
    h("p", { className: "read-count" }, `read by ${n.read} of ${n.recipients}`, h("span", { className: "muted" }, ` · copies: ${copiesText(n.copies)}`)),
    h("ul", { className: "receipts" }, n.receipts.map((r) => h("li", {
      "data-household-id": r.household_id, "data-read": r.read_at ? "yes" : "no",
    }, r.read_at ? "✓ " : "○ ", r.household_name, " ",
    h("span", { className: "muted" }, r.read_at ? `read ${when(r.read_at)}` : "not read yet"),
    r.copies.map((c) => h("span", { className: "muted" }, ` · ${c.contact} (${c.channel}): ${c.status}`)))))));
  view.replaceChildren(h("section", { className: "residents-page notices-page" },
    h("h2", {}, "Notices"), send, items,
    notices.length === 0 ? h("p", { className: "muted" }, "No notices sent yet.") : null));
}
