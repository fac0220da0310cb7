// API keys: create (the key is shown once, with ready snippets), list with limits, revoke.

import { api } from "./api.js";
import { h, mount, field, table, loadInto, toast, confirmDialog, formatCredits, formatNumber, formatDate, formatRelative } from "./dom.js";
import { pageHead, card, formMessages, withBusy, markInvalid, splitList, copyText, focusHeading } from "./user-ui.js";

/**
 * @param {HTMLElement} root
 */
export async function keysPage(root) {
  const newKeyBox = h("div");
  const listBox = h("div");
  const listCard = card("Your keys", {}, listBox);

  const loadList = () => loadInto(listBox, renderList, "Loading your keys…");

  async function renderList() {
    const answer = await api("/api/api-keys");
    const keys = (answer.data || []).slice().sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
    return table({
      id: "keys-table",
      caption: `${keys.length} ${keys.length === 1 ? "key" : "keys"}`,
      rows: keys,
      rowKey: (key) => ["data-key-id", key.id],
      empty: "You have no API keys yet. Create one above to call the API.",
      columns: [
        { label: "Name", value: (key) => key.name || h("span", { class: "muted" }, "(no name)"), className: "wrap" },
        { label: "Key", value: (key) => h("code", {}, `${key.prefix}…`) },
        { label: "Created", value: (key) => formatDate(key.created_at), className: "nowrap" },
        { label: "Last used", value: (key) => (key.last_used_at ? h("span", { title: formatDate(key.last_used_at) }, formatRelative(key.last_used_at)) : "Never"), className: "nowrap" },
        { label: "Limits", value: limits, className: "wrap" },
        {
          label: "Actions",
          value: (key) =>
            h(
              "button",
              { type: "button", class: "small danger", "data-action": "revoke", "aria-label": `Revoke key ${key.name || key.prefix}`, onclick: () => revoke(key) },
              "Revoke",
            ),
        },
      ],
    });
  }

  async function revoke(key) {
    const label = key.name ? `“${key.name}” (${key.prefix}…)` : `${key.prefix}…`;
    const ok = await confirmDialog(`Revoke the key ${label}? Programs using it are refused within a second. This cannot be undone.`, "Revoke key");
    if (!ok) return;
    try {
      await api(`/api/api-keys/${encodeURIComponent(key.id)}`, { method: "DELETE" });
      toast(`Key ${label} revoked.`, "success");
    } catch (error) {
      toast(`Could not revoke the key: ${error.message}`, "error");
    }
    await loadList();
    focusHeading(listCard);
  }

  mount(
    root,
    pageHead("API keys", "Keys let your programs call Sluice's OpenAI- and Anthropic-compatible API."),
    newKeyBox,
    card("Create a key", {}, createForm((key) => showNewKey(newKeyBox, key), loadList)),
    listCard,
  );
  await loadList();
}

/** The "Limits" cell: everything that restricts the key, one line each. */
function limits(key) {
  const lines = [];
  const rate = [];
  if (key.rpm_limit) rate.push(`${formatNumber(key.rpm_limit)} requests/min`);
  if (key.tpm_limit) rate.push(`${formatNumber(key.tpm_limit)} tokens/min`);
  if (rate.length) lines.push(rate.join(" · "));
  if (key.spend_limit !== null && key.spend_limit !== undefined) lines.push(`Spent ${formatCredits(key.spent)} of ${formatCredits(key.spend_limit)} credits`);
  else if (Number(key.spent) > 0) lines.push(`Spent ${formatCredits(key.spent)} credits`);
  if (key.allowed_models && key.allowed_models.length) lines.push(`Models: ${key.allowed_models.join(", ")}`);
  if (key.ip_allowlist && key.ip_allowlist.length) lines.push(`From: ${key.ip_allowlist.join(", ")}`);
  if (key.expires_at) {
    const expired = new Date(key.expires_at).getTime() <= Date.now();
    lines.push(expired ? h("span", { class: "badge bad" }, `Expired ${formatDate(key.expires_at)}`) : `Expires ${formatDate(key.expires_at)}`);
  }
  if (key.record_conversations) lines.push("Records conversations");
  if (lines.length === 0) return h("span", { class: "muted" }, "No limits");
  return lines.map((line, i) => [i ? h("br") : null, line]);
}

