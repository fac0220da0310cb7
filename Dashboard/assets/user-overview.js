// Overview: balance, the last 30 days of spend and requests, error rate, top models, recent requests.

import { api } from "./api.js";
import { h, mount, loading, errorState, table, lineChart, barChart, emptyState, formatCredits, formatNumber, formatDate, isoDay } from "./dom.js";
import { pageHead, card, statusBadge, formatPercent } from "./user-ui.js";

const DAYS = 30;

/** The last 30 UTC days, oldest first, as YYYY-MM-DD (the API's `by_day` keys are UTC days). */
function lastDays() {
  const days = [];
  const today = new Date();
  for (let i = DAYS - 1; i >= 0; i -= 1) days.push(isoDay(new Date(today.getTime() - i * 86400000)));
  return days;
}

/** A stat card whose value is filled in later. */
function stat(label, id) {
  const value = h("p", { class: "stat-value", id, "aria-busy": "true" }, "…");
  const note = h("p", { class: "stat-note" });
  return { node: h("div", { class: "card" }, h("p", { class: "stat-label" }, label), value, note), value, note };
}

function fill(statCard, text, note) {
  statCard.value.textContent = text;
  statCard.value.removeAttribute("aria-busy");
  statCard.note.replaceChildren();
  if (note) statCard.note.append(note);
}

/**
 * @param {HTMLElement} root
 */
export async function overviewPage(root) {
  const days = lastDays();
  const balance = stat("Balance", "overview-balance");
  const spend = stat(`Spend, last ${DAYS} days`);
  const requests = stat(`Requests, last ${DAYS} days`);
  const errors = stat("Error rate", "overview-error-rate");
  const chartBox = h("div", {}, loading("Loading usage…"));
  const topBox = h("div", { id: "overview-top-models" }, loading("Loading models…"));
  const recentBox = h("div", {}, loading("Loading recent requests…"));

  mount(
    root,
    pageHead("Overview", `Your account at a glance, over the last ${DAYS} days.`),
    h("div", { class: "grid", "aria-label": "Summary", role: "group" }, balance.node, spend.node, requests.node, errors.node),
    card(`Spend and requests per day`, {}, chartBox),
    h(
      "div",
      { class: "grid-2" },
      card("Top models", {}, topBox),
      card("Recent requests", {}, recentBox, h("p", { class: "table-foot" }, h("a", { href: "#/usage" }, "See all requests"))),
    ),
  );

  const loadBalance = async () => {
    try {
      const answer = await api("/api/credits/balance");
      fill(balance, formatCredits(answer.balance), h("a", { href: "#/credits" }, "Add credits"));
    } catch (error) {
      fill(balance, "—", error.message);
    }
  };

  const loadStats = async () => {
    mount(chartBox, loading("Loading usage…"));
    mount(topBox, loading("Loading models…"));
    try {
      const stats = await api("/api/usage/stats", { query: { from: days[0] } });
      renderStats(stats);
    } catch (error) {
      for (const s of [spend, requests, errors]) fill(s, "—");
      mount(chartBox, errorState(error, loadStats));
      mount(topBox, errorState(error));
    }
  };

  function renderStats(stats) {
    const total = stats.total || {};
    fill(spend, formatCredits(total.credits ?? 0), "credits");
    fill(requests, formatNumber(total.requests ?? 0), `${formatNumber(total.total_tokens ?? 0)} tokens`);
    const failed = Math.round((total.error_rate || 0) * (total.requests || 0));
    fill(errors, formatPercent(total.error_rate ?? 0), total.requests ? `${formatNumber(failed)} of ${formatNumber(total.requests)} requests failed` : "No requests yet");

    // Days without requests are missing from by_day: draw them as zero.
    const byDay = stats.by_day || {};
    const points = days.map((day) => ({ x: day, y: Number(byDay[day]?.credits ?? 0), y2: Number(byDay[day]?.requests ?? 0) }));
    const chart = lineChart(points, {
      label: `Spend (credits) and requests per day, last ${DAYS} days: ${formatCredits(total.credits ?? 0)} credits, ${formatNumber(total.requests ?? 0)} requests in all.`,
      yLabel: "credits",
      y2Label: "requests",
      format: formatCredits,
      width: chartBox.clientWidth, // drawn at the box's size, so labels stay readable on phones and wide screens
      height: 200,
    });
    chart.id = "overview-chart";
    mount(
      chartBox,
      chart,
      h(
        "ul",
        { class: "legend", "aria-hidden": "true" },
        h("li", {}, h("span", { class: "swatch" }), "Spend (credits, left axis)"),
        h("li", {}, h("span", { class: "swatch series-2" }), "Requests (right axis)"),
      ),
      total.requests ? null : h("p", { class: "muted" }, "No requests in the last 30 days. Create an API key to get started: ", h("a", { href: "#/keys" }, "API keys"), "."),
    );

    const models = Object.entries(stats.by_model || {})
      .map(([model, t]) => ({ model, credits: Number(t.credits) || 0, requests: Number(t.requests) || 0 }))
      .sort((a, b) => b.credits - a.credits || b.requests - a.requests)
      .slice(0, 5);
    if (models.length === 0) {
      mount(topBox, emptyState("No model used yet in the last 30 days."));
      return;
    }
    // Rank by spend; when everything was free (shared pool), by requests.
    const bySpend = models.some((m) => m.credits > 0);
    mount(
      topBox,
      barChart(
        models.map((m) => ({
          label: m.model,
          value: bySpend ? m.credits : m.requests,
          valueText: `${formatCredits(m.credits)} credits · ${formatNumber(m.requests)} requests`,
        })),
        { label: `Top models by ${bySpend ? "spend" : "requests"}, last ${DAYS} days` },
      ),
    );
  }

  const loadRecent = async () => {
    mount(recentBox, loading("Loading recent requests…"));
    try {
      const logs = await api("/api/usage/logs", { query: { limit: 10 } });
      mount(
        recentBox,
        table({
          id: "overview-recent",
          caption: "The last 10 requests",
          rows: logs.data || [],
          rowKey: (row) => ["data-request-id", row.request_id],
          empty: "No requests yet. Requests made with your API keys show up here.",
          columns: [
            { label: "Time", value: (r) => formatDate(r.created_at), className: "nowrap" },
            { label: "Model", value: (r) => r.model },
            { label: "Status", value: (r) => statusBadge(r.status) },
            { label: "Tokens", value: (r) => formatNumber((r.prompt_tokens || 0) + (r.completion_tokens || 0)), className: "num" },
            { label: "Credits", value: (r) => formatCredits(r.credits), className: "num" },
          ],
        }),
      );
    } catch (error) {
      mount(recentBox, errorState(error, loadRecent));
    }
  };

  // Each part loads on its own, so one slow or failing call does not blank the page.
  await Promise.all([loadBalance(), loadStats(), loadRecent()]);
}
