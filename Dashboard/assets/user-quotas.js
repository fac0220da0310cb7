// Quotas: what the user may still draw from the shared pool, per model group, and when it refills.

import { api } from "./api.js";
import { h, mount, loadInto, barChart, emptyState, formatNumber, formatDate, formatRelative } from "./dom.js";
import { pageHead, card } from "./user-ui.js";

/**
 * @param {HTMLElement} root
 */
export async function quotasPage(root) {
  const box = h("div", { id: "quotas" });
  const about = h("div");
  mount(
    root,
    pageHead("Quotas", "Your allowance from the shared pool of upstream accounts. It refills over time."),
    about,
    card("Shared-pool allowance", {}, box),
  );
  await loadInto(
    box,
    async () => {
      const answer = await api("/api/quotas");
      mount(
        about,
        h(
          "p",
          { class: "notice info" },
          answer.contributor
            ? "You share an upstream account with the pool, so your allowance includes the contributor bonus."
            : "Share one of your upstream accounts in surplus mode (My accounts) to raise your allowance.",
          answer.trust_level !== undefined ? ` Your trust level is ${answer.trust_level}; each level raises it too.` : "",
        ),
      );
      const quotas = answer.data || [];
      if (quotas.length === 0) return emptyState("You have no shared-pool allowance. Your plan may not include one, or there is no shared pool.", { label: "See my accounts", href: "#/accounts" });
      return barChart(quotas.map(item), { label: "Shared-pool allowance per model group" });
    },
    "Loading your allowance…",
  );
}

function item(q) {
  const unit = q.unit === "tokens" ? "tokens" : "requests";
  const per = q.recovery_per_hour === 1 ? unit.slice(0, -1) : unit; // "1 request per hour"
  const notes = [];
  if (q.models && q.models.length) notes.push(`Models: ${q.models.join(", ")}.`);
  if (q.recovery_per_hour) notes.push(`Refills ${formatNumber(q.recovery_per_hour)} ${per} per hour.`);
  if (q.available < q.capacity && q.refills_at) notes.push(`Full again ${formatRelative(q.refills_at)} (${formatDate(q.refills_at)}).`);
  else if (q.available >= q.capacity) notes.push("Full.");
  // usable_at: when it is empty, the time enough has refilled for a request.
  if (q.available <= 0 && q.usable_at) notes.push(`Usable again ${formatRelative(q.usable_at)} (${formatDate(q.usable_at)}).`);
  return {
    label: q.group,
    value: q.available,
    max: q.capacity,
    valueText: `${formatNumber(q.available)} of ${formatNumber(q.capacity)} ${unit} left`,
    note: notes.join(" "),
  };
}
