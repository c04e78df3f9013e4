// The signed-in person's own account: change the password (POST /api/v1/auth/password, with
// the one in use). The account's other sessions end; this screen stays signed in.

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
