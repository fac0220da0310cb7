// Small DOM helpers shared by the user and admin apps.
//
// Everything here builds nodes with createElement / textContent, never with HTML strings, so a
// name such as `<img src=x onerror=alert(1)>` always shows as text. The page's CSP forbids inline
// styles and handlers, so styles come from app.css classes (or element.style, which CSP allows).

// The charts live in charts.js; they are part of this module's API all the same.
export { lineChart, barChart } from "./charts.js";

const SVG_NS = "http://www.w3.org/2000/svg";

/** Props that are DOM properties with the same name. */
const PROPERTIES = new Set(["id", "type", "name", "placeholder", "download", "title", "tabIndex"]);
/** Boolean props: set as properties so `false` really means off. */
const BOOLEANS = new Set(["required", "disabled", "checked", "hidden", "readOnly", "multiple", "selected", "open"]);
/** Props that must never carry data (they would parse HTML or run code). */
const FORBIDDEN = new Set(["innerHTML", "outerHTML", "srcdoc"]);

/** Appends children: strings/numbers as text, null/undefined/false skipped, arrays flattened. */
function append(parent, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false || child === true) continue;
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
}

/** `javascript:` and `data:` links would run or smuggle content; keep only ordinary URLs. */
function safeHref(value) {
  const text = String(value).trim();
  return /^(javascript|data|vbscript):/i.test(text) ? "#" : text;
}

/**
 * Creates an HTML element.
 * props: `class`, `id`, `for`, `type`, `value`, `name`, `placeholder`, `required`, `disabled`, `checked`,
 * `href`, `download`, `role`, `hidden`, `aria-*`, `data-*`, `on<event>` (a function, added as a listener),
 * `style` (an object, applied through CSSOM), and any other attribute (set with setAttribute).
 * `value` and `checked` are applied after the children, so a <select>'s value can name one of its options.
 * @param {string} tag
 * @param {Object<string, any>} [props]
 * @param {...any} children strings, numbers, Nodes, arrays; null/false skipped.
 * @returns {HTMLElement}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  const late = [];
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || FORBIDDEN.has(key)) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key.startsWith("on")) {
      continue; // an on* attribute string would be inline script (and CSP blocks it anyway)
    } else if (key === "class" || key === "className") {
      el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : String(value);
    } else if (key === "for" || key === "htmlFor") {
      el.htmlFor = String(value);
    } else if (key === "style") {
      if (typeof value === "object") Object.assign(el.style, value); // a style="" string would break CSP
    } else if (key === "value" || key === "checked") {
      late.push([key, value]);
    } else if (key === "href") {
      el.setAttribute("href", safeHref(value));
    } else if (BOOLEANS.has(key)) {
      el[key] = Boolean(value);
    } else if (PROPERTIES.has(key)) {
      el[key] = value;
    } else if (value === false) {
      continue;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  for (const [key, value] of late) {
    if (key === "checked") el.checked = Boolean(value);
    else el.value = String(value);
  }
  return el;
}

/**
 * Creates an SVG element; every prop is an attribute except `on<event>` functions (listeners).
 * @param {string} tag
 * @param {Object<string, any>} [attrs]
 * @param {...any} children
 * @returns {SVGElement}
 */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false || FORBIDDEN.has(key)) continue;
    if (key.startsWith("on")) {
      if (typeof value === "function") el.addEventListener(key.slice(2).toLowerCase(), value);
      continue;
    }
    el.setAttribute(key === "className" ? "class" : key, String(value));
  }
  append(el, children);
  return el;
}

/**
 * Replaces root's children.
 * @param {Element} root
 * @param {...any} children
 * @returns {Element} root
 */
export function mount(root, ...children) {
  root.replaceChildren();
  append(root, children);
  return root;
}

/**
 * A loading indicator that screen readers announce.
 * @param {string} [label]
 * @returns {HTMLElement}
 */
export function loading(label = "Loading…") {
  return h("div", { class: "loading", role: "status", "aria-live": "polite" }, h("span", { class: "spinner", "aria-hidden": "true" }), label);
}

/**
 * A designed "nothing here yet" block.
 * @param {string} message
 * @param {Node|{label: string, href?: string, onclick?: Function}} [action] a button/link, or its description.
 * @returns {HTMLElement}
 */
export function emptyState(message, action) {
  let control = null;
  if (action instanceof Node) control = action;
  else if (action && action.href) control = h("a", { class: "button", href: action.href }, action.label);
  else if (action && action.onclick) control = h("button", { type: "button", class: "button", onclick: action.onclick }, action.label);
  return h("div", { class: "empty" }, h("p", {}, message || "Nothing here yet."), control);
}

/**
 * An error block (role=alert) with the error's message and an optional Retry button.
 * @param {Error|string} error
 * @param {Function} [retry]
 * @returns {HTMLElement}
 */
