// The signed-in person's own account: signing in, who the top bar says is signed in, and
// changing the password (POST /api/v1/auth/password, with the one in use). The account's
// other sessions end; this screen stays signed in.

import { api, ApiError } from "./api.js";
import { h, toast } from "./dom.js";

export function renderAccount(view, me) {
  const error = h("p", { className: "error", id: "password-error", role: "alert" });
  const field = (name, text, autocomplete) =>
    h("label", { for: name }, h("span", {}, text),
      h("input", { id: name, name, type: "password", autocomplete, required: true, minLength: 10 }));
  const form = h("form", {
    className: "sign-in", id: "change-password",
    onsubmit: async (event) => {
      event.preventDefault();
      error.textContent = "";
      if (form.new_password.value !== form.repeat_password.value) {
        error.textContent = "The new password and its repetition differ.";
        return;
      }
      const button = form.querySelector("button");
      button.disabled = true;
      try {
        const done = await api.changePassword(form.current_password.value, form.new_password.value);
        form.reset();
        const ended = done.sessions_ended;
        toast(ended ? `Password changed; ${ended} other session${ended === 1 ? "" : "s"} signed out` : "Password changed");
      } catch (failure) {
        error.textContent = failure instanceof ApiError ? failure.detail : String(failure);
      } finally {
        button.disabled = false;
      }
    },
  },
  h("h2", {}, me ? `Password of ${me.name}` : "Password"),
  field("current_password", "Current password", "current-password"),
  field("new_password", "New password (10 characters or more)", "new-password"),
  field("repeat_password", "New password again", "new-password"),
  error,
  h("p", { className: "muted" }, "Your other sessions (another screen, a lost phone) are signed out."),
  h("button", { type: "submit" }, "Change password"));
  view.replaceChildren(form);
}

/** The sign-in form, saying ``message`` (why the session ended); ``onSignedIn`` runs once
 * the hub took the password. */
export function signInForm(message, onSignedIn) {
  const error = h("p", { className: "error", id: "sign-in-error" }, message || "");
  const form = h("form", {
    className: "sign-in", id: "sign-in",
    onsubmit: async (event) => {
      event.preventDefault();
      const button = form.querySelector("button");
      button.disabled = true;
      try {
        await api.signIn(form.username.value.trim(), form.password.value);
        form.reset();
        await onSignedIn();
      } catch (failure) {
        error.textContent = failure instanceof ApiError ? failure.detail : String(failure);
      } finally {
        button.disabled = false; // also when the hub still refuses us: this form stays
      }
    },
  },
  h("h2", {}, "Sign in"),
  h("label", { for: "username" }, h("span", {}, "Username"), h("input", { id: "username", name: "username", autocomplete: "username", required: true })),
  h("label", { for: "password" }, h("span", {}, "Password"), h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true })),
  error,
  h("button", { type: "submit" }, "Sign in"));
  return form;
}

/** Say in the top bar who is signed in (``me``: {name, role}), or nobody (null); the
 * Accounts page is offered to admins only. */
export function showIdentity(me) {
  const who = document.getElementById("who");
  who.textContent = me ? `${me.name} · ${me.role}` : "";
  who.hidden = !me;
  document.getElementById("sign-out").hidden = !me;
  document.getElementById("account").hidden = !me;
  document.getElementById("accounts-nav").hidden = me?.role !== "admin";
}
