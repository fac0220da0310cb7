// #/usage: usage across all users (no user_id), or one user's, with totals, charts and the log.
import { api } from "../api.js";
import {
  h, mount, loading, emptyState, errorState, table, field, formatCredits, formatNumber, formatDate, formatRelative,
  lineChart, barChart, toast, downloadCSV,
} from "../dom.js";
import { attrs, pageHeading, badge, messageOf, formAlert, percent, ms, dayAfter, stat } from "./common.js";

const PAGE = 100;

function hashParams() {
  const hash = window.location.hash || "";
  const at = hash.indexOf("?");
  return new URLSearchParams(at >= 0 ? hash.slice(at + 1) : "");
}

function utcDay(offsetDays = 0) {
  const d = new Date();
  d.setUTCDate(d.getUTCDate() + offsetDays);
  return d.toISOString().slice(0, 10);
}

function statusBadge(status) {
  const kind = status >= 500 ? "bad" : status >= 400 ? "warn" : "ok";
  return badge(String(status), kind);
}

function top(breakdown, n = 8) {
  return Object.entries(breakdown ?? {})
    .map(([label, t]) => ({ label, value: Number(t?.credits ?? 0), requests: t?.requests ?? 0 }))
    .sort((a, b) => b.value - a.value || b.requests - a.requests)
    .slice(0, n);
}

/** Every UTC day from the range's start to its end, since days without requests are missing from by_day. */
function dayRange(keys, from, toExclusive) {
  if (!keys.length) return keys;
  const first = from && from < keys[0] ? from : keys[0];
  const lastKey = keys[keys.length - 1];
  const today = utcDay(0);
  let last = toExclusive ? utcDayBefore(toExclusive) : today;
  if (last > today) last = today;
  if (last < lastKey) last = lastKey;
  const days = [];
  const d = new Date(`${first}T00:00:00Z`);
  while (days.length <= 400) {
    const day = d.toISOString().slice(0, 10);
    if (day > last) break;
    days.push(day);
    d.setUTCDate(d.getUTCDate() + 1);
  }
  return days.length > 400 ? keys : days;
}

function utcDayBefore(day) {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - 1);
  return d.toISOString().slice(0, 10);
}

function dayChart(days, byDay) {
  const chart = lineChart(
    days.map((d) => ({ x: d, y: Number(byDay[d]?.credits ?? 0), y2: Number(byDay[d]?.requests ?? 0) })),
    { label: "Credits and requests per day", yLabel: "credits", y2Label: "requests", format: formatCredits },
  );
  chart.id = "admin-usage-chart";
  return chart;
}

function bars(items, label, id) {
  const list = barChart(
    items.map(({ label: name, value, requests }) => ({
      label: name, value, valueText: `${formatCredits(value)} credits`, note: `${formatNumber(requests)} requests`,
    })),
    { label },
  );
  list.id = id;
  return list;
}

