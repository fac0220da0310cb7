// Credits: balance, redeem a code, buy a pack (when payments are on), and the ledger.

import { api, ApiError } from "./api.js";
import { h, mount, field, table, loading, errorState, toast, formatCredits, formatDate } from "./dom.js";
import { pageHead, card, formMessages, withBusy, loadMore } from "./user-ui.js";

const PAGE = 50;

/**
 * @param {HTMLElement} root
 */
export async function creditsPage(root) {
  const balance = h("p", { class: "stat-value", id: "balance", "aria-busy": "true" }, "…");
  const buyBox = h("div"); // #buy-credits goes here only when GET /api/payments/packs answers 200
  const ledgerBox = h("div");
  const more = h("button", { type: "button", id: "transactions-more", hidden: true }, "Load more");
  let rows = [];
  let cursor = null;

  async function loadBalance() {
    try {
      const answer = await api("/api/credits/balance");
      setBalance(answer.balance);
    } catch (error) {
      balance.textContent = "—";
      balance.removeAttribute("aria-busy");
      toast(`Could not load your balance: ${error.message}`, "error");
    }
  }

  function setBalance(value) {
    balance.textContent = formatCredits(value);
    balance.removeAttribute("aria-busy");
  }

  function renderLedger() {
    mount(
      ledgerBox,
      table({
        id: "transactions-table",
        caption: "Transactions, newest first",
        rows,
        rowKey: (t) => ["data-transaction-id", t.id],
        empty: "No transactions yet. Credits you add or spend show up here.",
        columns: [
          { label: "Type", value: (t) => h("span", { class: `badge ${typeKind(t.type)}` }, t.type) },
          { label: "Amount", value: (t) => h("span", { class: Number(t.amount) < 0 ? "neg" : "pos" }, `${Number(t.amount) > 0 ? "+" : ""}${formatCredits(t.amount)}`), className: "num" },
          { label: "Before", value: (t) => formatCredits(t.balance_before), className: "num" },
          { label: "After", value: (t) => formatCredits(t.balance_after), className: "num" },
          { label: "Note", value: (t) => t.note || "", className: "wrap" },
          { label: "Time", value: (t) => formatDate(t.created_at), className: "nowrap" },
        ],
      }),
    );
    more.hidden = !cursor;
  }

  async function fetchLedger() {
    const answer = await api("/api/credits/transactions", { query: { limit: PAGE, cursor: cursor || undefined } });
    rows = rows.concat(answer.data || []);
    cursor = answer.next_cursor ?? null;
  }

  async function loadLedger() {
    rows = [];
    cursor = null;
    more.hidden = true;
    mount(ledgerBox, loading("Loading transactions…"));
    try {
      await fetchLedger();
      renderLedger();
    } catch (error) {
      mount(ledgerBox, errorState(error, loadLedger));
    }
  }

  more.addEventListener("click", () =>
    loadMore(more, ledgerBox, async () => {
      await fetchLedger();
      renderLedger();
    }, "transactions"),
  );

  mount(
    root,
    pageHead("Credits", "Requests are paid from your credit balance."),
    h(
      "div",
      { class: "grid-2" },
      card("Balance", {}, balance, h("p", { class: "stat-note" }, "credits")),
      card("Redeem a code", {}, redeemForm(setBalance, loadLedger)),
    ),
    buyBox,
    card("Transactions", {}, ledgerBox, h("div", { class: "table-foot" }, h("span"), more)),
  );

  await Promise.all([loadBalance(), loadLedger(), loadPacks(buyBox)]);
}

function typeKind(type) {
  if (type === "recharge" || type === "grant" || type === "refund") return "ok";
  if (type === "adjust") return "info";
  return "";
}

function redeemForm(setBalance, reloadLedger) {
  const code = h("input", { id: "redeem-code", name: "code", required: true, autocomplete: "off", spellcheck: "false", autocapitalize: "characters" });
  const submit = h("button", { type: "submit", id: "redeem-submit", class: "primary" }, "Redeem");
  const messages = formMessages();
  const form = h("form", { id: "redeem-form", "aria-label": "Redeem a code" }, field("Code", code, "A code from your administrator or a promotion."), messages.nodes, h("div", { class: "form-actions" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = code.value.trim();
    if (!text) {
      messages.fail("Enter a code.");
      code.focus();
      return;
    }
    messages.clear();
    await withBusy(
      submit,
      async () => {
        try {
          // The code goes in the body, never in the URL.
          const answer = await api("/api/credits/redeem", { method: "POST", body: { code: text } });
          code.value = "";
          setBalance(answer.balance);
          messages.ok(`Added ${formatCredits(answer.credited)} credits. Your balance is ${formatCredits(answer.balance)}.`);
          reloadLedger();
        } catch (error) {
          messages.fail(redeemMessage(error));
          code.focus();
        }
      },
      "Redeeming…",
    );
  });
  return form;
}

function redeemMessage(error) {
  if (!(error instanceof ApiError)) return "Could not redeem the code.";
  if (error.status === 404) return "There is no such code. Check it and try again.";
  return error.message; // 409: used already, used up or expired; the server says which
}

/** Shows the "Buy credits" section when payments are configured (the packs route answers 200). */
async function loadPacks(box) {
  let packs;
  try {
    packs = (await api("/api/payments/packs")).data || [];
  } catch {
    return; // 404: payments are off on this server, so there is nothing to buy
  }
  if (packs.length === 0) return;
  const messages = formMessages();
  mount(
    box,
    card(
      "Buy credits",
      { id: "buy-credits" },
      h("p", { class: "muted" }, "Pay by card through Stripe; the credits arrive as soon as the payment goes through."),
      h(
        "ul",
        { class: "pack-list" },
        packs.map((pack) => {
          const buy = h("button", { type: "button", class: "primary", "data-pack": pack.name, "aria-label": `Buy ${formatCredits(pack.credits)} credits for ${price(pack)}` }, "Buy");
          buy.addEventListener("click", () => checkout(pack, buy, messages));
          return h("li", {}, h("span", { class: "pack-credits" }, `${formatCredits(pack.credits)} credits`), h("span", { class: "muted" }, `${pack.name} · ${price(pack)}`), buy);
        }),
      ),
      messages.nodes,
    ),
  );
}

function price(pack) {
  try {
    return Number(pack.price).toLocaleString(undefined, { style: "currency", currency: String(pack.currency).toUpperCase() });
  } catch {
    return `${pack.price} ${String(pack.currency).toUpperCase()}`;
  }
}

async function checkout(pack, button, messages) {
  messages.clear();
  await withBusy(
    button,
    async () => {
      try {
        // The same Idempotency-Key for a retried call would reuse the session; a fresh click gets a fresh one.
        const key = crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2);
        const session = await api("/api/payments/checkout", { method: "POST", body: { pack: pack.name }, headers: { "Idempotency-Key": key } });
        const url = new URL(session.url, location.href);
        if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("The payment page address is not valid.");
        messages.ok("Opening the payment page…");
        location.assign(url.href);
      } catch (error) {
        messages.fail(`Could not start the payment: ${error.message}`);
      }
    },
    "Opening…",
  );
}
