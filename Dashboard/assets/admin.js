// Sluice admin: the shell, sign-in check and page lifecycle. Pages live in ./admin/*.js.
import { signOut, currentUser } from "./api.js";
import { h, mount, loading, toast } from "./dom.js";
import { startRouter } from "./router.js";
import { renderUsers } from "./admin/users.js";
import { renderPool } from "./admin/pool.js";
import { renderCodes } from "./admin/codes.js";
import { renderPlans } from "./admin/plans.js";
import { renderUsage } from "./admin/usage.js";
import { renderHealth } from "./admin/health.js";
import { attrs, messageOf } from "./admin/common.js";

const app = document.getElementById("app");
const nav = document.getElementById("admin-nav");
const whoami = document.getElementById("whoami");

// Page lifecycle: each render gets a generation; leaving a page (a new render, a hash change,
// sign-out) runs its cleanups (intervals, timers) and makes its late answers stale.
let generation = 0;
let cleanups = [];
let signedOut = false;
const SIGNED_OUT = ["You are signed out", "Your session has ended. Sign in again on the Sluice dashboard."];

function leavePage() {
  generation += 1;
  for (const fn of cleanups.splice(0)) {
    try { fn(); } catch { /* a cleanup must not stop the others */ }
  }
}

function pageContext(me) {
  leavePage();
  const mine = generation;
  const isActive = () => mine === generation;
  const onLeave = (fn) => { if (isActive()) cleanups.push(fn); else fn(); };
  /** setInterval that stops when the page is left. */
  const every = (ms, fn) => {
    const id = setInterval(() => { if (isActive()) fn(); }, ms);
    onLeave(() => clearInterval(id));
    return id;
  };
  /** setTimeout that is cancelled when the page is left. */
  const later = (ms, fn) => {
    const id = setTimeout(() => { if (isActive()) fn(); }, ms);
    onLeave(() => clearTimeout(id));
    return id;
  };
  return { me, isActive, onLeave, every, later };
}

function blocked(title, message) {
  leavePage();
  if (nav) nav.hidden = true;
  mount(app,
    h("section", { class: "card adm-blocked" },
      attrs(h("h1", {}, title), { tabindex: "-1" }),
      h("p", {}, message),
      h("p", {}, h("a", { href: "/", class: "button primary" }, "Go to the Sluice dashboard"))));
  const heading = app.querySelector("h1");
  if (heading) heading.focus();
}

function wireShell() {
  const signout = document.getElementById("signout");
  if (signout) {
    signout.addEventListener("click", async () => {
      signout.disabled = true;
      try {
        await signOut();
      } catch (error) {
        toast(messageOf(error), "error");
      }
      leavePage();
      window.location.assign("/");
    });
  }
  const skip = document.getElementById("skip-link");
  if (skip) {
    // A plain #app link would change the hash route, so focus <main> instead.
    skip.addEventListener("click", (event) => { event.preventDefault(); app.focus(); });
  }
  window.addEventListener("sluice:signed-out", () => {
    signedOut = true;
    blocked(...SIGNED_OUT);
  });
  // Stop a page's timers as soon as the hash changes, before the next page renders.
  window.addEventListener("hashchange", leavePage);
}

async function main() {
  wireShell();
  mount(app, loading("Checking your sign-in…"));
  let me = null;
  try {
    me = await currentUser();
  } catch (error) {
    blocked("Cannot reach Sluice", `The admin pages could not load your account: ${messageOf(error)}`);
    return;
  }
  if (!me) {
    blocked("Sign in first", "You are not signed in. Sign in on the Sluice dashboard, then come back.");
    return;
  }
  if (me.role !== "admin") {
    blocked("Admins only", "This account is not an admin, so the admin pages are not available to it.");
    return;
  }
  if (whoami) whoami.textContent = me.email;
  if (nav) nav.hidden = false;

  const page = (render) => async (root, params) => {
    if (signedOut) { blocked(...SIGNED_OUT); return; }
    const ctx = pageContext(me);
    try {
      await render(root, ctx, params);
    } catch (error) {
      if (ctx.isActive()) toast(messageOf(error), "error");
    }
  };
  if (!window.location.hash || window.location.hash === "#" || window.location.hash === "#/") {
    history.replaceState(null, "", "#/users");
  }
  startRouter(
    {
      "/users": page(renderUsers),
      "/pool": page(renderPool),
      "/codes": page(renderCodes),
      "/plans": page(renderPlans),
      "/usage": page(renderUsage),
      "/health": page(renderHealth),
    },
    { root: app, fallback: "/users", titlePrefix: "Sluice admin" },
  );
}

main();