/** "10.50" -> "10.5"; the API takes a decimal string with at most 6 decimals. */
function creditsText(value) {
  const n = Number(value);
  if (!(n > 0)) return null;
  const text = n.toFixed(6).replace(/0+$/, "").replace(/\.$/, "");
  return Number(text) > 0 ? text : null;
}

/** The date input's day, at the end of that day in local time, as RFC 3339 UTC. */
function endOfLocalDay(value) {
  const [y, m, d] = value.split("-").map(Number);
  return new Date(y, m - 1, d, 23, 59, 59).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function createForm(onCreated, reload) {
  const tomorrow = new Date(Date.now() + 86400000);
  const localDay = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
  const inputs = {
    name: h("input", { id: "key-name", name: "name", maxlength: "100", placeholder: "e.g. Production server", autocomplete: "off" }),
    allowed_models: h("input", { id: "key-models", name: "models", placeholder: "e.g. gpt-4o-mini, claude-sonnet-4-5", autocomplete: "off", spellcheck: "false" }),
    rpm_limit: h("input", { id: "key-rpm", name: "rpm", type: "number", min: "1", step: "1", inputmode: "numeric" }),
    tpm_limit: h("input", { id: "key-tpm", name: "tpm", type: "number", min: "1", step: "1", inputmode: "numeric" }),
    spend_limit: h("input", { id: "key-spend", name: "spend", type: "number", min: "0.000001", step: "any", inputmode: "decimal" }),
    expires_at: h("input", { id: "key-expires", name: "expires", type: "date", min: localDay(tomorrow) }),
    ip_allowlist: h("input", { id: "key-ips", name: "ips", placeholder: "e.g. 203.0.113.4, 10.0.0.0/8", autocomplete: "off", spellcheck: "false" }),
  };
  const record = h("input", { id: "key-record", name: "record", type: "checkbox" });
  const submit = h("button", { type: "submit", id: "key-create", class: "primary" }, "Create key");
  const messages = formMessages();

  const form = h(
    "form",
    { id: "key-form", "aria-label": "Create an API key" },
    h(
      "div",
      { class: "form-grid" },
      field("Name", inputs.name, "So you can tell your keys apart."),
      field("Allowed models", inputs.allowed_models, "Comma separated. Empty: every model."),
      field("Requests per minute", inputs.rpm_limit, "Empty: no limit."),
      field("Tokens per minute", inputs.tpm_limit, "Empty: no limit."),
      field("Spend limit (credits)", inputs.spend_limit, "The most this key may spend in all. Empty: no limit."),
      field("Expires", inputs.expires_at, "The key stops working at the end of this day. Empty: never."),
      h("div", { class: "wide" }, field("IP allowlist", inputs.ip_allowlist, "Comma separated addresses or IPv4 ranges (CIDR). Empty: any address.")),
      h("div", { class: "wide" }, field("Record conversations", record, "Keep the prompts and replies of requests made with this key.")),
    ),
    messages.nodes,
    h("div", { class: "form-actions" }, submit),
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    messages.clear();
    const body = { record_conversations: record.checked };
    const name = inputs.name.value.trim();
    if (name) body.name = name;
    const models = splitList(inputs.allowed_models.value);
    if (models.length) body.allowed_models = models;
    for (const key of ["rpm_limit", "tpm_limit"]) {
      const text = inputs[key].value.trim();
      if (!text) continue;
      const n = Number(text);
      if (!Number.isInteger(n) || n < 1) {
        markInvalid(inputs, { param: key });
        return messages.fail("Rate limits are whole numbers of at least 1.");
      }
      body[key] = n;
    }
    if (inputs.spend_limit.value.trim()) {
      const spend = creditsText(inputs.spend_limit.value.trim());
      if (!spend) {
        markInvalid(inputs, { param: "spend_limit" });
        return messages.fail("The spend limit must be more than 0 (at most 6 decimals).");
      }
      body.spend_limit = spend;
    }
    if (inputs.expires_at.value) body.expires_at = endOfLocalDay(inputs.expires_at.value);
    const ips = splitList(inputs.ip_allowlist.value);
    if (ips.length) body.ip_allowlist = ips;

    await withBusy(
      submit,
      async () => {
        try {
          const key = await api("/api/api-keys", { method: "POST", body });
          markInvalid(inputs, null);
          form.reset();
          toast("Key created. Copy it now: it is shown only once.", "success");
          onCreated(key);
          reload();
        } catch (error) {
          messages.fail(error);
          markInvalid(inputs, error);
        }
      },
      "Creating…",
    );
  });
  return form;
}

