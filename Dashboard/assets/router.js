// A hash router: `#/keys?model=x` -> routes["/keys"](root, { model: "x" }).
// Hash routes need no server support (every page is one HTML file) and keep history working.

import { h, mount, loading, errorState } from "./dom.js";

/** "#/keys?x=1" -> { path: "/keys", params: { x: "1" } } */
function parseHash(hash) {
  let text = hash.replace(/^#/, "");
  try {
    text = decodeURI(text);
  } catch {
    // a malformed %-escape: use the hash as it is
  }
  text = text || "/";
  const mark = text.indexOf("?");
  const path = "/" + (mark < 0 ? text : text.slice(0, mark)).replace(/^\/+/, "").replace(/\/+$/, "");
  const params = Object.fromEntries(new URLSearchParams(mark < 0 ? "" : text.slice(mark + 1)));
  return { path, params };
}

/** The handler for a path; route keys may be written "/keys" or "keys". */
function lookup(routes, path) {
  return routes[path] || routes[path.slice(1)] || null;
}

/**
 * Starts routing on `hashchange`. On every change it renders the route into a fresh view inside
 * `root` (so a slow page that finishes late cannot overwrite the next one), sets document.title from
 * the page's <h1>, marks the matching nav links `aria-current="page"`, and moves focus to the <h1>
 * (tabindex=-1) so screen readers announce the new page.
 * @param {Object<string, (root: HTMLElement, params: Object<string, string>) => (void|Promise<void>)>} routes
 * @param {{root: HTMLElement, fallback?: string|Function, titlePrefix?: string, focusOnStart?: boolean}} options
 *   `fallback`: a path to redirect unknown routes to (e.g. "/overview"), or a handler to render them.
 *   `focusOnStart`: also focus the first page's <h1> (e.g. right after signing in, when focus was lost).
 * @returns {{navigate: (path: string) => void, refresh: () => Promise<void>, stop: () => void}}
 */
export function startRouter(routes, { root, fallback, titlePrefix = "", focusOnStart = false } = {}) {
  let renders = 0;
  let first = !focusOnStart;

  async function render() {
    const { path, params } = parseHash(location.hash);
    let handler = lookup(routes, path);
    if (!handler) {
      if (typeof fallback === "string" && path !== fallback) {
        location.replace("#" + fallback); // replace: the bad hash stays out of history
        return;
      }
      handler = typeof fallback === "function" ? fallback : notFound;
    }
    const token = ++renders;
    // Don't steal focus on the first load: the browser has just announced the page.
    const moveFocus = !first;
    first = false;
    markNav(path);
    const view = h("div", { class: "view" });
    mount(root, view);
    mount(view, loading());
    try {
      await handler(view, params);
    } catch (error) {
      if (token === renders) mount(view, h("h1", { tabindex: "-1" }, "Something went wrong"), errorState(error, render));
    }
    if (token !== renders) return; // a newer navigation owns the page now
    const heading = view.querySelector("h1");
    const name = heading ? heading.textContent.trim() : path.slice(1);
    document.title = [name, titlePrefix].filter(Boolean).join(" · ");
    if (heading && moveFocus) {
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
  }

  const onChange = () => render();
  window.addEventListener("hashchange", onChange);
  render();

  return {
    navigate(path) {
      const target = "#" + (path.startsWith("/") ? path : "/" + path);
      if (location.hash === target) render();
      else location.hash = target;
    },
    refresh: render,
    stop() {
      window.removeEventListener("hashchange", onChange);
      renders += 1; // pending renders become stale
    },
  };
}

/** Marks nav links to the current route with aria-current="page". */
function markNav(path) {
  for (const link of document.querySelectorAll('nav a[href^="#/"]')) {
    const target = parseHash(link.getAttribute("href")).path;
    if (target === path) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function notFound(view) {
  mount(view, h("h1", { tabindex: "-1" }, "Page not found"), h("p", {}, "There is no such page here."));
}
