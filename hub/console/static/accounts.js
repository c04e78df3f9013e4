// Accounts, for admins (#/accounts): who signs in to this console and the API. Add an account,
// change its role, sites or shown name (PATCH /api/v1/users/<id>), disable or enable it, set a
// new password. A scoped admin sees and changes its sites' accounts only (the hub decides, and
// its refusal is shown). Changing someone's role or sites reaches their open screens at once.

import { api, refusalText } from "./api.js";
import { h, toast, when } from "./dom.js";

const ROLES = ["admin", "operator", "responder"];

/** The sites typed in a field ("lanyuan, meiyuan", also 、 or ，): null for none (every site). */
export function sitesOf(text) {
  const sites = text.split(/[\s,，、;]+/).filter(Boolean);
  return sites.length ? [...new Set(sites)] : null;
}

function sitesText(sites) {
  return sites === null ? "" : sites.join(", ");
}

function scopeText(sites) {
  return sites === null ? "every site" : sites.join(", ");
}

export async function renderAccounts(view, me) {
  const error = h("p", { className: "error", id: "accounts-error", role: "alert" });
  const table = h("table", { className: "devices accounts", id: "accounts" });
  // Whatever was done, the list is read again: what the hub now says, not what was sent.
  const act = async (button, work, done) => {
    error.textContent = "";
    button.disabled = true;
    try {
      const result = await work();
      toast(done(result));
      await fill();
    } catch (failure) {
      error.textContent = refusalText(failure);
    } finally {
      button.disabled = false;
    }
  };

  const row = (user) => {
    const self = me && me.name === user.username;
    const roles = ROLES.includes(user.role) ? ROLES : [...ROLES, user.role];
    const role = h("select", { name: "role", "aria-label": `Role of ${user.username}`, disabled: self },
      roles.map((name) => h("option", { value: name, selected: name === user.role }, name)));
    const sites = h("input", {
      name: "sites", value: sitesText(user.sites), placeholder: "every site", disabled: self,
      "aria-label": `Sites of ${user.username} (empty: every site)`,
    });
    const shown = h("input", { name: "display_name", value: user.display_name, maxLength: 128, "aria-label": `Shown name of ${user.username}`, required: true });
    const save = h("button", {
      type: "button", className: "save",
      onclick: () => act(save, () => {
        const change = {};
        if (shown.value.trim() !== user.display_name) change.display_name = shown.value.trim();
        if (!self && role.value !== user.role) change.role = role.value;
        const typed = sitesOf(sites.value);
        if (!self && JSON.stringify(typed) !== JSON.stringify(user.sites)) change.sites = typed;
        return api.changeUser(user.id, change);
      }, (changed) => `${changed.username} is ${changed.role} for ${scopeText(changed.sites)}`),
    }, "Save");
    const toggle = h("button", {
      type: "button", className: "toggle", disabled: self,
      onclick: () => {
        const disabling = !user.disabled;
        if (disabling && !confirm(`Disable ${user.username}? Their sessions end, and the API tokens they issued stop for good.`)) return;
        act(toggle, () => api.setUserDisabled(user.id, disabling),
          (changed) => `${changed.username} ${changed.disabled ? "disabled" : "enabled"}`);
      },
    }, user.disabled ? "Enable" : "Disable");
    const password = h("input", {
      name: "new_password", type: "password", autocomplete: "new-password", minLength: 10,
      placeholder: "new password", "aria-label": `New password of ${user.username}`,
    });
    const setPassword = h("button", {
      type: "button", className: "password",
      onclick: () => {
        if (password.value.length < 10) {
          error.textContent = `A new password for ${user.username} has 10 characters or more.`;
          return;
        }
        act(setPassword, () => api.resetPassword(user.id, password.value),
          (changed) => `New password for ${changed.username}; their sessions ended`);
      },
    }, "Set password");
    return h("tr", { "data-user": user.username, className: user.disabled ? "disabled" : "" },
      h("th", { scope: "row" }, user.username, self ? h("span", { className: "muted" }, " (you)") : null),
      h("td", {}, shown),
      h("td", {}, role),
      h("td", {}, sites),
      h("td", { className: "state" }, user.disabled ? "disabled" : "enabled", h("br"),
        h("span", { className: "muted" }, `added ${when(user.created_at)}`)),
      h("td", { className: "actions" }, save, " ", toggle, " ", password, " ", setPassword));
  };

  async function fill() {
    const users = await api.users();
    table.replaceChildren(
      h("thead", {}, h("tr", {}, ["Username", "Shown name", "Role", "Sites", "State", ""].map((name) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, users.map(row)));
  }

  const add = h("form", {
    className: "add-account", id: "add-account",
    onsubmit: (event) => {
      event.preventDefault();
      if (add.password.value !== add.repeat_password.value) {
        error.textContent = "The password and its repetition differ.";
        return;
      }
      const body = {
        username: add.username.value.trim(),
        password: add.password.value,
        role: add.role.value,
        sites: sitesOf(add.sites.value),
      };
      if (add.display_name.value.trim()) body.display_name = add.display_name.value.trim();
      act(add.querySelector("button"), async () => {
        const created = await api.createUser(body);
        add.reset();
        return created;
      }, (created) => `${created.username} added: ${created.role} for ${scopeText(created.sites)}`);
    },
  },
  h("h3", {}, "Add an account"),
  h("label", {}, h("span", {}, "Username"), h("input", { name: "username", required: true, autocomplete: "off", pattern: "[A-Za-z0-9._@-]{1,64}" })),
  h("label", {}, h("span", {}, "Shown name"), h("input", { name: "display_name", maxLength: 128 })),
  h("label", {}, h("span", {}, "Role"), h("select", { name: "role" }, ROLES.map((name) => h("option", { value: name, selected: name === "operator" }, name)))),
  h("label", {}, h("span", {}, "Sites (empty: every site)"), h("input", { name: "sites" })),
  h("label", {}, h("span", {}, "Password (10 characters or more)"), h("input", { name: "password", type: "password", autocomplete: "new-password", minLength: 10, required: true })),
  h("label", {}, h("span", {}, "Password again"), h("input", { name: "repeat_password", type: "password", autocomplete: "new-password", minLength: 10, required: true })),
  h("button", { type: "submit" }, "Add"));

  await fill();
  view.replaceChildren(h("section", { className: "accounts-page" },
    h("h2", {}, "Accounts"),
    h("p", { className: "muted" },
      "Changing someone's role or sites reaches their open screens at once; the API tokens they issued " +
      "and could not issue now stop for good. Your own role and sites are another admin's to change. ",
      h("a", { href: "#/tokens", id: "tokens-link" }, "API tokens"), " (for scripts, kiosks and edges): issue and revoke them."),
    error, table, add));
}
