// My accounts: contribute an upstream account (its secret is sent once and never shown again)
// and watch its state.

import { api } from "./api.js";
import { h, mount, field, table, loadInto, toast, confirmDialog, formatNumber, formatDate, formatRelative } from "./dom.js";
import { pageHead, card, formMessages, withBusy, markInvalid, select, formatPercent, focusHeading } from "./user-ui.js";

/** Used when /openapi.json is off (production): the providers Sluice ships with. */
const FALLBACK_PROVIDERS = [
  { id: "anthropic", kinds: ["api-key", "cookie", "oauth"] },
  { id: "deepseek", kinds: ["api-key", "cookie"] },
  { id: "gemini", kinds: ["api-key", "cookie", "oauth"] },
  { id: "groq", kinds: ["api-key", "cookie"] },
  { id: "openai", kinds: ["api-key", "cookie"] },
  { id: "openai-responses", kinds: ["api-key", "cookie"] },
];

const KIND_LABELS = { "api-key": "API key", cookie: "Browser cookie", oauth: "OAuth token" };
const STATE = {
  ok: ["ok", "Working"],
  cooling: ["warn", "Cooling down"],
  needs_reauth: ["bad", "Needs a new secret"],
  disabled: ["bad", "Disabled"],
};

/** The providers this server configures, read from the request schema of POST /api/accounts. */
async function loadProviders() {
  try {
    const doc = await api("/openapi.json");
    const schema = doc.paths["/api/accounts"].post.requestBody.content["application/json"].schema;
    const variants = schema.anyOf || [schema];
    const providers = variants
      .map((v) => ({
        id: v.properties.provider.enum[0],
        kinds: (v.properties.kind?.anyOf || []).flatMap((k) => k.enum || []),
      }))
      .filter((p) => p.id);
    return providers.length ? providers : FALLBACK_PROVIDERS;
  } catch {
    return FALLBACK_PROVIDERS;
  }
}

/**
 * @param {HTMLElement} root
 */
export async function accountsPage(root) {
  const listBox = h("div");
  const formBox = h("div");
  const listCard = card("Your accounts", {}, listBox);
  const loadList = () => loadInto(listBox, renderList, "Loading your accounts…");

  async function renderList() {
    const answer = await api("/api/accounts");
    return table({
      id: "accounts-table",
      caption: "Accounts you contributed",
      rows: answer.data || [],
      rowKey: (a) => ["data-account-id", a.id],
      empty: "You have not contributed an account. Add one below to use your own provider capacity.",
      columns: [
        { label: "Provider", value: (a) => [a.provider, h("br"), h("span", { class: "muted" }, KIND_LABELS[a.kind] || a.kind)] },
        { label: "State", value: state, className: "nowrap" },
        { label: "Sharing", value: (a) => (a.share_mode === "surplus" ? `Surplus, keeps ${a.reserve_percent ?? 0}% for you` : "Private") },
        { label: "Requests", value: (a) => formatNumber(a.requests), className: "num" },
        { label: "Error rate", value: (a) => formatPercent(a.error_rate), className: "num" },
        { label: "Last error", value: (a) => (a.last_error ? [a.last_error, h("br"), h("span", { class: "muted" }, formatDate(a.last_error_at))] : "None"), className: "wrap" },
        { label: "Added", value: (a) => formatDate(a.created_at), className: "nowrap" },
        {
          label: "Actions",
          value: (a) => h("button", { type: "button", class: "small danger", "data-action": "remove", "aria-label": `Remove ${a.provider} account ${a.id}`, onclick: () => remove(a) }, "Remove"),
        },
      ],
    });
  }

  async function remove(account) {
    if (!(await confirmDialog(`Remove this ${account.provider} account from Sluice? Its secret is deleted.`, "Remove account"))) return;
    try {
      await api(`/api/accounts/${encodeURIComponent(account.id)}`, { method: "DELETE" });
      toast("Account removed.", "success");
    } catch (error) {
      toast(`Could not remove the account: ${error.message}`, "error");
    }
    await loadList();
    focusHeading(listCard);
  }

  mount(
    root,
    pageHead("My accounts", "Upstream provider accounts you add serve your own requests first, and can lend their spare capacity to others."),
    listCard,
    card("Add an account", {}, formBox),
  );
  await Promise.all([loadList(), loadInto(formBox, async () => accountForm(await loadProviders(), loadList), "Loading providers…")]);
}

