// Helpers shared by the admin pages: element builders, formatters, input parsing and focus
// keeping across re-renders. Every user-supplied string goes through h()/textContent.
import { ApiError } from "../api.js";
import { h } from "../dom.js";

/** Sets attributes that h() is not documented to handle (min, max, step, maxlength, …). */
export function attrs(el, values) {
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined || value === null || value === false) continue;
    el.setAttribute(name, value === true ? "" : String(value));
  }
  return el;
}

/** The page heading the router focuses, in app.css's `.page-head`. */
export function pageHeading(text, intro) {
  return h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, text), intro ? h("p", {}, intro) : null);
}

/** A <select> with options [{ value, label }] and one selected value. */
export function select(id, options, selected, { disabled = false } = {}) {
  const el = h("select", { id },
    options.map((o) => h("option", { value: String(o.value) }, o.label ?? String(o.value))));
  if (selected !== undefined && selected !== null) el.value = String(selected);
  el.disabled = Boolean(disabled);
  return el;
}

/** A status badge: kind is ok, warn or bad (app.css `.badge.ok/.warn/.bad`). */
export function badge(text, kind) {
  return h("span", { class: `badge ${kind || ""}`.trim() }, text);
}

export function stateBadge(state) {
  const kinds = { ok: "ok", active: "ok", cooling: "warn", muted: "warn", needs_reauth: "bad", disabled: "bad", down: "bad" };
  return badge(String(state ?? "unknown").replace(/_/g, " "), kinds[state] || "warn");
}

export function percent(x, digits = 1) {
  if (x === null || x === undefined || Number.isNaN(Number(x))) return "—";
  return `${(Number(x) * 100).toFixed(digits)}%`;
}

export function ms(x) {
  if (x === null || x === undefined) return "—";
  return x >= 10000 ? `${(x / 1000).toFixed(1)} s` : `${Math.round(x)} ms`;
}

/** "1h 02m 03s", "4m 05s", "9s". */
export function duration(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const secs = s % 60;
  const two = (n) => String(n).padStart(2, "0");
  if (hours > 0) return `${hours}h ${two(minutes)}m ${two(secs)}s`;
  if (minutes > 0) return `${minutes}m ${two(secs)}s`;
  return `${secs}s`;
}

/** An error's text for a toast or an inline alert. */
export function messageOf(error) {
  if (!error) return "Something went wrong.";
  if (error instanceof ApiError || error.message) return error.message || `Request failed (${error.status}).`;
  return String(error);
}

/** A small inline alert region for form errors; returns { node, show(message), clear() }. */
export function formAlert(id) {
  const node = h("p", { id, class: "form-error", role: "alert", hidden: true });
  return {
    node,
    show(message) { node.hidden = false; node.textContent = message; },
    clear() { node.textContent = ""; node.hidden = true; },
  };
}

/**
 * Credits as the server's pattern wants them: a decimal string, up to 12 integer digits and 6
 * decimals, no needless zeros. Returns { value } or { error }.
 */
export function normalizeCredits(text, { allowNegative = false } = {}) {
  const raw = String(text ?? "").trim().replace(/,/g, "");
  const m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(raw);
  if (!raw || !m || (m[2] === "" && (m[3] ?? "") === "")) return { error: "Enter an amount, like 10 or 2.5." };
  const sign = m[1];
  if (sign && !allowNegative) return { error: "The amount must be positive." };
  const whole = m[2].replace(/^0+(?=\d)/, "") || "0";
  const frac = (m[3] ?? "").replace(/0+$/, "");
  if (frac.length > 6) return { error: "Use at most 6 decimals." };
  if (whole.length > 12) return { error: "The amount is too large." };
  if (/^0*$/.test(whole) && frac === "") return { error: "The amount must not be zero." };
  return { value: `${sign}${whole}${frac ? `.${frac}` : ""}` };
}

/** An integer from an input, or null when empty; NaN when not an integer in range. */
export function intFrom(input, min, max) {
  const text = String(input.value ?? "").trim();
  if (text === "") return null;
  if (!/^-?\d+$/.test(text)) return NaN;
  const n = Number(text);
  return n >= min && n <= max ? n : NaN;
}

/** A new idempotency key. */
export function newKey() {
  if (globalThis.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** "2026-12-01" (a date input) as the next day, for the server's exclusive `to`. */
export function dayAfter(day) {
  if (!day) return undefined;
  const d = new Date(`${day}T00:00:00Z`);
  if (Number.isNaN(d.getTime())) return undefined;
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

/** A labelled figure in a card (app.css `.stat-label` / `.stat-value`); `id` goes on the value. */
export function stat(label, value, id) {
  return h("div", { class: "card" },
    h("p", { class: "stat-label" }, label),
    h("p", id ? { class: "stat-value", id } : { class: "stat-value" }, value));
}

/** Which row/action had focus inside `container`, to restore it after a re-render. */
export function rememberFocus(container, keyAttr) {
  const active = document.activeElement;
  if (!active || !container.contains(active)) return null;
  const row = active.closest(`tr[${keyAttr}]`);
  if (!row) return null;
  return { key: row.getAttribute(keyAttr), action: active.getAttribute("data-action") };
}

export function restoreFocus(container, keyAttr, focus) {
  if (!focus) return;
  const row = container.querySelector(`tr[${keyAttr}="${CSS.escape(focus.key)}"]`);
  if (!row) return;
  const target = (focus.action && row.querySelector(`[data-action="${CSS.escape(focus.action)}"]`)) || row.querySelector("button, input, select, a");
  if (target) target.focus();
}
