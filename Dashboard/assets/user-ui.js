// Building blocks shared by the user app's pages (not part of the shared-module contract).

import { h, toast } from "./dom.js";

/**
 * The page's heading (the router focuses it) and an optional one-line intro.
 * @param {string} title
 * @param {string} [intro]
 * @returns {HTMLElement}
 */
export function pageHead(title, intro) {
  return h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, title), intro ? h("p", {}, intro) : null);
}

let sections = 0;

/**
 * A titled card section, labelled by its heading for screen-reader landmarks.
 * @param {string} title
 * @param {{id?: string, class?: string}} [props]
 * @param {...any} children
 * @returns {HTMLElement}
 */
export function card(title, props = {}, ...children) {
  const headingId = `section-${++sections}`;
  return h(
    "section",
    { ...props, class: ["card", props.class].filter(Boolean).join(" "), "aria-labelledby": headingId },
    h("h2", { id: headingId }, title),
    ...children,
  );
}

/**
 * A form's two message lines: errors (role=alert, read at once) and results (role=status).
 * @returns {{error: HTMLElement, status: HTMLElement, nodes: HTMLElement[], fail: (e: any) => void, ok: (m: string) => void, clear: () => void}}
 */
export function formMessages() {
  const error = h("p", { class: "form-error", role: "alert" });
  const status = h("p", { class: "form-status", role: "status", "aria-live": "polite" });
  return {
    error,
    status,
    nodes: [error, status],
    fail(e) {
      status.textContent = "";
      error.textContent = typeof e === "string" ? e : (e && e.message) || "Something went wrong.";
    },
    ok(message) {
      error.textContent = "";
      status.textContent = message;
    },
    clear() {
      error.textContent = "";
      status.textContent = "";
    },
  };
}

/**
 * Runs `work` with the button disabled and marked busy, so a double click cannot submit twice.
 * @param {HTMLButtonElement} button
 * @param {() => Promise<any>} work
 * @param {string} [busyLabel] text shown while it runs.
 * @returns {Promise<any>}
 */
export async function withBusy(button, work, busyLabel) {
  const label = button.textContent;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  if (busyLabel) button.textContent = busyLabel;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    if (busyLabel) button.textContent = label;
  }
}

/**
 * Moves focus to a card's heading: after a list is redrawn, the row (and the button) that had
 * focus is gone, and focus would otherwise fall back to the page's start.
 * @param {HTMLElement} cardElement
 */
export function focusHeading(cardElement) {
  const heading = cardElement.querySelector("h2");
  heading.setAttribute("tabindex", "-1");
  heading.focus();
}

/**
 * A "Load more" button's click: fetches and draws the next page, says so when that fails, and
 * moves focus to the first new row for keyboard and screen-reader users (or stays on the button).
 * @param {HTMLButtonElement} button
 * @param {HTMLElement} tableBox the element whose table gains the rows
 * @param {() => Promise<void>} loadNext fetches the next page and redraws the table
 * @param {string} what the rows, for the error ("transactions")
 */
export async function loadMore(button, tableBox, loadNext, what) {
  const before = tableBox.querySelectorAll("tbody tr").length;
  await withBusy(
    button,
    async () => {
      try {
        await loadNext();
      } catch (error) {
        toast(`Could not load more ${what}: ${error.message}`, "error");
      }
    },
    "Loading…",
  );
  const newRow = tableBox.querySelectorAll("tbody tr")[before];
  if (newRow) {
    newRow.setAttribute("tabindex", "-1");
    newRow.focus();
  } else if (!button.hidden) button.focus();
}

/**
 * Marks the input the API blamed (`error.param`) as invalid and focuses it.
 * @param {Object<string, HTMLElement>} inputsByParam e.g. { rpm_limit: rpmInput }
 * @param {any} error
 */
export function markInvalid(inputsByParam, error) {
  for (const input of Object.values(inputsByParam)) input.removeAttribute("aria-invalid");
  const input = error && error.param ? inputsByParam[error.param] : null;
  if (input) {
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }
}

/**
 * A badge for an HTTP status: 2xx ok, 4xx warn, 5xx bad.
 * @param {number} status
 * @returns {HTMLElement}
 */
export function statusBadge(status) {
  const kind = status >= 500 ? "bad" : status >= 400 ? "warn" : status >= 200 && status < 300 ? "ok" : "";
  return h("span", { class: `badge ${kind}` }, String(status));
}

/**
 * Splits "a, b,,c" into ["a","b","c"].
 * @param {string} text
 * @returns {string[]}
 */
export function splitList(text) {
  return text
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * A <select> built from [value, label] pairs.
 * @param {Object<string, any>} props
 * @param {[string, string][]} options
 * @returns {HTMLSelectElement}
 */
export function select(props, options) {
  return h("select", props, options.map(([value, label]) => h("option", { value }, label)));
}

/**
 * Copies text to the clipboard; without clipboard access it selects `fallbackNode` so Ctrl+C works.
 * @param {string} text
 * @param {Node} [fallbackNode]
 * @returns {Promise<boolean>} true when copied.
 */
export async function copyText(text, fallbackNode) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (fallbackNode) {
      const range = document.createRange();
      range.selectNodeContents(fallbackNode);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
    return false;
  }
}

/**
 * The percentage of a 0–1 rate, e.g. 0.0234 -> "2.3%".
 * @param {number} rate
 * @returns {string}
 */
export function formatPercent(rate) {
  if (rate === null || rate === undefined || Number.isNaN(Number(rate))) return "—";
  return Number(rate).toLocaleString(undefined, { style: "percent", maximumFractionDigits: 1 });
}
