// #/health: store, Redis, settlement queue and the account pool, refreshed every 5 s.
import { api } from "../api.js";
import { h, mount, loading, errorState, formatNumber } from "../dom.js";
import { pageHeading, badge, messageOf, percent } from "./common.js";

const REFRESH_MS = 5000;

function dependency(name, value, detail) {
  const kind = value === "ok" ? "ok" : value === "not_configured" ? "warn" : "bad";
  const text = value === "not_configured" ? "not configured" : String(value ?? "unknown");
  return h("section", { class: "card adm-health-item", "data-health": name.toLowerCase() },
    h("h2", {}, name),
    h("p", { class: "adm-health-state" }, badge(text, kind)),
    detail ? h("p", { class: "adm-small" }, detail) : null);
}

export async function renderHealth(root, ctx) {
  let last = null;
  const updated = h("p", { id: "health-updated", class: "muted" });
  const stale = h("p", { id: "health-stale", class: "form-error", role: "alert", hidden: true });
  const health = h("div", { id: "health", class: "adm-health", "aria-busy": "true" }, loading("Checking health…"));
  const refresh = h("button", { type: "button", id: "health-refresh", class: "ghost", onclick: () => load() }, "Refresh now");

  mount(root,
    pageHeading("System health", "Refreshes every 5 seconds while this page is open."),
    h("div", { class: "adm-toolbar" }, updated, refresh),
    stale, health);

  function render(d) {
    const backlog = Number(d.settlement_backlog ?? 0);
    const capacity = Number(d.settlement_capacity ?? 0);
    const share = capacity > 0 ? backlog / capacity : 0;
    const queueKind = share >= 0.8 ? "bad" : share >= 0.5 ? "warn" : "ok";
    const meter = h("meter", { id: "health-settlement-meter", "aria-label": "Settlement queue fill" });
    meter.min = 0;
    meter.max = Math.max(capacity, 1);
    meter.low = meter.max * 0.5;
    meter.high = meter.max * 0.8;
    meter.optimum = 0;
    meter.value = backlog;
    const a = d.accounts ?? {};
    const accountsKind = (a.total ?? 0) === 0 || (a.cooling ?? 0) + (a.needs_reauth ?? 0) + (a.disabled ?? 0) >= (a.total ?? 0)
      ? "bad" : (a.needs_reauth ?? 0) > 0 || (a.cooling ?? 0) > 0 ? "warn" : "ok";
    const usable = Math.max(0, (a.total ?? 0) - (a.cooling ?? 0) - (a.needs_reauth ?? 0) - (a.disabled ?? 0));
    mount(health,
      dependency("Store", d.store, "The database that holds users, keys and the ledger."),
      dependency("Redis", d.redis, d.redis === "not_configured" ? "Single instance: limits and cooldowns are kept in memory." : "Shared limits, cooldowns and events."),
      h("section", { class: "card adm-health-item", "data-health": "settlement" },
        h("h2", {}, "Settlement queue"),
        h("p", { class: "adm-health-state" }, badge(capacity > 0 ? `${percent(share, 0)} full` : "unknown", capacity > 0 ? queueKind : "warn")),
        meter,
        h("p", { class: "adm-small" }, `${formatNumber(backlog)} waiting of ${formatNumber(capacity)} slots`),
        h("p", { class: "adm-small" }, `${formatNumber(d.requests_in_flight ?? 0)} requests in flight`)),
      h("section", { class: "card adm-health-item", "data-health": "accounts" },
        h("h2", {}, "Accounts"),
        h("p", { class: "adm-health-state" }, badge(`${formatNumber(usable)} of ${formatNumber(a.total ?? 0)} usable`, accountsKind)),
        h("dl", { class: "adm-facts" },
          h("dt", {}, "Total"), h("dd", {}, formatNumber(a.total ?? 0)),
          h("dt", {}, "Cooling"), h("dd", {}, formatNumber(a.cooling ?? 0)),
          h("dt", {}, "Needs re-auth"), h("dd", {}, formatNumber(a.needs_reauth ?? 0)),
          h("dt", {}, "Disabled"), h("dd", {}, formatNumber(a.disabled ?? 0))),
        h("p", {}, h("a", { href: "#/pool" }, "Open the pool"))));
    health.setAttribute("aria-busy", "false");
  }

  let inFlight = false;
  async function load() {
    if (inFlight) return;
    inFlight = true;
    try {
      const d = await api("/api/admin/health");
      if (!ctx.isActive()) return;
      last = new Date();
      render(d ?? {});
      updated.textContent = `Updated ${last.toLocaleTimeString()}.`;
      stale.hidden = true;
      stale.textContent = "";
    } catch (error) {
      if (!ctx.isActive()) return;
      if (last) {
        stale.hidden = false;
        const text = `Could not refresh: ${messageOf(error)} Showing the state from ${last.toLocaleTimeString()}; retrying.`;
        if (stale.textContent !== text) stale.textContent = text;
      } else {
        health.setAttribute("aria-busy", "false");
        mount(health, errorState(error, () => { mount(health, loading("Checking health…")); load(); }));
      }
    } finally {
      inFlight = false;
    }
  }

  ctx.every(REFRESH_MS, () => { if (!document.hidden) load(); });
  await load();
}
