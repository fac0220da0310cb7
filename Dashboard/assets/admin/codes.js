// #/codes: make redemption codes (shown once), list them with their uses, disable or enable them.
import { api } from "../api.js";
import {
  h, mount, loading, errorState, table, field, formatCredits, formatDate, formatRelative, toast, confirmDialog, downloadCSV,
} from "../dom.js";
import { attrs, pageHeading, badge, messageOf, formAlert, normalizeCredits, intFrom } from "./common.js";

const PAGE = 100;

function codeStatus(c, now) {
  if (c.disabled) return badge("disabled", "bad");
  if (c.expires_at && Date.parse(c.expires_at) <= now) return badge("expired", "bad");
  if (c.max_uses != null && c.used_count >= c.max_uses) return badge("used up", "warn");
  return badge("active", "ok");
}

export async function renderCodes(root, ctx) {
  const state = { codes: [], next: null };

  const credits = attrs(h("input", { id: "code-credits", type: "text", name: "value", required: true, placeholder: "25" }),
    { inputmode: "decimal", autocomplete: "off" });
  const uses = attrs(h("input", { id: "code-uses", type: "number", name: "max_uses", value: "1" }), { min: "1", max: "1000000", step: "1" });
  const count = attrs(h("input", { id: "code-count", type: "number", name: "count", value: "1" }), { min: "1", max: "1000", step: "1" });
  const expires = h("input", { id: "code-expires", type: "date", name: "expires_at" });
  const today = new Date();
  expires.min = `${today.getFullYear()}-${String(today.getMonth() + 1).padStart(2, "0")}-${String(today.getDate()).padStart(2, "0")}`;
  const create = h("button", { type: "submit", id: "code-create", class: "primary" }, "Create codes");
  const alert = formAlert("code-error");
  alert.node.classList.add("wide");
  const newCodes = h("section", { id: "new-codes", class: "card panel-new adm-new-codes", hidden: true, "aria-labelledby": "new-codes-title" });
  const region = h("div", { class: "adm-region" }, loading("Loading codes…"));
  const more = h("button", { type: "button", id: "codes-more", class: "ghost", hidden: true, onclick: () => load(true) }, "Load more codes");

  const form = h("form", { id: "code-form", class: "card form-grid", onsubmit: submit },
    h("h2", { class: "wide" }, "New codes"),
    field("Credits per code", credits, "Up to 6 decimals."),
    field("Uses per code", uses, "How many different users may redeem each code (1 to 1,000,000)."),
    field("How many codes", count, "1 to 1,000."),
    field("Expires (optional)", expires, "At the end of this day, your time. Empty: never."),
    alert.node,
    h("div", { class: "form-actions wide" }, create));

  mount(root,
    pageHeading("Redemption codes", "Codes users redeem for credits. A code is shown only once, right after it is made."),
    form, newCodes,
    h("h2", {}, "All codes"),
    region, more);

  async function submit(event) {
    event.preventDefault();
    alert.clear();
    const value = normalizeCredits(credits.value);
    if (value.error) { alert.show(value.error); credits.focus(); return; }
    const maxUses = intFrom(uses, 1, 1000000);
    if (Number.isNaN(maxUses)) { alert.show("Uses per code must be a whole number from 1 to 1,000,000."); uses.focus(); return; }
    const n = intFrom(count, 1, 1000);
    if (Number.isNaN(n)) { alert.show("How many codes must be a whole number from 1 to 1,000."); count.focus(); return; }
    const body = { value: value.value };
    if (maxUses !== null) body.max_uses = maxUses;
    if (n !== null) body.count = n;
    if (expires.value) {
      const end = new Date(`${expires.value}T23:59:59`);
      if (Number.isNaN(end.getTime()) || end.getTime() <= Date.now()) { alert.show("The expiry must be in the future."); expires.focus(); return; }
      body.expires_at = end.toISOString();
    }
    create.disabled = true;
    try {
      const answer = await api("/api/admin/redemption-codes", { method: "POST", body });
      if (!ctx.isActive()) return;
      showNew(answer?.codes ?? [], body);
      form.reset();
      toast(`Made ${answer?.codes?.length ?? 0} code${answer?.codes?.length === 1 ? "" : "s"}.`, "success");
      load(false);
    } catch (error) {
      alert.show(messageOf(error));
    } finally {
      create.disabled = false;
    }
  }

  function showNew(codes, body) {
    const title = attrs(h("h2", { id: "new-codes-title" }, `${codes.length} new code${codes.length === 1 ? "" : "s"}`), { tabindex: "-1" });
    const copy = h("button", { type: "button", id: "copy-codes", class: "primary", onclick: async () => {
      try {
        await navigator.clipboard.writeText(codes.join("\n"));
        toast("Codes copied.", "success");
      } catch {
        toast("Could not copy; select the codes and copy them by hand.", "error");
      }
    } }, "Copy all");
    const download = h("button", { type: "button", id: "download-codes", onclick: () => downloadCSV(
      `sluice-codes-${new Date().toISOString().slice(0, 10)}.csv`,
      ["code", "credits", "max_uses", "expires_at"],
      codes.map((c) => [c, body.value, body.max_uses ?? 1, body.expires_at ?? ""]),
    ) }, "Download CSV");
    const done = h("button", { type: "button", class: "ghost", id: "new-codes-done", onclick: async () => {
      const ok = await confirmDialog("Hide the new codes? They cannot be shown again.", "Hide codes");
      if (!ok || !ctx.isActive()) return;
      newCodes.hidden = true;
      mount(newCodes);
      credits.focus();
    } }, "Done");
    mount(newCodes,
      title,
      h("p", { class: "adm-warning" },
        `Copy these now: Sluice keeps only their hashes and will not show them again. Each is worth ${formatCredits(Number(body.value))} credits`
        + ` and can be redeemed ${body.max_uses ?? 1} time${(body.max_uses ?? 1) === 1 ? "" : "s"}.`),
      h("ul", { class: "adm-code-list" }, codes.map((c) => h("li", {}, h("code", {}, c)))),
      h("div", { class: "adm-actions" }, copy, download, done));
    newCodes.hidden = false;
    title.focus();
  }

  async function load(append) {
    if (!append) { state.next = null; }
    more.disabled = true;
    try {
      const answer = await api("/api/admin/redemption-codes", { query: { limit: PAGE, cursor: append ? state.next ?? undefined : undefined } });
      if (!ctx.isActive()) return;
      const rows = answer?.data ?? [];
      state.codes = append ? state.codes.concat(rows) : rows;
      state.next = answer?.next_cursor ?? null;
      render();
    } catch (error) {
      if (!ctx.isActive()) return;
      if (append) toast(messageOf(error), "error");
      else mount(region, errorState(error, () => { mount(region, loading("Loading codes…")); load(false); }));
    } finally {
      more.disabled = false;
    }
  }

  function render() {
    const now = Date.now();
    mount(region, table({
      id: "codes-table",
      caption: "Redemption codes, newest first",
      rows: state.codes,
      rowKey: (c) => ["data-code-id", c.id],
      empty: "No codes yet. Make some with the form above.",
      columns: [
        { label: "Code", value: (c) => h("code", {}, `${c.prefix ?? ""}…`) },
        { label: "Credits", value: (c) => formatCredits(c.credits), className: "num" },
        { label: "Uses", value: (c) => `${c.used_count ?? 0} / ${c.max_uses ?? "∞"}`, className: "num" },
        { label: "Status", value: (c) => codeStatus(c, now) },
        { label: "Expires", value: (c) => (c.expires_at ? h("span", { title: formatDate(c.expires_at) }, formatRelative(c.expires_at)) : "never") },
        { label: "Created", value: (c) => h("span", { title: formatDate(c.created_at) }, formatRelative(c.created_at)) },
        { label: "Actions", value: actions },
      ],
    }));
    more.hidden = state.next == null;
  }

  function actions(c) {
    const name = `code ${c.prefix ?? c.id}…`;
    return c.disabled
      ? h("button", { type: "button", class: "small", "data-action": "enable", "aria-label": `Enable ${name}`, onclick: () => setDisabled(c, false) }, "Enable")
      : h("button", { type: "button", class: "danger small", "data-action": "disable", "aria-label": `Disable ${name}`, onclick: () => setDisabled(c, true) }, "Disable");
  }

  async function setDisabled(c, disabled) {
    if (disabled) {
      const ok = await confirmDialog(`Disable code ${c.prefix ?? ""}…? Nobody can redeem it afterwards.`, "Disable code");
      if (!ok || !ctx.isActive()) return;
    }
    try {
      const updated = await api(`/api/admin/redemption-codes/${encodeURIComponent(c.id)}`, { method: "PATCH", body: { disabled } });
      if (!ctx.isActive()) return;
      state.codes = state.codes.map((x) => (x.id === c.id ? { ...x, ...(updated ?? { disabled }) } : x));
      render();
      toast(`Code ${c.prefix ?? ""}… ${disabled ? "disabled" : "enabled"}.`, "success");
      const next = region.querySelector(`tr[data-code-id="${CSS.escape(String(c.id))}"] button[data-action]`);
      if (next) next.focus();
    } catch (error) {
      toast(messageOf(error), "error");
    }
  }

  await load(false);
}
