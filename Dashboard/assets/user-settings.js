// Settings: password, pool preference and the sign-ins that still stand (end one, or all of them).

import { api, signOut } from "./api.js";
import { h, mount, field, table, loadInto, loading, errorState, toast, confirmDialog, formatDate, formatRelative, formatCredits } from "./dom.js";
import { pageHead, card, formMessages, withBusy, select, focusHeading } from "./user-ui.js";

const PREFERENCES = [
  ["dedicated_first", "My accounts first"],
  ["shared_first", "Shared pool first"],
  ["dedicated_only", "My accounts only"],
];

/** Goes back to sign-in once the server has ended this sign-in. */
async function leave() {
  try {
    await signOut(); // clears the cookies and dispatches sluice:signed-out
  } catch {
    window.dispatchEvent(new CustomEvent("sluice:signed-out"));
  }
}

/**
 * @param {HTMLElement} root
 * @param {object} _params
 * @param {{user: object|null}} session the app's signed-in user, kept current here
 */
export async function settingsPage(root, _params, session) {
  const accountBox = h("div");
  const preferenceBox = h("div");
  const sessionsBox = h("div");
  const everywhere = h("button", { type: "button", id: "signout-everywhere", class: "danger" }, "Sign out everywhere");
  const sessionsCard = card("Where you are signed in", {}, sessionsBox, h("div", { class: "form-actions" }, everywhere));
  everywhere.addEventListener("click", async () => {
    if (!(await confirmDialog("Sign out of every browser and device, this one included?", "Sign out everywhere"))) return;
    await withBusy(everywhere, async () => {
      try {
        await api("/api/auth/sessions", { method: "DELETE" });
      } catch (error) {
        toast(`Could not sign out everywhere: ${error.message}`, "error");
        return;
      }
      await leave();
    });
  });

  const loadSessions = () => loadInto(sessionsBox, renderSessions, "Loading your sign-ins…");

  async function renderSessions() {
    const answer = await api("/api/auth/sessions");
    return table({
      id: "sessions-table",
      caption: "Active sign-ins, last used first",
      rows: answer.data || [],
      rowKey: (s) => ["data-session-id", s.id],
      empty: "No active sign-ins.",
      columns: [
        { label: "Device", value: (s) => [s.device || "Unknown device", s.current ? [" ", h("span", { class: "badge info" }, "This browser")] : null], className: "wrap" },
        { label: "Address", value: (s) => s.address || "" },
        { label: "Signed in", value: (s) => formatDate(s.created_at), className: "nowrap" },
        { label: "Last used", value: (s) => h("span", { title: formatDate(s.last_used_at) }, formatRelative(s.last_used_at)), className: "nowrap" },
        {
          label: "Actions",
          value: (s) =>
            h("button", { type: "button", class: "small", "data-action": "end", "aria-label": s.current ? "End this sign-in (signs you out)" : `End the sign-in on ${s.device || "an unknown device"}`, onclick: () => end(s) }, "End"),
        },
      ],
    });
  }

  async function end(s) {
    if (s.current && !(await confirmDialog("End the sign-in of this browser? You will be signed out.", "Sign out"))) return;
    try {
      await api(`/api/auth/sessions/${encodeURIComponent(s.id)}`, { method: "DELETE" });
    } catch (error) {
      toast(`Could not end the sign-in: ${error.message}`, "error");
      return;
    }
    if (s.current) return leave();
    toast("Sign-in ended.", "success");
    await loadSessions();
    focusHeading(sessionsCard);
  }

  mount(
    root,
    pageHead("Settings"),
    h("div", { class: "grid-2" }, card("Your account", {}, accountBox), card("Pool preference", {}, preferenceBox)),
    card("Password", {}, passwordForm()),
    sessionsCard,
  );

  const loadAccount = async () => {
    mount(preferenceBox, loading());
    const loaded = await loadInto(accountBox, async () => {
      const user = await api("/api/auth/me");
      session.user = user;
      mount(preferenceBox, preferenceForm(user, session));
      return h(
        "dl",
        { class: "facts" },
        fact("Email", user.email),
        fact("Plan", user.plan),
        fact("Balance", `${formatCredits(user.balance)} credits`),
        fact("Trust level", String(user.trust_level ?? "—")),
        fact("Role", user.role),
      );
    });
    if (!loaded) mount(preferenceBox, errorState("Your settings could not be loaded.", loadAccount));
  };

  await Promise.all([loadAccount(), loadSessions()]);
}

function fact(term, value) {
  return [h("dt", {}, term), h("dd", {}, value ?? "—")];
}

/**
 * A settings form: its fields, a submit button, and the two message lines. `send` does the
 * change and returns what to say when it worked; a failure shows the API's message.
 */
function settingsForm({ id, label, submitId, submitLabel, fields, send }) {
  const save = h("button", { type: "submit", id: submitId, class: "primary" }, submitLabel);
  const messages = formMessages();
  const form = h("form", { id, "aria-label": label }, ...fields, messages.nodes, h("div", { class: "form-actions" }, save));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    messages.clear();
    await withBusy(
      save,
      async () => {
        try {
          messages.ok(await send());
        } catch (error) {
          messages.fail(error);
        }
      },
      "Saving…",
    );
  });
  return form;
}

function preferenceForm(user, session) {
  const preference = select({ id: "pool-preference", name: "pool_preference" }, PREFERENCES);
  preference.value = user.pool_preference || "dedicated_first";
  return settingsForm({
    id: "preference-form",
    label: "Pool preference",
    submitId: "save-preference",
    submitLabel: "Save",
    fields: [
      field("Which accounts serve your requests", preference, "Which tier tries your requests first; the other tier is the fallback, except with “My accounts only”. Your accounts are the ones under “My accounts”; the shared pool spends your allowance (Quotas)."),
    ],
    send: async () => {
      session.user = await api("/api/auth/me", { method: "PATCH", body: { pool_preference: preference.value } });
      return "Saved. New requests follow this preference.";
    },
  });
}

/** Changes the password; the server ends every other sign-in, so this browser stays signed in. */
function passwordForm() {
  const current = h("input", { id: "password-current", type: "password", autocomplete: "current-password", name: "current_password" });
  const next = h("input", { id: "password-new", type: "password", autocomplete: "new-password", name: "new_password", required: true, minlength: "8" });
  return settingsForm({
    id: "password-form",
    label: "Change password",
    submitId: "password-save",
    submitLabel: "Change password",
    fields: [
      field("Current password", current, "Leave empty if you signed up with single sign-on and have no password yet."),
      field("New password", next, "8 characters or more. Every other browser and device is signed out."),
    ],
    send: async () => {
      await api("/api/auth/password", { method: "POST", body: { current_password: current.value || undefined, new_password: next.value } });
      current.value = "";
      next.value = "";
      return "Password changed. Other sign-ins have ended.";
    },
  });
}
