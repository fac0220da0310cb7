// #/pool: every upstream account with its live state, ticking cooldowns, and enable / disable /
// re-weigh / reset. Refreshed every 5 s while shown.
import { api } from "../api.js";
import { h, mount, loading, errorState, table, formatNumber, formatDate, formatRelative, toast, confirmDialog } from "../dom.js";
import {
  attrs, pageHeading, select, stateBadge, messageOf, percent, ms, duration, rememberFocus, restoreFocus,
} from "./common.js";

const REFRESH_MS = 5000;
const STATES = [
  { value: "", label: "All states" },
  { value: "ok", label: "OK" },
  { value: "cooling", label: "Cooling" },
  { value: "needs_reauth", label: "Needs re-auth" },
  { value: "disabled", label: "Disabled" },
];

function countdown(iso) {
  const span = attrs(h("span", { class: "adm-countdown", "data-until": iso }, ""), { role: "timer", title: formatDate(iso) });
  tick(span, Date.now());
  return span;
}

function tick(span, now) {
  const until = Date.parse(span.getAttribute("data-until"));
  if (Number.isNaN(until)) return;
  const left = (until - now) / 1000;
  span.textContent = left > 0 ? duration(left) : "ending…";
}

export async function renderPool(root, ctx) {
  const state = { accounts: null, filter: "", busy: 0, updatedAt: null };

  const filter = select("pool-state", STATES, "");
  filter.addEventListener("change", () => { state.filter = filter.value; render(); });
  const refreshButton = h("button", { type: "button", id: "pool-refresh", class: "ghost", onclick: () => load() }, "Refresh now");
  const summary = h("p", { id: "pool-summary", class: "muted" });
  const stale = h("p", { id: "pool-stale", class: "form-error", role: "alert", hidden: true });
  const region = h("div", { class: "adm-region" }, loading("Loading accounts…"));

  mount(root,
    pageHeading("Account pool", "Every upstream account and its live state. Refreshes every 5 seconds while this page is open."),
    h("div", { class: "adm-toolbar" },
      h("div", { class: "field" }, h("label", { for: "pool-state" }, "Show"), filter),
      refreshButton),
    summary, stale, region);

  ctx.every(1000, () => {
    const now = Date.now();
    for (const span of region.querySelectorAll("[data-until]")) tick(span, now);
  });

  function render() {
    if (!state.accounts) return;
    const focus = rememberFocus(region, "data-account-id");
    const counts = { ok: 0, cooling: 0, needs_reauth: 0, disabled: 0 };
    for (const a of state.accounts) counts[a.state] = (counts[a.state] ?? 0) + 1;
    summary.textContent = `${state.accounts.length} account${state.accounts.length === 1 ? "" : "s"}: ${counts.ok} ok, `
      + `${counts.cooling} cooling, ${counts.needs_reauth} need re-auth, ${counts.disabled} disabled.`
      + (state.updatedAt ? ` Updated ${state.updatedAt.toLocaleTimeString()}.` : "");
    const rows = state.filter ? state.accounts.filter((a) => a.state === state.filter) : state.accounts;
    mount(region, table({
      id: "pool-table",
      caption: "Upstream accounts",
      rows,
      rowKey: (a) => ["data-account-id", a.id],
      empty: state.filter ? "No account is in this state." : "No upstream accounts yet. Add them in the config or from the user dashboard.",
      columns: [
        { label: "Account", value: (a) => h("div", {},
          h("strong", {}, String(a.provider)), ` #${a.id}`,
          h("div", { class: "adm-small" }, `${a.kind ?? ""}${a.models?.length ? ` · ${a.models.length} model${a.models.length === 1 ? "" : "s"}` : " · all models"}`)) },
        { label: "Owner", value: (a) => h("div", {},
          a.owner_id == null ? "Sluice" : `user #${a.owner_id}`,
          h("div", { class: "adm-small" }, a.owner_id == null ? "pool" : `${a.share_mode ?? ""}${a.share_mode === "surplus" ? `, keeps ${a.reserve_percent}%` : ""}`)) },
        { label: "State", value: (a) => h("div", {}, stateBadge(a.state), scopeList(a)) },
        { label: "Cooldown", value: cooldownCell },
        { label: "Headroom", value: (a) => h("div", {}, a.headroom == null ? "unknown" : percent(a.headroom, 0),
          a.quota_resets_at ? h("div", { class: "adm-small" }, `resets ${formatRelative(a.quota_resets_at)}`) : null), className: "num" },
        { label: "In flight", value: (a) => `${formatNumber(a.in_flight ?? 0)}${a.max_concurrency ? ` / ${a.max_concurrency}` : ""}`, className: "num" },
        { label: "Error rate", value: (a) => h("div", {}, percent(a.error_rate),
          h("div", { class: "adm-small" }, `${formatNumber(a.requests ?? 0)} req`)), className: "num" },
        { label: "TTFB", value: (a) => ms(a.time_to_first_byte_ms), className: "num" },
        { label: "Last error", value: lastErrorCell },
        { label: "Weight", value: weightInput },
        { label: "Actions", value: actions },
      ],
    }));
    restoreFocus(region, "data-account-id", focus);
  }

  function scopeList(a) {
    const scopes = a.scopes ?? [];
    if (!scopes.length) return null;
    return h("ul", { class: "adm-scopes" }, scopes.map((s) => h("li", {},
      h("span", { class: "adm-scope-name" }, s.model ?? "all models"), ": ",
      s.cooling_until ? ["cooling ", countdown(s.cooling_until)] : "ready",
      s.reason ? ` (${String(s.reason).replace(/_/g, " ")})` : "",
      s.backoff_level ? `, backoff ${s.backoff_level}` : "",
      s.verify_at ? `, probe ${formatRelative(s.verify_at)}` : "")));
  }

  function cooldownCell(a) {
    const until = (a.scopes ?? []).map((s) => s.cooling_until).filter(Boolean)
      .sort((x, y) => Date.parse(y) - Date.parse(x))[0];
    return until ? countdown(until) : "—";
  }

  function lastErrorCell(a) {
    const errors = Object.entries(a.errors ?? {}).filter(([, n]) => n > 0);
    if (!a.last_error && !errors.length) return "—";
    return h("div", { class: "adm-last-error" },
      a.last_error ? h("span", { class: "adm-error-text" }, a.last_error) : null,
      a.last_error_at ? h("div", { class: "adm-small" }, formatRelative(a.last_error_at)) : null,
      errors.length ? h("div", { class: "adm-small" }, errors.map(([kind, n]) => `${kind} ×${n}`).join(", ")) : null);
  }

  function weightInput(a) {
    const input = attrs(h("input", {
      type: "number", value: String(a.weight ?? 1), "data-action": "weight", class: "adm-weight",
      "aria-label": `Weight of ${a.provider} account #${a.id}`,
    }), { min: "1", max: "1000", step: "1", inputmode: "numeric", id: `weight-${a.id}` });
    input.addEventListener("change", () => saveWeight(a, input));
    input.addEventListener("keydown", (event) => { if (event.key === "Enter") { event.preventDefault(); input.blur(); } });
    return input;
  }

  function actions(a) {
    const label = `${a.provider} account #${a.id}`;
    return h("div", { class: "adm-actions" },
      h("button", { type: "button", class: "small", "data-action": "reset", "aria-label": `Reset ${label}`, onclick: () => reset(a) }, "Reset"),
      a.enabled
        ? h("button", { type: "button", class: "danger small", "data-action": "disable", "aria-label": `Disable ${label}`, onclick: () => setEnabled(a, false) }, "Disable")
        : h("button", { type: "button", class: "small", "data-action": "enable", "aria-label": `Enable ${label}`, onclick: () => setEnabled(a, true) }, "Enable"));
  }

  function replace(updated) {
    if (!updated || !state.accounts) return;
    state.accounts = state.accounts.map((a) => (a.id === updated.id ? updated : a));
    render();
  }

  async function act(work) {
    state.busy += 1;
    try { return await work(); } finally { state.busy -= 1; }
  }

  async function saveWeight(a, input) {
    const text = input.value.trim();
    const weight = Number(text);
    if (!/^\d+$/.test(text) || weight < 1 || weight > 1000) {
      toast("The weight must be a whole number from 1 to 1000.", "error");
      input.value = String(a.weight);
      return;
    }
    if (weight === a.weight) return;
    await act(async () => {
      try {
        const updated = await api(`/api/admin/accounts/${encodeURIComponent(a.id)}`, { method: "PATCH", body: { weight } });
        if (!ctx.isActive()) return;
        toast(`Weight of ${a.provider} #${a.id} is now ${updated?.weight ?? weight}.`, "success");
        replace(updated);
      } catch (error) {
        toast(messageOf(error), "error");
        if (input.isConnected) input.value = String(a.weight);
      }
    });
  }

  async function setEnabled(a, enabled) {
    await act(async () => {
      if (!enabled) {
        const ok = await confirmDialog(
          `Disable ${a.provider} account #${a.id}? No request will use it until it is enabled again.`, "Disable account");
        if (!ok || !ctx.isActive()) return;
      }
      try {
        const updated = await api(`/api/admin/accounts/${encodeURIComponent(a.id)}`, { method: "PATCH", body: { enabled } });
        if (!ctx.isActive()) return;
        toast(`${a.provider} #${a.id} ${enabled ? "enabled" : "disabled"}.`, "success");
        replace(updated);
        const next = region.querySelector(`tr[data-account-id="${CSS.escape(String(a.id))}"] button[data-action="${enabled ? "disable" : "enable"}"]`);
        if (next) next.focus();
      } catch (error) {
        toast(messageOf(error), "error");
      }
    });
  }

  async function reset(a) {
    await act(async () => {
      const ok = await confirmDialog(
        `Reset ${a.provider} account #${a.id}? Its cooldowns, backoff and figures are cleared; needs re-auth stays until its secret changes.`,
        "Reset account");
      if (!ok || !ctx.isActive()) return;
      try {
        const updated = await api(`/api/admin/accounts/${encodeURIComponent(a.id)}/reset`, { method: "POST" });
        if (!ctx.isActive()) return;
        toast(`${a.provider} #${a.id} reset.`, "success");
        replace(updated);
      } catch (error) {
        toast(messageOf(error), "error");
      }
    });
  }

  /** Whether a background refresh would get in someone's way right now. */
  function interacting() {
    if (state.busy > 0 || document.querySelector("dialog[open]")) return true;
    const active = document.activeElement;
    return Boolean(active && region.contains(active) && active.matches("input, select, textarea"));
  }

  let inFlight = false;
  async function load({ background = false } = {}) {
    if (inFlight) return;
    inFlight = true;
    try {
      const answer = await api("/api/admin/accounts");
      if (!ctx.isActive()) return;
      if (background && interacting()) return; // keep what is on screen; the next refresh catches up
      state.accounts = answer?.data ?? [];
      state.updatedAt = new Date();
      stale.hidden = true;
      stale.textContent = "";
      render();
    } catch (error) {
      if (!ctx.isActive()) return;
      if (state.accounts) {
        stale.hidden = false;
        const text = `Could not refresh: ${messageOf(error)} Showing figures from ${state.updatedAt?.toLocaleTimeString() ?? "earlier"}; retrying.`;
        if (stale.textContent !== text) stale.textContent = text;
      } else {
        mount(region, errorState(error, () => { mount(region, loading("Loading accounts…")); load(); }));
      }
    } finally {
      inFlight = false;
    }
  }

  ctx.every(REFRESH_MS, () => {
    if (document.hidden) return;
    load({ background: true });
  });
  await load();
}
