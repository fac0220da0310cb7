// #/plans: the subscription plans, read-only (they come from the server's config).
import { api } from "../api.js";
import { h, mount, loading, errorState, table, formatCredits, formatNumber } from "../dom.js";
import { pageHeading } from "./common.js";

export async function renderPlans(root, ctx) {
  const region = h("div", { class: "adm-region" }, loading("Loading plans…"));
  mount(root,
    pageHeading("Plans", "Plans are set in the server's config file; change a user's plan on the Users page."),
    region);

  async function load() {
    mount(region, loading("Loading plans…"));
    try {
      const answer = await api("/api/subscriptions/plans");
      if (!ctx.isActive()) return;
      mount(region, table({
        id: "plans-table",
        caption: "Subscription plans",
        rows: answer?.data ?? [],
        rowKey: (p) => ["data-plan", p.name],
        empty: "No plans are configured.",
        columns: [
          { label: "Plan", value: (p) => h("div", {}, h("strong", {}, p.display_name || p.name), " ", h("code", {}, p.name)) },
          { label: "Monthly credits", value: (p) => formatCredits(p.monthly_credits), className: "num" },
          { label: "Shared-pool allowance", value: allowance },
          { label: "Features", value: (p) => (p.features?.length
            ? h("ul", { class: "adm-features" }, p.features.map((f) => h("li", {}, f)))
            : "—") },
        ],
      }));
    } catch (error) {
      if (!ctx.isActive()) return;
      mount(region, errorState(error, load));
    }
  }

  function allowance(p) {
    const a = p.pool_allowance;
    if (!a) return "none";
    const unit = String(a.unit ?? "").replace(/_/g, " ");
    return h("div", {},
      `${formatNumber(a.capacity ?? 0)} ${unit}`,
      h("div", { class: "adm-small" }, `refills ${formatNumber(a.recovery_per_hour ?? 0)} ${unit} per hour`));
  }

  await load();
}