export function errorState(error, retry) {
  const message = typeof error === "string" ? error : (error && error.message) || "Something went wrong.";
  return h(
    "div",
    { class: "error-state", role: "alert" },
    h("p", {}, h("strong", {}, "Could not load this. "), message),
    retry ? h("button", { type: "button", class: "button", onclick: () => retry() }, "Retry") : null,
  );
}

/**
 * Shows loading in `container`, awaits `load()`, then mounts what it returns (Node, string or array),
 * or an errorState whose Retry runs it again. Not in the contract; a convenience for pages.
 * @param {Element} container
 * @param {() => Promise<any>} load
 * @param {string} [label]
 * @returns {Promise<boolean>} true when it loaded.
 */
export async function loadInto(container, load, label) {
  mount(container, loading(label));
  container.setAttribute("aria-busy", "true");
  try {
    const content = await load();
    mount(container, content);
    return true;
  } catch (error) {
    mount(container, errorState(error, () => loadInto(container, load, label)));
    return false;
  } finally {
    container.removeAttribute("aria-busy");
  }
}

/**
 * A table in a horizontally scrollable `.table-wrap` (so 375 px screens scroll the table, not the page).
 * With no rows it shows emptyState(empty) instead; the `id` then goes on the wrapper, so it always exists.
 * @param {{caption?: string, columns: {label: string, value: (row: any) => any, className?: string}[],
 *          rows: any[], id?: string, rowKey?: (row: any) => [string, any], empty?: string}} options
 * @returns {HTMLElement} the `.table-wrap` div.
 */
export function table({ caption, columns, rows, id, rowKey, empty }) {
  if (!rows || rows.length === 0) {
    return h("div", { class: "table-wrap is-empty", id }, caption ? h("p", { class: "caption" }, caption) : null, emptyState(empty || "Nothing to show yet."));
  }
  const head = h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.className }, c.label))));
  const body = h(
    "tbody",
    {},
    rows.map((row) => {
      const tr = h("tr", {}, columns.map((c) => h("td", { class: c.className, "data-label": c.label }, cell(c.value(row)))));
      if (rowKey) {
        const [name, value] = rowKey(row);
        tr.setAttribute(name, String(value));
      }
      return tr;
    }),
  );
  // tabindex=0 lets keyboard users scroll a wide table; the label says what it is.
  return h(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption || "Table" },
    h("table", { id }, caption ? h("caption", {}, caption) : null, head, body),
  );
}

function cell(value) {
  if (value === null || value === undefined || value === "") return "—";
  return value;
}

/**
 * A labelled form field: `<div class="field"><label for=id>…</label> input <p class="hint">…</p></div>`.
 * The hint is tied to the input with aria-describedby. Checkboxes get the label after the box.
 * @param {string} label
 * @param {HTMLElement} input must have an id.
 * @param {string|Node} [hint]
 * @returns {HTMLElement}
 */
export function field(label, input, hint) {
  const labelEl = h("label", { for: input.id }, label);
  let hintEl = null;
  if (hint) {
    hintEl = h("p", { class: "hint", id: `${input.id}-hint` }, hint);
    input.setAttribute("aria-describedby", hintEl.id);
  }
  const isCheck = input.type === "checkbox" || input.type === "radio";
  return h("div", { class: isCheck ? "field check" : "field" }, isCheck ? [input, labelEl] : [labelEl, input], hintEl);
}

/**
 * Credits: 2 decimals for large amounts, more for small ones (credits have 6 decimals).
 * @param {number|string|null} n
 * @returns {string}
 */
export function formatCredits(n) {
  if (n === null || n === undefined || n === "" || Number.isNaN(Number(n))) return "—";
  const value = Number(n);
  const abs = Math.abs(value);
  const max = abs >= 100 ? 2 : abs >= 1 ? 4 : 6;
  return value.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: max });
}

/**
 * A number with the user's digit grouping.
 * @param {number|null} n
 * @returns {string}
 */
export function formatNumber(n) {
  if (n === null || n === undefined || n === "" || Number.isNaN(Number(n))) return "—";
  return Number(n).toLocaleString(undefined, { maximumFractionDigits: 2 });
}

/** Parses an API time; "YYYY-MM-DD" is a calendar day (local midnight), not UTC midnight. */
export function parseDate(value) {
  if (value instanceof Date) return value;
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(value));
  if (day) return new Date(Number(day[1]), Number(day[2]) - 1, Number(day[3]));
  return new Date(value);
}

/**
 * A time in the user's local time zone ("Dec 1, 2026, 14:05"); a bare date shows as a date.
 * @param {string|Date|null} iso
 * @returns {string}
 */
