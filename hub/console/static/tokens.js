// API tokens, for admins (#/tokens, linked from the Accounts page): the records of the tokens
// scripts, kiosks and edges use (GET /api/v1/tokens: never the secrets, which the hub does not
// keep), issuing one (POST /api/v1/tokens: its secret shown this once, with a copy button) and
// revoking one (DELETE /api/v1/tokens/<id>, asked to confirm). A scoped admin sees, issues and
// revokes its sites' tokens only: the hub decides, and its refusal is shown in its words.

import { api, ApiError, refusalText } from "./api.js";
import { sitesOf } from "./accounts.js";
import { h, toast, when } from "./dom.js";

const ROLES = ["operator", "responder", "edge", "admin"];

function scopeText(sites) {
  return sites === null ? "every site" : sites.join(", ");
}

/** What a token's record says of it now: revoked, expired or in use. */
function standing(token, now = Date.now()) {
  if (token.revoked_at) return { state: "revoked", text: `revoked ${when(token.revoked_at)}` };
  if (token.expires_at && new Date(token.expires_at).getTime() <= now) {
    return { state: "expired", text: `expired ${when(token.expires_at)}` };
  }
  return { state: "active", text: token.expires_at ? `in use, until ${when(token.expires_at)}` : "in use, no expiry" };
}

/** The accounts' names by id, to say who issued a token; none when they cannot be read. */
async function issuers() {
  try {
    return new Map((await api.users()).map((user) => [user.id, user.username]));
  } catch (error) {
    if (error instanceof ApiError && error.status !== 401) return new Map();
    throw error;
  }
}

/** The secret of a token just issued, shown this once: a copy button, and the words that it
 * will not be shown again. It stays until the admin says it is copied (a list read again
 * leaves it), and goes with the page. */
function secretBox(issued, done) {
  const value = h("input", {
    id: "new-token-value", readonly: true, value: issued.token, spellcheck: "false",
    autocomplete: "off", "aria-label": `The secret of the token ${issued.record.name}`,
    "aria-describedby": "new-token-warning",
  });
  const copied = h("span", { className: "muted", id: "new-token-copied", role: "status" });
  const copy = h("button", {
    type: "button", id: "new-token-copy",
    onclick: async () => {
      value.select();
      try {
        await navigator.clipboard.writeText(issued.token);
        copied.textContent = "Copied.";
      } catch {
        // No clipboard for this page (a browser's policy): the secret is selected to copy.
        copied.textContent = "Selected: press Ctrl+C (⌘C) to copy it.";
      }
    },
  }, "Copy");
  const close = h("button", { type: "button", id: "new-token-done", onclick: done }, "I have copied it");
  return h("section", { className: "new-token", id: "new-token", "aria-labelledby": "new-token-title" },
    h("h3", { id: "new-token-title" }, `Token "${issued.record.name}" issued: ${issued.record.role} for ${scopeText(issued.record.sites)}`),
    h("p", { id: "new-token-warning", className: "warning" },
      "Copy it now: you will not see it again. The hub keeps only a fingerprint of it; lost, it cannot be shown, only revoked and issued anew."),
    h("div", { className: "new-token-value" }, value, " ", copy, " ", copied),
    close);
}

export async function renderTokens(view) {
  const error = h("p", { className: "error", id: "tokens-error", role: "alert" });
  const table = h("table", { className: "devices tokens", id: "tokens", tabindex: -1 });
  const shown = h("div", { id: "new-token-slot" });
  const fail = (failure) => {
    error.textContent = refusalText(failure);
  };

  const row = (token, names) => {
    const now = standing(token);
    const by = token.user_id === null ? "no one (the host or the bootstrap token)"
      : names.get(token.user_id) || `account ${token.user_id}`;
    const revoke = now.state === "revoked" ? null : h("button", {
      type: "button", className: "revoke", "aria-label": `Revoke the token ${token.name}`,
      onclick: async () => {
        if (!confirm(`Revoke the token "${token.name}" (${token.role} for ${scopeText(token.sites)})? ` +
          "Whatever uses it is refused from now on, and so are the tokens issued with it.")) return;
        error.textContent = "";
        revoke.disabled = true;
        try {
          const revoked = await api.revokeToken(token.id);
          toast(`Token "${revoked.name}" revoked`);
          await fill();
          table.focus(); // its button is gone with the row drawn anew: the keyboard stays on the list
        } catch (failure) {
          fail(failure);
          revoke.disabled = false;
        }
      },
    }, "Revoke…");
    return h("tr", { "data-token": token.id, "data-name": token.name, "data-state": now.state, className: now.state === "active" ? "" : "over" },
      h("th", { scope: "row" }, token.name),
      h("td", {}, token.role),
      h("td", {}, scopeText(token.sites)),
      h("td", {}, by),
      h("td", {}, when(token.created_at)),
      h("td", { className: "state" }, now.text),
      h("td", { className: "actions" }, revoke));
  };

  async function fill() {
    const [tokens, names] = await Promise.all([api.tokens(), issuers()]);
    tokens.sort((a, b) => b.id - a.id); // the newest first: the one just issued on top
    table.replaceChildren(
      h("caption", { className: "muted" }, tokens.length ? `${tokens.length} token${tokens.length > 1 ? "s" : ""} (never their secrets)` : "No API token yet."),
      h("thead", {}, h("tr", {}, ["Name", "Role", "Sites", "Issued by", "Issued", "State", ""].map((name) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, tokens.map((token) => row(token, names))));
  }

  const form = h("form", {
    className: "add-account issue-token", id: "issue-token",
    onsubmit: async (event) => {
      event.preventDefault();
      error.textContent = "";
      const body = { name: form.name.value.trim(), role: form.role.value, sites: sitesOf(form.sites.value) };
      if (form.expires_in_days.value) body.expires_in_days = Number(form.expires_in_days.value);
      const button = form.querySelector("button");
      button.disabled = true;
      try {
        const issued = await api.issueToken(body);
        form.reset();
        const box = secretBox(issued, () => {
          shown.replaceChildren();
          form.name.focus();
        });
        shown.replaceChildren(box);
        box.querySelector("input").focus();
        box.querySelector("input").select();
        await fill().catch(fail);
      } catch (failure) {
        fail(failure);
      } finally {
        button.disabled = false;
      }
    },
  },
  h("h3", {}, "Issue a token"),
  h("label", {}, h("span", {}, "Name (what uses it: a script, a kiosk, an edge)"), h("input", { name: "name", required: true, maxLength: 128, autocomplete: "off" })),
  h("label", {}, h("span", {}, "Role"), h("select", { name: "role" }, ROLES.map((name) => h("option", { value: name }, name)))),
  h("label", {}, h("span", {}, "Sites (empty: every site)"), h("input", { name: "sites" })),
  h("label", {}, h("span", {}, "Expires after (days; empty: never)"), h("input", { name: "expires_in_days", type: "number", min: 1, max: 3650, step: 1 })),
  h("button", { type: "submit" }, "Issue"));

  await fill();
  view.replaceChildren(h("section", { className: "accounts-page tokens-page" },
    h("h2", {}, "API tokens"),
    h("p", { className: "muted" },
      "Tokens for scripts, kiosks and edges (Authorization: Bearer …). A token works while the admin who issued it could issue it now; " +
      "revoked, it is refused at once, and so are the tokens issued with it. ",
      h("a", { href: "#/accounts" }, "Accounts")),
    error, shown, table, form));
}