/** Quotes a string for a POSIX shell. */
function shellQuote(text) {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Shows the new key once, with a copy button and ready-to-run snippets. */
function showNewKey(box, key) {
  const base = `${location.origin}/v1`;
  const model = (key.allowed_models && key.allowed_models[0]) || "gpt-4o-mini";
  const payload = JSON.stringify({ model, messages: [{ role: "user", content: "Hello!" }] });
  const curl = [
    `curl ${base}/chat/completions \\`,
    `  -H ${shellQuote(`Authorization: Bearer ${key.key}`)} \\`,
    `  -H 'Content-Type: application/json' \\`,
    `  -d ${shellQuote(payload)}`,
  ].join("\n");
  const python = [
    "from openai import OpenAI",
    "",
    "client = OpenAI(",
    `    base_url=${JSON.stringify(base)},`,
    `    api_key=${JSON.stringify(key.key)},`,
    ")",
    "",
    "response = client.chat.completions.create(",
    `    model=${JSON.stringify(model)},`,
    `    messages=[{"role": "user", "content": "Hello!"}],`,
    ")",
    "print(response.choices[0].message.content)",
  ].join("\n");

  const value = h("code", { id: "new-key-value" }, key.key);
  const copyButton = h("button", { type: "button", id: "copy-key", class: "primary" }, "Copy key");
  copyButton.addEventListener("click", async () => {
    if (await copyText(key.key, value)) {
      copyButton.textContent = "Copied";
      toast("Key copied to the clipboard.", "success");
    } else {
      toast("Could not reach the clipboard: the key is selected, press Ctrl+C (⌘C) to copy it.", "warn");
    }
  });

  const heading = h("h2", { id: "new-key-title", tabindex: "-1" }, `Your new key${key.name ? `: ${key.name}` : ""}`);
  const done = h("button", { type: "button", class: "ghost" }, "I have saved it, hide the key");
  done.addEventListener("click", () => {
    mount(box); // the key leaves the page for good
    document.getElementById("key-name")?.focus();
  });

  mount(
    box,
    h(
      "section",
      { id: "new-key", class: "card panel-new", "aria-labelledby": "new-key-title" },
      heading,
      h("p", { class: "notice" }, "Copy this key now and keep it somewhere safe. Sluice shows it only this once; if you lose it, revoke it and make a new one."),
      h("div", { class: "secret-box" }, value, copyButton),
      snippet("curl", "snippet-curl", curl),
      snippet("Python (openai SDK)", "snippet-python", python),
      h("p", { class: "hint" }, `Any model the key may use works; GET ${base}/models lists them.`),
      h("div", { class: "form-actions" }, done),
    ),
  );
  heading.focus();
}

function snippet(title, id, text) {
  const code = h("code", {}, text);
  const copy = h("button", { type: "button", class: "small", "aria-label": `Copy the ${title} example` }, "Copy");
  copy.addEventListener("click", async () => {
    if (await copyText(text, code)) toast(`${title} example copied.`, "success");
    else toast("Could not reach the clipboard: the example is selected, press Ctrl+C (⌘C) to copy it.", "warn");
  });
  return h("div", { class: "snippet" }, h("div", { class: "snippet-head" }, h("h3", {}, title), copy), h("pre", { id, tabindex: "0" }, code));
}
