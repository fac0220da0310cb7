"""The dashboard in a real browser: headless Chromium (Debian's chromium and chromium-driver)
driven by selenium, against a running test gateway.

Usage: dashboard_browser.py BASE_URL ARTIFACTS_DIR [SCENARIO]
SCENARIO `work` (the default): a user's and an admin's work. Environment: ADMIN_EMAIL,
ADMIN_PASSWORD (an admin the test made), COOLING_ACCOUNT (the id of an account the test made
cool), SCREENSHOTS (optional: a directory for the README's screenshots).
SCENARIO `buy`: USER_EMAIL (a user with the test's password) buys the `starter` pack and the
browser goes to the Checkout page Stripe (here, the tests' fake of it) made.
Each step is printed as `step: NAME ok`; the first failure saves ARTIFACTS_DIR/NAME.png and the
page's HTML, prints `step: NAME FAILED: …` and exits 1. The last line is JSON with what the
Swift test checks in the store afterwards.
"""

import json
import os
import sys
import time
import traceback
import urllib.error
import urllib.request
import uuid

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.common.exceptions import ElementClickInterceptedException, NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.support.ui import WebDriverWait

BASE, ARTIFACTS = sys.argv[1].rstrip("/"), sys.argv[2]
SCENARIO = sys.argv[3] if len(sys.argv) > 3 else "work"
PASSWORD = "correct horse battery"
XSS = "<img src=x onerror=alert(1)>"
os.makedirs(ARTIFACTS, exist_ok=True)


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    return driver


driver = browser()
# Pages that refresh themselves (the pool, every 5 s) redraw their rows: an element found just
# before a redraw goes stale, and the condition is simply asked again.
# A click something covered (a toast, a page still moving) never reached its target: `press` tries again.
wait = WebDriverWait(driver, 15, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException, ElementClickInterceptedException))
results = {}


def step(name, action):
    try:
        action()
    except Exception as error:  # noqa: BLE001 - every failure is reported with its page
        driver.save_screenshot(os.path.join(ARTIFACTS, f"{name}.png"))
        with open(os.path.join(ARTIFACTS, f"{name}.html"), "w") as page:
            page.write(driver.page_source)
        logs = [entry["message"] for entry in driver.get_log("browser")] if hasattr(driver, "get_log") else []
        print(f"step: {name} FAILED: {error!r}\n{traceback.format_exc()}\nconsole: {logs}", flush=True)
        driver.quit()
        sys.exit(1)
    print(f"step: {name} ok", flush=True)


def find(selector):
    return wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, selector)))


def visible(selector):
    return wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, selector)))


def click(selector):
    element = wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, selector)))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def press(selector):
    """Clicks a button in a row, centred first so that no toast covers it, found again if the
    page redrew the row meanwhile, and clicked again if something still covered it."""

    def pressed(d):
        element = d.find_element(By.CSS_SELECTOR, selector)
        d.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
        if not (element.is_displayed() and element.is_enabled()):
            return False
        element.click()
        return True

    wait.until(pressed)


def type_into(selector, text):
    """Types into a field until it holds `text`: a page that finishes loading while the keys go in
    draws its form again, empty (a key was once made without the name typed for it)."""
    visible(selector)

    def holds_text(d):
        element = d.find_element(By.CSS_SELECTOR, selector)
        if element.get_attribute("value") == text:
            return True
        element.clear()
        element.send_keys(text)
        return False

    wait.until(holds_text)


def chat(key):
    request = urllib.request.Request(
        BASE + "/v1/chat/completions",
        data=json.dumps({"model": "gpt-test", "messages": [{"role": "user", "content": "Hello from the browser test"}]}).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def no_alert():
    try:
        alert = driver.switch_to.alert
        raise AssertionError(f"an alert opened: {alert.text}")
    except Exception as error:  # noqa: BLE001
        if isinstance(error, AssertionError):
            raise


def sign_in(email, password=PASSWORD):
    driver.get(BASE + "/")
    type_into("#signin-email", email)
    type_into("#signin-password", password)
    # By keyboard: Enter submits the form.
    find("#signin-password").send_keys(Keys.ENTER)
    find("#whoami")
    wait.until(lambda d: email in d.find_element(By.CSS_SELECTOR, "#whoami").text)


def sign_out():
    click("#signout")
    visible("#signin-form")


def screenshot(name):
    directory = os.environ.get("SCREENSHOTS")
    if directory:
        os.makedirs(directory, exist_ok=True)
        # The page as it rests: without the notices of what the test just did.
        driver.execute_script("document.querySelectorAll('.toast').forEach(t => t.remove())")
        driver.save_screenshot(os.path.join(directory, name))


def no_error_shown():
    shown = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "main [role=alert]") if e.text.strip()]
    assert not shown, f"the page shows an error: {shown}"


