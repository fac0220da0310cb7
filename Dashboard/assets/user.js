// The user app's entry: signed out -> sign-in / register; signed in -> nav + hash router.
// Each page lives in its own module (user-<page>.js); this file only wires them together.

import { currentUser, signOut } from "./api.js";
import { h, mount, loading, errorState, toast } from "./dom.js";
import { startRouter } from "./router.js";
import { renderSignIn } from "./user-auth.js";
import { overviewPage } from "./user-overview.js";
import { keysPage } from "./user-keys.js";
import { usagePage } from "./user-usage.js";
import { creditsPage } from "./user-credits.js";
import { quotasPage } from "./user-quotas.js";
import { accountsPage } from "./user-accounts.js";
import { settingsPage } from "./user-settings.js";
import { teamsPage } from "./user-teams.js";

const app = document.getElementById("app");
const nav = document.getElementById("nav");

/** The signed-in user, shared with pages that change it (Settings). */
const session = { user: null };
let router = null;

const PAGES = [
  ["/overview", "Overview"],
  ["/keys", "API keys"],
  ["/usage", "Usage"],
  ["/credits", "Credits"],
  ["/quotas", "Quotas"],
  ["/accounts", "My accounts"],
  ["/teams", "Teams"],
  ["/settings", "Settings"],
];

const routes = {
  "/overview": (root) => overviewPage(root),
  "/keys": (root) => keysPage(root),
  "/usage": (root, params) => usagePage(root, params),
  "/credits": (root) => creditsPage(root),
  "/quotas": (root) => quotasPage(root),
  "/accounts": (root) => accountsPage(root),
  "/teams": (root, params) => teamsPage(root, params),
  "/settings": (root, params) => settingsPage(root, params, session),
};

function renderNav(user) {
  const signOutButton = h("button", { type: "button", id: "signout", class: "small" }, "Sign out");
  signOutButton.addEventListener("click", async () => {
    signOutButton.disabled = true;
    try {
      await signOut(); // dispatches sluice:signed-out, which shows the sign-in view
    } catch (error) {
      signOutButton.disabled = false;
      toast(`Could not sign out: ${error.message}`, "error");
    }
  });
  mount(
    nav,
    h(
      "ul",
      {},
      PAGES.map(([path, label]) => h("li", {}, h("a", { href: `#${path}` }, label))),
      user.role === "admin" ? h("li", {}, h("a", { href: "/admin" }, "Admin")) : null,
    ),
    h("div", { class: "whoami-box" }, h("span", { id: "whoami", title: user.email }, user.email), signOutButton),
  );
  nav.hidden = false;
}

/** Shows the signed-in app. `focus`: move focus to the first page's heading (after signing in). */
function showApp(user, focus = false) {
  session.user = user;
  renderNav(user);
  if (router) router.stop();
  router = startRouter(routes, { root: app, fallback: "/overview", titlePrefix: "Sluice", focusOnStart: focus });
}

/** Shows the sign-in view; the hash is kept, so signing in returns to the same page. */
function showSignedOut(message) {
  if (router) router.stop();
  router = null;
  session.user = null;
  nav.hidden = true;
  mount(nav);
  renderSignIn(app, { message, onSignedIn: (user) => showApp(user, true) });
}

// Any API call that finds the sign-in gone (or Sign out, or "sign out everywhere") ends here.
window.addEventListener("sluice:signed-out", () => {
  const wasSignedIn = session.user !== null;
  if (!wasSignedIn && !router) return; // already on the sign-in view
  showSignedOut(wasSignedIn ? "You are signed out. Sign in again to continue." : undefined);
});

// The skip link's "#app" would look like a route to the router: focus <main> instead.
document.querySelector(".skip-link")?.addEventListener("click", (event) => {
  event.preventDefault();
  app.focus();
});

async function boot() {
  mount(app, loading("Checking your sign-in…"));
  let user;
  try {
    user = await currentUser();
  } catch (error) {
    mount(app, h("h1", { tabindex: "-1" }, "Sluice"), errorState(error, boot));
    return;
  }
  if (user) showApp(user);
  else showSignedOut();
}

boot();
