// Usage: the request log with filters, "more" paging and CSV export of what is loaded.

import { api } from "./api.js";
import { h, mount, field, table, loading, errorState, toast, downloadCSV, formatCredits, formatNumber, formatDate } from "./dom.js";
import { pageHead, card, formMessages, withBusy, statusBadge, loadMore } from "./user-ui.js";

const PAGE = 50;

/** The day after a YYYY-MM-DD, so a "to" date includes that whole day (the API's `to` is exclusive). */
function dayAfter(day) {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + 1);
  return date.toISOString().slice(0, 10);
}

/**
 * @param {HTMLElement} root
 * @param {Object<string, string>} params initial filters from the hash, e.g. #/usage?model=gpt-4o
 */
export async function usagePage(root, params = {}) {
  const keyNames = new Map();
  let rows = [];
  let cursor = null;
  let applied = {};

  const model = h("input", { id: "filter-model", name: "model", placeholder: "Any model", autocomplete: "off", spellcheck: "false", value: params.model || "" });
  const key = h("select", { id: "filter-key", name: "key_id" }, h("option", { value: "" }, "All keys"));
  const status = h("input", { id: "filter-status", name: "status", type: "number", min: "100", max: "599", step: "1", inputmode: "numeric", placeholder: "Any", value: params.status || "" });
  const from = h("input", { id: "filter-from", name: "from", type: "date", value: params.from || "" });
  const to = h("input", { id: "filter-to", name: "to", type: "date", value: params.to || "" });
  const apply = h("button", { type: "submit", id: "filter-apply", class: "primary" }, "Apply filters");
  const reset = h("button", { type: "button", class: "ghost" }, "Clear");
  const messages = formMessages();

  const form = h(
    "form",
    { id: "usage-filters", "aria-label": "Filter requests" },
    h(
      "div",
      { class: "form-grid" },
      field("Model", model),
      field("API key", key),
      field("Status", status, "An HTTP status, e.g. 429."),
      field("From", from),
      field("To (inclusive)", to),
    ),
    messages.nodes,
    h("div", { class: "form-actions" }, apply, reset),
  );

  const tableBox = h("div"); // not a live region: re-reading a whole table is noise; `summary` announces
  const summary = h("p", { class: "muted", role: "status" });
  const more = h("button", { type: "button", id: "usage-more", hidden: true }, "Load more");
  const exportButton = h("button", { type: "button", id: "usage-export", disabled: true }, "Export CSV");

  mount(
    root,
    pageHead("Usage", "Every request made with your keys, newest first. Times are in your local time."),
    card("Filters", {}, form),
    card("Requests", {}, tableBox, h("div", { class: "table-foot" }, summary, h("div", { class: "row" }, more, exportButton))),
  );

  /** Reads and checks the form; null (with a message) when something is wrong. */
  function readFilters() {
    const statusText = status.value.trim();
    if (statusText && !(Number.isInteger(Number(statusText)) && Number(statusText) >= 100 && Number(statusText) <= 599)) {
      messages.fail("Status must be an HTTP status between 100 and 599.");
      status.setAttribute("aria-invalid", "true");
      status.focus();
      return null;
    }
    status.removeAttribute("aria-invalid");
    if (from.value && to.value && from.value > to.value) {
      messages.fail("“From” must be on or before “To”.");
      from.focus();
      return null;
    }
    messages.clear();
    return { model: model.value.trim(), key_id: key.value, status: statusText, from: from.value, to: to.value };
  }

  function render() {
    mount(
      tableBox,
      table({
        id: "usage-table",
        caption: "Request log",
        rows,
        rowKey: (r) => ["data-request-id", r.request_id],
        empty: Object.values(applied).some(Boolean) ? "No requests match these filters." : "No requests yet. Requests made with your API keys show up here.",
        columns: [
          { label: "Time", value: (r) => formatDate(r.created_at), className: "nowrap" },
          { label: "Model", value: (r) => (r.served_model && r.served_model !== r.model ? [r.model, h("br"), h("span", { class: "muted" }, `served by ${r.served_model}`)] : r.model) },
          { label: "Key", value: (r) => keyNames.get(r.api_key_id) || (r.api_key_id ? `#${r.api_key_id}` : "—") },
          { label: "Status", value: (r) => [statusBadge(r.status), r.end_reason && r.status >= 400 ? [" ", h("span", { class: "muted" }, r.end_reason)] : null], className: "nowrap" },
          { label: "Tokens in / out", value: (r) => `${formatNumber(r.prompt_tokens)} / ${formatNumber(r.completion_tokens)}`, className: "num" },
          { label: "Credits", value: (r) => formatCredits(r.credits) + (r.cost_estimated ? " (est.)" : ""), className: "num" },
          { label: "Latency", value: (r) => (r.latency_ms !== null && r.latency_ms !== undefined ? `${formatNumber(r.latency_ms)} ms` : "—"), className: "num" },
          { label: "Request id", value: (r) => h("code", {}, r.request_id) },
        ],
      }),
    );
    summary.textContent = rows.length ? `Showing ${formatNumber(rows.length)} ${rows.length === 1 ? "request" : "requests"}${cursor ? "; more are available" : ""}.` : "";
    more.hidden = !cursor;
    exportButton.disabled = rows.length === 0;
  }

  async function fetchPage() {
    const query = { ...applied, limit: PAGE, cursor: cursor || undefined };
    if (query.to) query.to = dayAfter(query.to);
    const answer = await api("/api/usage/logs", { query });
    rows = rows.concat(answer.data || []);
    cursor = answer.next_cursor ?? null;
  }

  async function loadFirst() {
    rows = [];
    cursor = null;
    more.hidden = true;
    exportButton.disabled = true;
    summary.textContent = "";
    mount(tableBox, loading("Loading requests…"));
    try {
      await fetchPage();
      render();
    } catch (error) {
      mount(tableBox, errorState(error, loadFirst));
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const filters = readFilters();
    if (!filters) return;
    applied = filters;
    await withBusy(apply, loadFirst, "Loading…");
  });

  reset.addEventListener("click", () => {
    form.reset();
    model.value = key.value = status.value = from.value = to.value = "";
    messages.clear();
    applied = {};
    loadFirst();
  });

  more.addEventListener("click", () =>
    loadMore(more, tableBox, async () => {
      await fetchPage();
      render();
    }, "requests"),
  );

  exportButton.addEventListener("click", () => {
    const parts = ["sluice-usage", applied.model, applied.key_id && `key${applied.key_id}`, applied.status, applied.from, applied.to].filter(Boolean);
    const name = `${parts.join("-").replace(/[^A-Za-z0-9._-]+/g, "_")}.csv`;
    downloadCSV(
      name,
      ["time", "request_id", "model", "served_model", "provider", "api_key_id", "api_key", "status", "end_reason", "prompt_tokens", "completion_tokens", "cached_tokens", "credits", "cost_estimated", "latency_ms", "ttft_ms", "stream"],
      rows.map((r) => [
        r.created_at,
        r.request_id,
        r.model,
        r.served_model,
        r.provider,
        r.api_key_id,
        keyNames.get(r.api_key_id) || "",
        r.status,
        r.end_reason,
        r.prompt_tokens,
        r.completion_tokens,
        r.cached_tokens,
        r.credits,
        r.cost_estimated,
        r.latency_ms,
        r.ttft_ms,
        r.stream,
      ]),
    );
    toast(`Exported ${formatNumber(rows.length)} requests to ${name}.`, "success");
  });

  // The key filter needs the user's keys; the log still loads if they fail.
  try {
    const keys = await api("/api/api-keys");
    for (const k of keys.data || []) {
      keyNames.set(k.id, k.name || `${k.prefix}…`);
      key.append(h("option", { value: String(k.id) }, k.name ? `${k.name} (${k.prefix}…)` : `${k.prefix}…`));
    }
  } catch {
    key.append(h("option", { value: "", disabled: true }, "(could not load your keys)"));
  }
  if (params.key_id) key.value = params.key_id;
  applied = readFilters() || {};
  await loadFirst();
}