def tour(base, pages):
    """Opens each page and waits for its content: every page loads against the real API."""
    for route, selector in pages:
        driver.get(base + route)
        find(selector)
        wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "main [aria-busy=true]"))
        no_error_shown()


if SCENARIO == "buy":

    def buy():
        sign_in(os.environ["USER_EMAIL"])
        driver.get(BASE + "/#/credits")
        click('#buy-credits button[data-pack="starter"]')
        wait.until(lambda d: d.current_url.startswith("https://checkout.stripe.test/c/pay/"))
        results["checkout_url"] = driver.current_url

    step("buy the starter pack", buy)
    driver.quit()
    print(json.dumps(results), flush=True)
    sys.exit(0)

# ---- A user: register, sign in, a key that answers, its request in Usage, revoke. ----
email = f"browser-{uuid.uuid4().hex[:8]}@test.dev"
state = {}


def register():
    driver.get(BASE + "/")
    click("#show-register")
    type_into("#register-email", email)
    type_into("#register-password", PASSWORD)
    click("#register-submit")
    # Registration signs the new user in, or leaves them at the sign-in form.
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#whoami") or d.find_elements(By.CSS_SELECTOR, "#signin-form"))


def create_key():
    click('a[href="#/keys"]')
    type_into("#key-name", XSS)
    click("#key-create")
    key = visible("#new-key-value").text.strip()
    assert key.startswith("sk-sluice-"), key
    snippet = find("#snippet-curl").text
    assert key in snippet and BASE + "/v1" in snippet, snippet
    state["key"] = key


def key_answers():
    status, body = chat(state["key"])
    assert status == 200, (status, body)
    state["request_id_seen"] = True


def key_name_is_text():
    driver.get(BASE + "/#/keys")
    table = find("#keys-table")
    wait.until(lambda d: XSS in d.find_element(By.CSS_SELECTOR, "#keys-table").text)
    # The name is text: no element was made from it, and no script ran.
    assert not driver.find_elements(By.CSS_SELECTOR, '#keys-table img[src="x"]'), "the key name became an element"
    no_alert()
    assert table is not None


def usage_shows_it():
    click('a[href="#/usage"]')
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#usage-table tr[data-request-id]"))
    assert "gpt-test" in find("#usage-table").text


def overview():
    click('a[href="#/overview"]')
    find("#overview-chart")
    visible("#overview-balance")
    time.sleep(0.5)  # the chart's data arrives after the frame
    screenshot("overview.png")


def narrow_screen():
    driver.set_window_size(375, 812)
    try:
        for page in ("#/overview", "#/keys", "#/usage"):
            driver.get(BASE + "/" + page)
            find("main h1")
            time.sleep(0.3)
            width = driver.execute_script("return document.documentElement.scrollWidth")
            assert width <= 375, f"{page} is {width}px wide at 375px"
    finally:
        driver.set_window_size(1280, 900)


def revoke():
    driver.get(BASE + "/#/keys")
    press('#keys-table tr[data-key-id] button[data-action="revoke"]')
    click("#confirm-yes")
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, '#keys-table tr[data-key-id] button[data-action="revoke"]'))
    deadline = time.time() + 10
    while True:
        status, body = chat(state["key"])
        if status == 401:
            break
        assert time.time() < deadline, ("the revoked key still answers", status, body)
        time.sleep(0.2)


step("register", register)
if not driver.find_elements(By.CSS_SELECTOR, "#whoami"):
    step("sign in", lambda: sign_in(email))
step("create a key (named like an injection)", create_key)
step("the key answers /v1/chat/completions", key_answers)
step("the key's name renders as text", key_name_is_text)
step("the request appears in Usage", usage_shows_it)
step("the overview draws", overview)
step("pages fit 375 px", narrow_screen)
NEW_PASSWORD = "a new horse battery"


def change_password():
    driver.get(BASE + "/#/settings")
    type_into("#password-current", PASSWORD)
    type_into("#password-new", NEW_PASSWORD)
    click("#password-save")
    wait.until(lambda d: "changed" in d.find_element(By.CSS_SELECTOR, "#password-form [role=status]").text.lower())
    sign_out()
    sign_in(email, NEW_PASSWORD)


