// #/users: find users, disable/enable them, and a detail panel for role, status, trust level,
// plan, credits (with an Idempotency-Key) and recent activity.
import { api } from "../api.js";
import {
  h, mount, loading, errorState, table, field, formatCredits, formatDate, formatRelative, toast, confirmDialog,
} from "../dom.js";
import {
  attrs, pageHeading, select, stateBadge, badge, messageOf, formAlert, normalizeCredits, newKey,
  rememberFocus, restoreFocus,
} from "./common.js";

const PAGE = 50;
const FALLBACK_PLANS = ["free", "pro", "enterprise"];
let planCache = null;

async function planNames() {
  if (planCache) return planCache;
  try {
    const answer = await api("/api/subscriptions/plans");
    const names = (answer?.data ?? []).map((p) => ({ value: p.name, label: p.display_name ? `${p.display_name} (${p.name})` : p.name }));
    if (names.length) planCache = names;
  } catch { /* the fallback below is the server's enum */ }
  return planCache ?? FALLBACK_PLANS.map((name) => ({ value: name, label: name }));
}

export async function renderUsers(root, ctx) {
  const state = { search: "", users: [], offset: 0, more: false, selected: null, loadingMore: false };
  const me = ctx.me;

  const searchInput = attrs(h("input", { id: "user-search", type: "search", name: "search", placeholder: "name@example.com" }),
    { autocomplete: "off", spellcheck: "false" });
  const searchForm = h("form", { id: "user-search-form", class: "adm-toolbar", role: "search", onsubmit: (event) => {
    event.preventDefault();
    clearTimeout(debounce);
    runSearch();
  } },
  field("Search users by email", searchInput, "Matches any part of the email."),
  h("button", { type: "submit", class: "primary" }, "Search"));

  let debounce = 0;
  searchInput.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => { if (ctx.isActive()) runSearch(); }, 350);
  });
  ctx.onLeave(() => clearTimeout(debounce));

  const region = h("div", { class: "adm-region" });
  const count = h("p", { class: "muted", id: "users-count", role: "status" });
  const moreButton = h("button", { type: "button", id: "users-more", class: "ghost", hidden: true, onclick: () => load(true) }, "Load more users");
  const detail = h("section", { id: "user-detail", class: "card adm-detail", hidden: true, "aria-labelledby": "user-detail-title" });

  mount(root,
    pageHeading("Users", "Find a user, change their access, plan or trust level, and grant credits."),
    searchForm,
    h("div", { class: "adm-split" },
      h("div", { class: "adm-split-main" }, count, region, moreButton),
      detail));

  function runSearch() {
    state.search = searchInput.value.trim();
    load(false);
  }

  async function load(append) {
    if (append) {
      state.loadingMore = true;
      moreButton.disabled = true;
    } else {
      state.offset = 0;
      state.users = [];
      mount(region, loading("Loading users…"));
      moreButton.hidden = true;
    }
    const search = state.search;
    try {
      const answer = await api("/api/admin/users", { query: { search: search || undefined, limit: PAGE, offset: state.offset || undefined } });
      if (!ctx.isActive() || search !== state.search) return;
      const rows = answer?.data ?? [];
      state.users = append ? state.users.concat(rows) : rows;
      state.offset += rows.length;
      state.more = rows.length === PAGE;
      renderTable();
    } catch (error) {
      if (!ctx.isActive()) return;
      if (append) toast(messageOf(error), "error");
      else mount(region, errorState(error, () => load(false)));
    } finally {
      state.loadingMore = false;
      moreButton.disabled = false;
    }
  }

  function actionButtons(user) {
    const self = user.id === me.id;
    const buttons = [
      h("button", { type: "button", class: "ghost small", "data-action": "open", "aria-label": `Details for ${user.email}`, onclick: () => openDetail(user.id) }, "Details"),
    ];
    if (user.status !== "disabled") {
      const disable = h("button", {
        type: "button", class: "danger small", "data-action": "disable",
        "aria-label": `Disable ${user.email}`, onclick: () => setStatus(user, "disabled"),
      }, "Disable");
      if (self) {
        disable.disabled = true;
        attrs(disable, { title: "You cannot disable yourself." });
      }
      buttons.push(disable);
    }
    if (user.status !== "active") {
      buttons.push(h("button", {
        type: "button", class: "small", "data-action": "enable", "aria-label": `Enable ${user.email}`, onclick: () => setStatus(user, "active"),
      }, user.status === "muted" ? "Unmute" : "Enable"));
    }
    return h("div", { class: "adm-actions" }, buttons);
  }

  function renderTable() {
    const focus = rememberFocus(region, "data-user-id");
    const empty = state.search ? `No user's email contains “${state.search}”.` : "No users yet. People appear here when they register.";
    count.textContent = state.users.length
      ? `${state.users.length}${state.more ? "+" : ""} user${state.users.length === 1 ? "" : "s"}${state.search ? " found" : ""}`
      : "";
    mount(region, table({
      id: "users-table",
      caption: state.search ? `Users matching “${state.search}”` : "Users, newest first",
      rowKey: (u) => ["data-user-id", u.id],
      empty,
      rows: state.users,
      columns: [
        { label: "Email", value: (u) => h("span", { class: "adm-email" }, u.email, u.id === me.id ? " (you)" : "") },
        { label: "Status", value: (u) => stateBadge(u.status) },
        { label: "Role", value: (u) => (u.role === "admin" ? badge("admin", "warn") : "user") },
        { label: "Trust", value: (u) => String(u.trust_level ?? "—"), className: "num" },
        { label: "Plan", value: (u) => String(u.plan ?? "—") },
        { label: "Balance", value: (u) => formatCredits(u.balance), className: "num" },
        { label: "Joined", value: (u) => h("span", { title: formatDate(u.created_at) }, formatRelative(u.created_at)) },
        { label: "Actions", value: actionButtons },
      ],
    }));
    moreButton.hidden = !state.more;
    if (state.selected) markSelected();
    restoreFocus(region, "data-user-id", focus);
  }

  function markSelected() {
    for (const row of region.querySelectorAll("tr[data-user-id]")) {
      if (row.getAttribute("data-user-id") === String(state.selected)) row.setAttribute("aria-current", "true");
      else row.removeAttribute("aria-current");
    }
  }

  function replaceUser(updated) {
    state.users = state.users.map((u) => (u.id === updated.id ? updated : u));
    renderTable();
    if (state.selected === updated.id) renderDetail(updated, { keepFocus: true });
  }

  async function setStatus(user, status) {
    if (status === "disabled") {
      const ok = await confirmDialog(
        `Disable ${user.email}? They are signed out everywhere and can no longer sign in or use their API keys.`, "Disable user");
      if (!ok || !ctx.isActive()) return;
    }
    try {
      const updated = await api(`/api/admin/users/${encodeURIComponent(user.id)}`, { method: "PATCH", body: { status } });
      if (!ctx.isActive()) return;
      replaceUser(updated);
      toast(status === "disabled" ? `Disabled ${updated.email}.` : `${updated.email} is active again.`, "success");
      const next = region.querySelector(`tr[data-user-id="${CSS.escape(String(updated.id))}"] button[data-action="${status === "disabled" ? "enable" : "disable"}"]`);
      if (next) next.focus();
    } catch (error) {
      toast(messageOf(error), "error");
    }
  }

  // ---- detail panel ----
  let opener = null;
  let pendingGrant = null; // { sig, key }: a retry of the same grant reuses its Idempotency-Key

  async function openDetail(id) {
    opener = document.activeElement;
    state.selected = id;
    pendingGrant = null;
    markSelected();
    detail.hidden = false;
    mount(detail, loading("Loading user…"));
    try {
      const [user] = await Promise.all([api(`/api/admin/users/${encodeURIComponent(id)}`), planNames()]);
      if (!ctx.isActive() || state.selected !== id) return;
      renderDetail(user, { keepFocus: false });
      if (state.users.some((u) => u.id === user.id)) {
        state.users = state.users.map((u) => (u.id === user.id ? user : u));
      }
    } catch (error) {
      if (!ctx.isActive() || state.selected !== id) return;
      mount(detail, closeButton(), errorState(error, () => openDetail(id)));
    }
  }

  function closeDetail() {
    const id = state.selected;
    state.selected = null;
    detail.hidden = true;
    mount(detail);
    markSelected();
    const rowButton = id == null ? null
      : region.querySelector(`tr[data-user-id="${CSS.escape(String(id))}"] button[data-action="open"]`);
    if (opener && opener.isConnected) opener.focus();
    else if (rowButton) rowButton.focus();
    else searchInput.focus();
  }

  function closeButton() {
    return h("button", { type: "button", class: "ghost adm-close", id: "user-detail-close", "aria-label": "Close user details", onclick: closeDetail }, "Close");
  }

  function renderDetail(user, { keepFocus }) {
    const self = user.id === me.id;
    const plans = planCache ?? FALLBACK_PLANS.map((name) => ({ value: name, label: name }));
    if (!plans.some((p) => p.value === user.plan)) plans.push({ value: user.plan, label: user.plan });

    const roleSelect = select("user-role", [{ value: "user", label: "User" }, { value: "admin", label: "Admin" }], user.role, { disabled: self });
    const statusSelect = select("user-status",
      [{ value: "active", label: "Active" }, { value: "muted", label: "Muted" }, { value: "disabled", label: "Disabled" }], user.status, { disabled: self });
    const trustSelect = select("user-trust", [0, 1, 2, 3, 4].map((n) => ({ value: n, label: String(n) })), user.trust_level);
    const planSelect = select("user-plan", plans, user.plan);
    const settingsAlert = formAlert("user-form-error");
    const saveButton = h("button", { type: "submit", id: "user-save", class: "primary" }, "Save changes");

    const settingsForm = h("form", { id: "user-form", class: "adm-form", onsubmit: async (event) => {
      event.preventDefault();
      settingsAlert.clear();
      const change = {};
      if (!self && roleSelect.value !== user.role) change.role = roleSelect.value;
      if (!self && statusSelect.value !== user.status) change.status = statusSelect.value;
      if (Number(trustSelect.value) !== user.trust_level) change.trust_level = Number(trustSelect.value);
      if (planSelect.value !== user.plan) change.plan = planSelect.value;
      if (!Object.keys(change).length) { settingsAlert.show("Nothing has changed."); return; }
      const warnings = [];
      if (change.role === "admin") warnings.push(`make ${user.email} an admin`);
      if (change.role === "user") warnings.push(`remove admin rights from ${user.email}`);
      if (change.status === "disabled") warnings.push(`disable ${user.email} and sign them out everywhere`);
      if (warnings.length) {
        const ok = await confirmDialog(`This will ${warnings.join(" and ")}. Continue?`, "Save changes");
        if (!ok || !ctx.isActive()) return;
      }
      saveButton.disabled = true;
      try {
        const updated = await api(`/api/admin/users/${encodeURIComponent(user.id)}`, { method: "PATCH", body: change });
        if (!ctx.isActive()) return;
        toast(`Saved ${updated.email}.`, "success");
        replaceUser(updated);
        if (!state.users.some((u) => u.id === updated.id)) renderDetail(updated, { keepFocus: true });
        const again = document.getElementById("user-save");
        if (again) again.focus();
      } catch (error) {
        settingsAlert.show(messageOf(error));
        saveButton.disabled = false;
      }
    } },
    field("Role", roleSelect, self ? "You cannot change your own role." : undefined),
    field("Status", statusSelect, self ? "You cannot disable yourself." : "Muted users can sign in but not make requests."),
    field("Trust level", trustSelect, "0 to 4; each level raises the shared-pool allowance."),
    field("Plan", planSelect, "A new plan grants its monthly credits now."),
    settingsAlert.node,
    saveButton);

    const typeSelect = select("grant-type", [
      { value: "recharge", label: "Recharge: add credits" },
      { value: "adjust", label: "Adjust: add or remove credits" },
    ], "recharge");
    const amountInput = attrs(h("input", { id: "grant-amount", type: "text", name: "amount", required: true, placeholder: "10" }),
      { inputmode: "decimal", autocomplete: "off" });
    const reasonInput = attrs(h("textarea", { id: "grant-reason", name: "reason", required: true, placeholder: "Why, for the audit log" }),
      { maxlength: "500", rows: "2" });
    const grantAlert = formAlert("grant-error");
    const grantButton = h("button", { type: "submit", id: "grant-submit", class: "primary" }, "Apply credits");
    typeSelect.addEventListener("change", () => {
      amountInput.placeholder = typeSelect.value === "adjust" ? "-5 or 5" : "10";
    });

    const grantForm = h("form", { id: "grant-form", class: "adm-form", onsubmit: async (event) => {
      event.preventDefault();
      grantAlert.clear();
      const type = typeSelect.value;
      const amount = normalizeCredits(amountInput.value, { allowNegative: type === "adjust" });
      if (amount.error) { grantAlert.show(amount.error); amountInput.focus(); return; }
      const reason = reasonInput.value.trim();
      if (!reason) { grantAlert.show("Give a reason: it goes into the user's ledger and the audit log."); reasonInput.focus(); return; }
      if (reason.length > 500) { grantAlert.show("The reason must be at most 500 characters."); reasonInput.focus(); return; }
      const body = { amount: amount.value, reason, type };
      const sig = JSON.stringify(body);
      if (!pendingGrant || pendingGrant.sig !== sig) pendingGrant = { sig, key: newKey() };
      if (amount.value.startsWith("-")) {
        // Taking credits away is the destructive direction: confirm it.
        const ok = await confirmDialog(
          `Remove ${formatCredits(Number(amount.value.slice(1)))} credits from ${user.email}?`, "Remove credits");
        if (!ok || !ctx.isActive()) return;
      }
      grantButton.disabled = true;
      try {
        // api() retries once after refreshing the sign-in; the same key makes that retry safe.
        const tx = await api(`/api/admin/users/${encodeURIComponent(user.id)}/credits`, {
          method: "POST", body, headers: { "Idempotency-Key": pendingGrant.key },
        });
        pendingGrant = null;
        if (!ctx.isActive()) return;
        toast(`Done: ${formatCredits(tx?.amount)} credits. New balance ${formatCredits(tx?.balance_after)}.`, "success");
        const updated = { ...user, balance: tx?.balance_after ?? user.balance };
        replaceUser(updated);
        if (!state.users.some((u) => u.id === updated.id)) renderDetail(updated, { keepFocus: true });
        const amountAgain = document.getElementById("grant-amount");
        if (amountAgain) amountAgain.focus();
      } catch (error) {
        grantAlert.show(messageOf(error));
        grantButton.disabled = false;
      }
    } },
    field("Kind", typeSelect),
    field("Amount (credits)", amountInput, "Up to 6 decimals. An adjustment may be negative, but never below a zero balance."),
    field("Reason", reasonInput, "Required, at most 500 characters. Shown in the user's ledger."),
    grantAlert.node,
    grantButton);

    const activity = h("div", { class: "adm-region" }, loading("Loading activity…"));
    const title = attrs(h("h2", { id: "user-detail-title" }, "User details"), { tabindex: "-1" });

    mount(detail,
      h("div", { class: "adm-detail-head" }, title, closeButton()),
      h("dl", { class: "adm-facts" },
        h("dt", {}, "Email"), h("dd", { class: "adm-email" }, user.email, " ",
          user.email_verified ? badge("verified", "ok") : badge("unverified", "warn")),
        h("dt", {}, "User id"), h("dd", {}, String(user.id)),
        h("dt", {}, "Status"), h("dd", {}, stateBadge(user.status)),
        h("dt", {}, "Balance"), h("dd", { id: "user-balance" }, formatCredits(user.balance)),
        h("dt", {}, "Pool preference"), h("dd", {}, String(user.pool_preference ?? "—").replace(/_/g, " ")),
        h("dt", {}, "Joined"), h("dd", {}, formatDate(user.created_at))),
      h("h3", {}, "Access and plan"),
      settingsForm,
      h("h3", {}, "Credits"),
      grantForm,
      h("h3", {}, "Recent activity"),
      activity,
      h("p", {}, h("a", { href: `#/usage?user_id=${encodeURIComponent(user.id)}`, "data-user-usage": String(user.id) }, "See this user's usage")));

    if (!keepFocus) {
      if (typeof detail.scrollIntoView === "function") detail.scrollIntoView({ block: "nearest" });
      title.focus();
    }
    loadActivity(user.id, activity);
  }

  async function loadActivity(id, into) {
    try {
      const answer = await api(`/api/admin/users/${encodeURIComponent(id)}/activity`, { query: { limit: 10 } });
      if (!ctx.isActive() || state.selected !== id || !into.isConnected) return;
      mount(into, table({
        id: "user-activity",
        caption: "Last 10 events",
        rows: answer?.data ?? [],
        rowKey: (a) => ["data-activity-id", a.id],
        empty: "No activity recorded yet.",
        columns: [
          { label: "When", value: (a) => h("span", { title: formatDate(a.created_at) }, formatRelative(a.created_at)) },
          { label: "What", value: (a) => String(a.action ?? "").replace(/_/g, " ") },
          { label: "Detail", value: (a) => a.detail ?? "—" },
          { label: "By", value: (a) => (a.actor_id == null ? "system" : a.actor_id === id ? "themselves" : `user #${a.actor_id}`) },
          { label: "From", value: (a) => a.ip ?? "—" },
        ],
      }));
    } catch (error) {
      if (!ctx.isActive() || !into.isConnected) return;
      mount(into, errorState(error, () => loadActivity(id, into)));
    }
  }

  await load(false);
}
