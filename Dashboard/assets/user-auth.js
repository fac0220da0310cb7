// The signed-out views: sign in (with the two-factor step) and create an account.

import { api, signIn, ApiError } from "./api.js";
import { h, mount, field } from "./dom.js";
import { formMessages, withBusy } from "./user-ui.js";

/**
 * Renders the sign-in view into `root`.
 * @param {HTMLElement} root
 * @param {{onSignedIn: (user: object) => void, message?: string, email?: string}} options
 */
export function renderSignIn(root, { onSignedIn, message, email = "" }) {
  document.title = "Sign in · Sluice";
  const emailInput = h("input", { id: "signin-email", type: "email", name: "email", autocomplete: "username", required: true, value: email });
  const passwordInput = h("input", { id: "signin-password", type: "password", name: "password", autocomplete: "current-password", required: true });
  const otpInput = h("input", {
    id: "signin-otp",
    type: "text",
    name: "otp",
    autocomplete: "one-time-code",
    inputmode: "numeric",
    spellcheck: "false",
    autocapitalize: "off",
  });
  // Hidden until the server says the account needs a second factor.
  const otpField = field("Two-factor code", otpInput, "The 6-digit code from your authenticator app, or a recovery code.");
  otpField.hidden = true;
  const submit = h("button", { type: "submit", id: "signin-submit", class: "primary" }, "Sign in");
  const messages = formMessages();

  const form = h(
    "form",
    { id: "signin-form", "aria-labelledby": "signin-title" },
    field("Email", emailInput),
    field("Password", passwordInput),
    otpField,
    messages.nodes,
    h("div", { class: "form-actions" }, submit),
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    messages.clear();
    await withBusy(
      submit,
      async () => {
        try {
          const user = await signIn(emailInput.value.trim(), passwordInput.value, otpField.hidden ? undefined : otpInput.value.trim());
          onSignedIn(user);
        } catch (error) {
          if (error instanceof ApiError && error.code === "two_factor_required") {
            const asked = !otpField.hidden;
            otpField.hidden = false;
            otpInput.required = true;
            messages.fail(asked && otpInput.value ? "That code did not work. Try the current code." : "This account uses two-factor sign-in: enter the code from your authenticator app.");
            otpInput.value = "";
            otpInput.focus();
          } else {
            const wrong = error instanceof ApiError && error.status === 401 && !otpField.hidden;
            messages.fail(wrong ? "Wrong password or two-factor code." : signInMessage(error));
            passwordInput.focus();
          }
        }
      },
      "Signing in…",
    );
  });

  const toRegister = h("button", { type: "button", id: "show-register", class: "link" }, "Create an account");
  toRegister.addEventListener("click", () => renderRegister(root, { onSignedIn, email: emailInput.value.trim() }));

  mount(
    root,
    h(
      "div",
      { class: "auth" },
      h(
        "div",
        { class: "card" },
        h("h1", { id: "signin-title", tabindex: "-1" }, "Sign in to Sluice"),
        message ? h("p", { class: "notice info", role: "status" }, message) : null,
        form,
      ),
      h("p", { class: "auth-switch" }, "New here? ", toRegister),
    ),
  );
  (email ? passwordInput : emailInput).focus();
}

/** What to tell the user about a failed sign-in. */
function signInMessage(error) {
  if (!(error instanceof ApiError)) return "Could not sign in. Try again.";
  if (error.code === "invalid_credentials" || error.status === 401) return "Wrong email or password.";
  if (error.status === 429) return "Too many sign-in attempts. Wait a minute, then try again.";
  if (error.code === "user_disabled") return "This account is disabled. Contact your administrator.";
  if (error.code === "email_not_verified") return "Verify your email first: follow the link in the mail we sent you, then sign in.";
  return error.message;
}

/**
 * Renders the create-account view; on success it signs the new user in.
 * @param {HTMLElement} root
 * @param {{onSignedIn: (user: object) => void, email?: string}} options
 */
export function renderRegister(root, { onSignedIn, email = "" }) {
  document.title = "Create an account · Sluice";
  const emailInput = h("input", { id: "register-email", type: "email", name: "email", autocomplete: "username", required: true, maxlength: "254", value: email });
  const passwordInput = h("input", {
    id: "register-password",
    type: "password",
    name: "password",
    autocomplete: "new-password",
    required: true,
    minlength: "8",
    maxlength: "72",
  });
  const submit = h("button", { type: "submit", id: "register-submit", class: "primary" }, "Create account");
  const messages = formMessages();

  const form = h(
    "form",
    { id: "register-form", "aria-labelledby": "register-title" },
    field("Email", emailInput),
    field("Password", passwordInput, "8 to 72 characters."),
    messages.nodes,
    h("div", { class: "form-actions" }, submit),
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    messages.clear();
    const address = emailInput.value.trim();
    const password = passwordInput.value;
    await withBusy(
      submit,
      async () => {
        try {
          await api("/api/auth/register", { method: "POST", body: { email: address, password } });
        } catch (error) {
          messages.fail(registerMessage(error));
          (error.param === "password" ? passwordInput : emailInput).focus();
          return;
        }
        messages.ok("Account created. Signing you in…");
        try {
          onSignedIn(await signIn(address, password));
        } catch (error) {
          // Created, but signing in needs more (e.g. a verified email): let the user try from the sign-in view.
          renderSignIn(root, { onSignedIn, email: address, message: `Your account was created. ${signInMessage(error)}` });
        }
      },
      "Creating…",
    );
  });

  const toSignIn = h("button", { type: "button", id: "show-signin", class: "link" }, "Sign in");
  toSignIn.addEventListener("click", () => renderSignIn(root, { onSignedIn, email: emailInput.value.trim() }));

  mount(
    root,
    h(
      "div",
      { class: "auth" },
      h("div", { class: "card" }, h("h1", { id: "register-title", tabindex: "-1" }, "Create your Sluice account"), form),
      h("p", { class: "auth-switch" }, "Have an account? ", toSignIn),
    ),
  );
  emailInput.focus();
}

function registerMessage(error) {
  if (!(error instanceof ApiError)) return "Could not create the account. Try again.";
  if (error.status === 409) return "An account with this email exists already. Sign in instead.";
  if (error.status === 403) return error.message || "Registration is closed on this server.";
  if (error.status === 429) return "Too many attempts. Wait a minute, then try again.";
  return error.message;
}