step(
    "every user page loads",
    lambda: tour(BASE + "/", [
        ("#/credits", "#transactions-table"), ("#/quotas", "#quotas"), ("#/accounts", "#accounts-table"),
        ("#/settings", "#sessions-table"), ("#/usage", "#usage-table"), ("#/overview", "#overview-recent"),
        ("#/teams", "#teams-table"),
    ]),
)


def api_call(path, body, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(BASE + path, data=json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def accept_invitation():
    # Another user makes a team and invites this user's address; the mail's link opens the
    # Teams page with the token filled in, and accepting is one click.
    inviter = f"inviter-{uuid.uuid4().hex[:8]}@test.dev"
    api_call("/api/auth/register", {"email": inviter, "password": PASSWORD})
    token = api_call("/api/auth/login", {"email": inviter, "password": PASSWORD})["access_token"]
    team = api_call("/api/teams", {"name": "Browser crew"}, token)
    invitation = api_call(f"/api/teams/{team['id']}/invitations", {"email": email}, token)
    driver.get(BASE + "/#/teams?invitation=" + invitation["token"])
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#invitation-token").get_attribute("value") == invitation["token"])
    click("#invitation-accept")
    row = f'#teams-table tr[data-team-id="{team["id"]}"]'
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, row) and "member" in d.find_element(By.CSS_SELECTOR, row).text)
    no_error_shown()


step("accept a team invitation from its link", accept_invitation)
step("revoke the key, which is refused", revoke)
step("change the password and sign in with it", change_password)
step("sign out", sign_out)

# ---- An admin: disable a user, reset a cooling account, a code the user redeems. ----
admin_email, admin_password = os.environ["ADMIN_EMAIL"], os.environ["ADMIN_PASSWORD"]
victim = f"victim-{uuid.uuid4().hex[:8]}@test.dev"


def make_victim():
    request = urllib.request.Request(
        BASE + "/api/auth/register", data=json.dumps({"email": victim, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201


def admin_sign_in():
    sign_in(admin_email, admin_password)
    driver.get(BASE + "/admin")
    find("#users-table")


def disable_user():
    type_into("#user-search", victim)
    row_selector = "#users-table tr[data-user-id]"
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, row_selector)) == 1 and victim in d.find_element(By.CSS_SELECTOR, row_selector).text)
    press(f'{row_selector} button[data-action="disable"]')
    click("#confirm-yes")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'{row_selector} button[data-action="enable"]'))
    results["disabled_user"] = victim


def reset_account():
    driver.get(BASE + "/admin#/pool")
    account = os.environ["COOLING_ACCOUNT"]
    row_selector = f'#pool-table tr[data-account-id="{account}"]'
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, row_selector) and "cooling" in d.find_element(By.CSS_SELECTOR, row_selector).text.lower())
    time.sleep(0.3)
    screenshot("pool.png")
    press(f'{row_selector} button[data-action="reset"]')
    click("#confirm-yes")
    wait.until(lambda d: "cooling" not in d.find_element(By.CSS_SELECTOR, row_selector).text.lower())
    results["reset_account"] = int(account)


def create_code():
    driver.get(BASE + "/admin#/codes")
    type_into("#code-credits", "3")
    click("#code-create")
    code = visible("#new-codes code").text.strip()
    assert code, "no code shown"
    state["code"] = code


step("the victim registers", make_victim)
step("admin signs in and opens /admin", admin_sign_in)
step("admin disables a user", disable_user)
step("admin resets a cooling account", reset_account)
step("admin creates a redemption code", create_code)
step(
    "every admin page loads",
    lambda: tour(BASE + "/admin", [
        ("#/plans", "#plans-table"), ("#/usage", "#admin-usage-table"), ("#/health", "#health"), ("#/codes", "#codes-table"),
        ("#/users", "#users-table"),
    ]),
)
step("admin signs out", lambda: (driver.get(BASE + "/"), sign_out()))


def redeem():
    sign_in(email, NEW_PASSWORD)
    click('a[href="#/credits"]')
    before = visible("#balance").text
    type_into("#redeem-code", state["code"])
    click("#redeem-submit")
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#balance").text not in ("", before))
    wait.until(lambda d: "redemption" in d.find_element(By.CSS_SELECTOR, "#transactions-table").text.lower())
    results["redeemed_by"] = email


step("the user redeems the code", redeem)
driver.quit()
print(json.dumps(results), flush=True)