export function formatDate(iso) {
  if (!iso) return "—";
  const date = parseDate(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  if (/^\d{4}-\d{2}-\d{2}$/.test(String(iso))) return date.toLocaleDateString(undefined, { dateStyle: "medium" });
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/**
 * "3 minutes ago" / "in 2 hours".
 * @param {string|Date|null} iso
 * @returns {string}
 */
export function formatRelative(iso) {
  if (!iso) return "—";
  const date = parseDate(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const seconds = (date.getTime() - Date.now()) / 1000;
  const abs = Math.abs(seconds);
  const units = [
    ["year", 31536000],
    ["month", 2592000],
    ["week", 604800],
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
  ];
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  for (const [unit, size] of units) {
    if (abs >= size) return rtf.format(Math.round(seconds / size), unit);
  }
  return abs < 10 ? "just now" : rtf.format(Math.round(seconds), "second");
}

/**
 * Bytes as "1.5 MB".
 * @param {number|null} n
 * @returns {string}
 */
export function formatBytes(n) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return "—";
  let value = Number(n);
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (Math.abs(value) >= 1024 && i < units.length - 1) {
    value /= 1024;
    i += 1;
  }
  return `${value.toLocaleString(undefined, { maximumFractionDigits: i === 0 ? 0 : 1 })} ${units[i]}`;
}

/**
 * A date as YYYY-MM-DD in UTC (the API's days are UTC). Not in the contract; for `from`/`to`.
 * @param {Date} [date]
 * @returns {string}
 */
export function isoDay(date = new Date()) {
  return date.toISOString().slice(0, 10);
}

/** The page's toast region; admin.html may not have one, so make it on demand. */
function toastRegion() {
  let region = document.getElementById("toasts");
  if (!region) {
    region = h("div", { id: "toasts", class: "toasts", "aria-live": "polite", "aria-atomic": "false" });
    document.body.append(region);
  }
  return region;
}

/**
 * Shows a short message in the live region (#toasts); errors use role=alert and stay longer.
 * @param {string} message
 * @param {"info"|"success"|"error"|"warn"} [kind]
 * @returns {HTMLElement} the toast
 */
export function toast(message, kind = "info") {
  const close = h("button", { type: "button", class: "ghost toast-close", "aria-label": "Dismiss" }, "×");
  const item = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, h("span", {}, message), close);
  const remove = () => item.remove();
  close.addEventListener("click", remove);
  toastRegion().append(item);
  setTimeout(remove, kind === "error" ? 10000 : 5000);
  return item;
}

let openDialog = null;

/**
 * Asks the user to confirm, in a modal <dialog> with `#confirm-yes` and `#confirm-no`.
 * Focus stays inside (showModal makes the rest inert, Tab cycles the buttons); Escape cancels;
 * focus returns to where it was.
 * @param {string} message
 * @param {string} [confirmLabel]
 * @returns {Promise<boolean>}
 */
export function confirmDialog(message, confirmLabel = "Confirm") {
  if (openDialog) openDialog.finish(false);
  const before = document.activeElement;
  return new Promise((resolve) => {
    const text = h("p", { id: "confirm-message" }, message);
    const no = h("button", { type: "button", id: "confirm-no", class: "ghost" }, "Cancel");
    const yes = h("button", { type: "button", id: "confirm-yes", class: "danger" }, confirmLabel);
    const dialog = h("dialog", { class: "confirm", "aria-labelledby": "confirm-message" }, text, h("div", { class: "actions" }, no, yes));
    let done = false;
    // Settles once, whichever way the dialog ends (button, Escape, or the browser closing it).
    // Resolving here rather than in the "close" event keeps the answer synchronous with the click.
    const finish = (answer) => {
      if (done) return;
      done = true;
      openDialog = null;
      if (dialog.open) dialog.close();
      dialog.remove();
      if (before && typeof before.focus === "function" && before.isConnected) before.focus();
      resolve(answer);
    };
    yes.addEventListener("click", () => finish(true));
    no.addEventListener("click", () => finish(false));
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault(); // Escape: close it ourselves, so focus returns where it was
      finish(false);
    });
    dialog.addEventListener("close", () => finish(false));
    dialog.addEventListener("keydown", (event) => {
      if (event.key !== "Tab") return;
      // Keep Tab between the two buttons.
      event.preventDefault();
      (document.activeElement === yes ? no : yes).focus();
    });
    document.body.append(dialog);
    openDialog = { finish };
    dialog.showModal(); // modal: the rest of the page is inert
    no.focus(); // the safe choice first, for destructive actions
  });
}

/** One CSV cell: quoted when needed; text that a spreadsheet would run as a formula is defused. */
function csvCell(value) {
  if (value === null || value === undefined) return "";
  let text = String(value);
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text) && Number.isNaN(Number(text))) text = "'" + text;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * Downloads rows as a CSV file, built in the browser (nothing goes through a URL but a blob:).
 * @param {string} filename
 * @param {string[]} header
 * @param {any[][]} rows
 */
export function downloadCSV(filename, header, rows) {
  const lines = [header, ...rows].map((row) => row.map(csvCell).join(","));
  const blob = new Blob(["\ufeff" + lines.join("\r\n") + "\r\n"], { type: "text/csv;charset=utf-8" });
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: filename, class: "visually-hidden" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