function state(account) {
  const [kind, label] = STATE[account.state] || ["", account.state];
  const until = account.state === "cooling" && account.scopes ? account.scopes.map((s) => s.cooling_until).filter(Boolean).sort()[0] : null;
  return [h("span", { class: `badge ${kind}` }, label), until ? [h("br"), h("span", { class: "muted", title: formatDate(until) }, `back ${formatRelative(until)}`)] : null];
}

function accountForm(providers, reload) {
  const provider = select({ id: "account-provider", name: "provider", required: true }, providers.map((p) => [p.id, p.id]));
  const kind = h("select", { id: "account-kind", name: "kind" });
  const secret = h("input", { id: "account-secret", name: "secret", type: "password", required: true, autocomplete: "off", spellcheck: "false", maxlength: "16384" });
  const share = select({ id: "account-share", name: "share_mode" }, [
    ["private", "Private: only my requests"],
    ["surplus", "Surplus: lend spare capacity to the pool"],
  ]);
  const reserve = h("input", { id: "account-reserve", name: "reserve_percent", type: "number", min: "0", max: "100", step: "1", inputmode: "numeric", placeholder: "e.g. 20" });
  const submit = h("button", { type: "submit", id: "account-submit", class: "primary" }, "Add account");
  const messages = formMessages();
  const byParam = { provider, kind, secret, share_mode: share, reserve_percent: reserve };

  // Only the kinds of secret the chosen provider takes.
  const fillKinds = () => {
    const chosen = providers.find((p) => p.id === provider.value);
    const kinds = chosen && chosen.kinds.length ? chosen.kinds : ["api-key"];
    kind.replaceChildren(...kinds.map((k) => h("option", { value: k }, KIND_LABELS[k] || k)));
  };
  provider.addEventListener("change", fillKinds);
  fillKinds();

  const form = h(
    "form",
    { id: "account-form", "aria-label": "Add an upstream account" },
    h(
      "div",
      { class: "form-grid" },
      field("Provider", provider),
      field("Kind of secret", kind),
      h("div", { class: "wide" }, field("Secret", secret, "The provider API key, cookie or OAuth token. Sluice stores it encrypted and never shows it again.")),
      field("Sharing", share),
      field("Reserve (%)", reserve, "In surplus mode, others use the account only while more than this share of its quota is left."),
    ),
    messages.nodes,
    h("div", { class: "form-actions" }, submit),
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    messages.clear();
    if (!secret.value) {
      messages.fail("Enter the account's secret.");
      secret.focus();
      return;
    }
    const body = { provider: provider.value, kind: kind.value || undefined, secret: secret.value, share_mode: share.value };
    const reserveText = reserve.value.trim();
    if (reserveText) {
      const n = Number(reserveText);
      if (!Number.isInteger(n) || n < 0 || n > 100) {
        markInvalid(byParam, { param: "reserve_percent" });
        messages.fail("Reserve is a whole percentage from 0 to 100.");
        return;
      }
      body.reserve_percent = n;
    }
    await withBusy(
      submit,
      async () => {
        try {
          await api("/api/accounts", { method: "POST", body });
          secret.value = ""; // the secret leaves the page as soon as the server has it
          reserve.value = "";
          markInvalid(byParam, null);
          messages.ok(`Your ${body.provider} account was added.`);
          toast("Account added.", "success");
          reload();
        } catch (error) {
          messages.fail(error);
          markInvalid(byParam, error);
        }
      },
      "Adding…",
    );
  });
  return form;
}