export async function renderUsage(root, ctx) {
  const params = hashParams();
  const state = { query: {}, logs: [], next: null, who: null };

  const userInput = attrs(h("input", { id: "admin-usage-user", type: "text", name: "user", placeholder: "All users" }),
    { autocomplete: "off", spellcheck: "false" });
  if (params.get("user_id")) userInput.value = params.get("user_id");
  const model = attrs(h("input", { id: "admin-usage-model", type: "text", name: "model", placeholder: "Any model" }), { autocomplete: "off" });
  const status = attrs(h("input", { id: "admin-usage-status", type: "number", name: "status", placeholder: "Any" }), { min: "100", max: "599", step: "1" });
  const from = h("input", { id: "admin-usage-from", type: "date", name: "from", value: utcDay(-29) });
  const to = h("input", { id: "admin-usage-to", type: "date", name: "to" });
  const apply = h("button", { type: "submit", id: "admin-usage-apply", class: "primary" }, "Apply");
  const alert = formAlert("admin-usage-error");
  alert.node.classList.add("wide");

  const scope = h("p", { id: "admin-usage-scope", class: "muted", role: "status" });
  const totals = h("div", { id: "admin-usage-totals", class: "grid", role: "group", "aria-label": "Totals" }, loading("Loading totals…"));
  const charts = h("div", { class: "adm-charts" });
  const region = h("div", { class: "adm-region" }, loading("Loading requests…"));
  const more = h("button", { type: "button", id: "admin-usage-more", class: "ghost", hidden: true, onclick: () => loadLogs(true) }, "Load more");
  const exportButton = h("button", { type: "button", id: "admin-usage-export", onclick: exportCSV }, "Export CSV");

  const form = h("form", { id: "admin-usage-filters", class: "card form-grid", onsubmit: (event) => {
    event.preventDefault();
    run();
  } },
  field("User (id or email)", userInput, "Empty: every user."),
  field("Model", model),
  field("HTTP status", status),
  field("From (UTC day)", from),
  field("To (UTC day, inclusive)", to),
  alert.node,
  h("div", { class: "form-actions wide" }, apply));

  mount(root,
    pageHeading("Usage", "Requests across every user, or one user's."),
    form, scope,
    h("h2", {}, "Totals"), totals, charts,
    h("div", { class: "adm-section-head" }, h("h2", {}, "Requests"), exportButton),
    region, more);

  async function resolveUser(text) {
    if (!text) return { id: undefined, label: "every user" };
    if (/^\d+$/.test(text)) return { id: text, label: `user #${text}` };
    const answer = await api("/api/admin/users", { query: { search: text, limit: 10 } });
    const users = answer?.data ?? [];
    const exact = users.find((u) => String(u.email).toLowerCase() === text.toLowerCase());
    const user = exact ?? (users.length === 1 ? users[0] : null);
    if (!user) {
      throw new Error(users.length ? `${users.length} users match “${text}”; type the full email or the user id.` : `No user's email contains “${text}”.`);
    }
    return { id: String(user.id), label: `${user.email} (#${user.id})` };
  }

  async function run() {
    alert.clear();
    const statusText = status.value.trim();
    if (statusText && !/^[1-5]\d\d$/.test(statusText)) { alert.show("The status must be an HTTP status from 100 to 599."); status.focus(); return; }
    if (from.value && to.value && to.value < from.value) { alert.show("“To” must not be before “From”."); to.focus(); return; }
    apply.disabled = true;
    let who;
    try {
      who = await resolveUser(userInput.value.trim());
    } catch (error) {
      apply.disabled = false;
      if (!ctx.isActive()) return;
      alert.show(messageOf(error));
      userInput.focus();
      return;
    }
    if (!ctx.isActive()) return;
    state.who = who;
    state.query = {
      user_id: who.id,
      model: model.value.trim() || undefined,
      status: statusText || undefined,
      from: from.value || undefined,
      to: dayAfter(to.value),
    };
    const range = from.value || to.value ? ` from ${from.value || "the start"} to ${to.value || "now"} (UTC)` : " for all time";
    scope.textContent = `Showing ${who.label}${state.query.model ? `, model ${state.query.model}` : ""}`
      + `${state.query.status ? `, status ${state.query.status}` : ""}${range}.`;
    try {
      await Promise.all([loadStats(), loadLogs(false)]);
    } finally {
      apply.disabled = false;
    }
  }

  async function loadStats() {
    const query = state.query;
    mount(totals, loading("Loading totals…"));
    mount(charts);
    try {
      const s = await api("/api/usage/stats", { query });
      if (!ctx.isActive() || query !== state.query) return;
      const t = s?.total ?? {};
      mount(totals,
        stat("Requests", formatNumber(t.requests ?? 0), "admin-usage-requests"),
        stat("Tokens", `${formatNumber(t.total_tokens ?? 0)}`, "admin-usage-tokens"),
        stat("Prompt / completion", `${formatNumber(t.prompt_tokens ?? 0)} / ${formatNumber(t.completion_tokens ?? 0)}`),
        stat("Credits", formatCredits(t.credits ?? 0), "admin-usage-credits"),
        stat("Upstream cost", `$${Number(t.cost_usd ?? 0).toFixed(2)}`),
        stat("Error rate", percent(t.error_rate ?? 0), "admin-usage-error-rate"));
      const days = dayRange(Object.keys(s?.by_day ?? {}).sort(), query.from, query.to);
      const models = top(s?.by_model);
      const providers = top(s?.by_provider);
      mount(charts,
        h("section", { class: "card adm-chart adm-chart-wide" }, h("h3", {}, "Credits and requests per day (UTC)"),
          days.length
            ? [dayChart(days, s.by_day),
              h("ul", { class: "legend", "aria-hidden": "true" },
                h("li", {}, h("span", { class: "swatch" }), "Credits (left axis)"),
                h("li", {}, h("span", { class: "swatch series-2" }), "Requests (right axis)"))]
            : emptyState("No requests in this range.")),
        h("section", { class: "card adm-chart" }, h("h3", {}, "Top models by credits"),
          models.length ? bars(models, "Top models by credits", "admin-usage-models") : emptyState("No models yet.")),
        h("section", { class: "card adm-chart" }, h("h3", {}, "Providers by credits"),
          providers.length ? bars(providers, "Providers by credits", "admin-usage-providers") : emptyState("No providers yet.")));
    } catch (error) {
      if (!ctx.isActive() || query !== state.query) return;
      mount(totals, errorState(error, loadStats));
    }
  }

  async function loadLogs(append) {
    const query = state.query;
    if (!append) {
      state.logs = [];
      state.next = null;
      mount(region, loading("Loading requests…"));
      more.hidden = true;
    }
    more.disabled = true;
    try {
      const answer = await api("/api/usage/logs", { query: { ...query, limit: PAGE, cursor: append ? state.next ?? undefined : undefined } });
      if (!ctx.isActive() || query !== state.query) return;
      state.logs = append ? state.logs.concat(answer?.data ?? []) : answer?.data ?? [];
      state.next = answer?.next_cursor ?? null;
      renderLogs();
    } catch (error) {
      if (!ctx.isActive() || query !== state.query) return;
      if (append) toast(messageOf(error), "error");
      else mount(region, errorState(error, () => loadLogs(false)));
    } finally {
      more.disabled = false;
    }
  }

  function renderLogs() {
    mount(region, table({
      id: "admin-usage-table",
      caption: `Requests, newest first (${formatNumber(state.logs.length)} loaded)`,
      rows: state.logs,
      rowKey: (r) => ["data-request-id", r.request_id],
      empty: "No requests match these filters.",
      columns: [
        { label: "Time", value: (r) => h("span", { title: formatDate(r.created_at) }, formatRelative(r.created_at)) },
        { label: "User", value: (r) => h("button", {
          type: "button", class: "ghost adm-link", "data-action": "filter-user", "aria-label": `Only user #${r.user_id}`,
          onclick: () => { userInput.value = String(r.user_id); run(); },
        }, `#${r.user_id}`) },
        { label: "Model", value: (r) => h("div", {}, r.model,
          r.served_model && r.served_model !== r.model ? h("div", { class: "adm-small" }, `served ${r.served_model}`) : null) },
        { label: "Provider", value: (r) => r.provider ?? "—" },
        { label: "Tokens in / out", value: (r) => h("div", {}, `${formatNumber(r.prompt_tokens ?? 0)} / ${formatNumber(r.completion_tokens ?? 0)}`,
          r.cached_tokens ? h("div", { class: "adm-small" }, `${formatNumber(r.cached_tokens)} cached`) : null), className: "num" },
        { label: "Credits", value: (r) => `${formatCredits(r.credits)}${r.cost_estimated ? " (est.)" : ""}`, className: "num" },
        { label: "Latency", value: (r) => ms(r.latency_ms), className: "num" },
        { label: "TTFT", value: (r) => ms(r.ttft_ms), className: "num" },
        { label: "Status", value: (r) => statusBadge(r.status) },
        { label: "End", value: (r) => String(r.end_reason ?? "—").replace(/_/g, " ") },
      ],
    }));
    more.hidden = state.next == null;
  }

  function exportCSV() {
    if (!state.logs.length) { toast("Nothing to export: no requests are loaded.", "info"); return; }
    const q = state.query;
    const name = ["sluice-usage", q.user_id ? `user-${q.user_id}` : "all-users", q.model, q.status, q.from, to.value]
      .filter(Boolean).join("_").replace(/[^A-Za-z0-9._-]+/g, "-");
    downloadCSV(`${name}.csv`,
      ["time", "request_id", "user_id", "api_key_id", "model", "served_model", "provider", "prompt_tokens", "completion_tokens",
        "cached_tokens", "credits", "cost_estimated", "latency_ms", "ttft_ms", "status", "end_reason", "stream"],
      state.logs.map((r) => [r.created_at, r.request_id, r.user_id, r.api_key_id, r.model, r.served_model ?? "", r.provider ?? "",
        r.prompt_tokens, r.completion_tokens, r.cached_tokens, r.credits, r.cost_estimated, r.latency_ms, r.ttft_ms ?? "", r.status,
        r.end_reason, r.stream]));
  }

  await run();
}
