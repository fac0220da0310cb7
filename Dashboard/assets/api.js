// Talking to the Sluice API from the browser.
//
// The browser is signed in by HttpOnly cookies (`sluice_access`, `sluice_refresh`), so no token
// ever lives in JavaScript or a URL. Every state-changing request carries the CSRF token from the
// readable `sluice_csrf` cookie. Shared by the user app (user.js) and the admin app (admin.js).

/** Routes that answer 401 for a reason a refresh cannot fix (wrong password, used refresh cookie). */
const NO_REFRESH = ["/api/auth/browser/", "/api/auth/login", "/api/auth/register", "/api/auth/refresh"];

/** An error answer from the API, or a network failure (status 0). */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 when the server could not be reached.
   * @param {any} body The parsed error body `{"error": {"message","type","param","code"}}`, or text, or null.
   */
  constructor(status, body) {
    const detail = body && typeof body === "object" && body.error ? body.error : {};
    const fallback = typeof body === "string" && body.trim() ? body.trim().slice(0, 200) : defaultMessage(status);
    super(detail.message || fallback);
    this.name = "ApiError";
    /** @type {number} */ this.status = status;
    /** @type {string|null} */ this.code = detail.code ?? null;
    /** @type {string|null} */ this.param = detail.param ?? null;
    /** @type {string|null} */ this.type = detail.type ?? null;
    this.body = body;
  }
}

function defaultMessage(status) {
  if (status === 0) return "Could not reach the server. Check your connection and try again.";
  if (status === 429) return "Too many requests. Wait a moment and try again.";
  if (status >= 500) return `The server had a problem (${status}). Try again in a moment.`;
  return `The request failed (${status}).`;
}

/**
 * The CSRF token: the value of the `sluice_csrf` cookie, or "" when there is none.
 * @returns {string}
 */
export function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === "sluice_csrf") {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return part.slice(eq + 1).trim();
      }
    }
  }
  return "";
}

/** Builds `path?query`, skipping undefined, null and empty values. */
function withQuery(path, query) {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    params.append(key, String(value));
  }
  const text = params.toString();
  if (!text) return path;
  return path + (path.includes("?") ? "&" : "?") + text;
}

/** One fetch, no retry. Resolves to the parsed body; throws ApiError for non-2xx or network failure. */
async function send(path, { method = "GET", body, query, headers } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json", ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (method !== "GET" && method !== "HEAD") {
    const token = csrfToken();
    if (token) init.headers["X-CSRF-Token"] = token;
  }
  let response;
  try {
    response = await fetch(withQuery(path, query), init);
  } catch (error) {
    throw new ApiError(0, null);
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let parsed = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

// Refresh cookies are single use and a reused one revokes the whole sign-in, so requests that
// fail with 401 at the same time must share ONE refresh call.
let refreshing = null;
// Counts successful refreshes: a request sent before the latest one just retries, no new refresh.
let refreshEpoch = 0;

/** Trades the refresh cookie for new cookies. Resolves true on success, false otherwise. */
function refreshOnce() {
  if (!refreshing) {
    refreshing = send("/api/auth/browser/refresh", { method: "POST" })
      .then(
        () => {
          refreshEpoch += 1;
          return true;
        },
        () => false,
      )
      .finally(() => {
        refreshing = null;
      });
  }
  return refreshing;
}

/** Tells the app the browser is no longer signed in. */
function signedOut() {
  window.dispatchEvent(new CustomEvent("sluice:signed-out"));
}

/** api() with a switch for whether a final 401 announces `sluice:signed-out`. */
async function request(path, options = {}, announce = true) {
  const epoch = refreshEpoch;
  try {
    return await send(path, options);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401 || NO_REFRESH.some((p) => path.startsWith(p))) throw error;
    if (refreshEpoch !== epoch || (await refreshOnce())) {
      try {
        return await send(path, options);
      } catch (retryError) {
        if (retryError instanceof ApiError && retryError.status === 401 && announce) signedOut();
        throw retryError;
      }
    }
    if (announce) signedOut();
    throw error;
  }
}

/**
 * Calls the API with the browser's cookies.
 * On a 401 (except for the auth routes themselves) it refreshes the sign-in once and retries;
 * when that fails it dispatches `sluice:signed-out` on window and throws the ApiError.
 * @param {string} path e.g. "/api/api-keys"
 * @param {{method?: string, body?: any, query?: Object<string, any>, headers?: Object<string, string>}} [options]
 *   `query`: params, undefined/null/"" values skipped. `headers`: extra headers (e.g. Idempotency-Key).
 * @returns {Promise<any>} The parsed JSON, or null for 204.
 * @throws {ApiError}
 */
export async function api(path, { method = "GET", body, query, headers } = {}) {
  return request(path, { method, body, query, headers }, true);
}

/**
 * Signs in and sets the cookies.
 * @param {string} email
 * @param {string} password
 * @param {string} [otp] The two-factor code, when a first try failed with code `two_factor_required`.
 * @returns {Promise<object>} The signed-in User.
 * @throws {ApiError} 401 `invalid_credentials` / `two_factor_required`, 403 `user_disabled`, 429.
 */
export async function signIn(email, password, otp) {
  const body = { email, password };
  if (otp) body.otp = otp;
  const answer = await send("/api/auth/browser/login", { method: "POST", body });
  return answer && answer.user ? answer.user : answer;
}

/**
 * Ends this sign-in on the server, clears the cookies and dispatches `sluice:signed-out`.
 * A 401 means it had already ended, which is success too.
 * @returns {Promise<void>}
 * @throws {ApiError} when the server could not be reached or failed.
 */
export async function signOut() {
  try {
    await send("/api/auth/browser/logout", { method: "POST" });
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) throw error;
  }
  signedOut();
}

/**
 * The signed-in user (GET /api/auth/me), refreshing the sign-in once if needed.
 * @returns {Promise<object|null>} The User, or null when not signed in. Never throws on 401.
 * @throws {ApiError} for other failures (server down, 403 disabled user…).
 */
export async function currentUser() {
  try {
    return await request("/api/auth/me", {}, false);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}
