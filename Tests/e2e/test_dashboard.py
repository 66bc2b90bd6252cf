"""The dashboard (issue #20): `GET /_hyperpod/ui`, the page built into the binary, in a real browser.

Headless Chromium from Debian's packages (`chromium`, `chromium-driver`) driven by Selenium
(Tests/e2e/requirements-browser.txt). Each test asserts what a user sees: it reads the DOM and waits for the page's
own refresh (every 1.5 s, slower while nothing changes) with WebDriverWait, never sleeping for state. Servers run on a manual clock, so nothing
moves unless a test (or the page) moves it. The cluster page, mid-update, is saved as a screenshot to
$HYPERPOD_LOCAL_ARTIFACTS (default .build/artifacts/) and, with HYPERPOD_LOCAL_UPDATE_SCREENSHOT=1, to
docs/images/dashboard.png for the README.

Without selenium the module is skipped; with selenium but without Chromium or its driver the tests are skipped,
except under CI (`CI=true`), where they fail.
"""
import http.client
import json
import os
import shutil
import urllib.parse
import urllib.request

import pytest

pytest.importorskip("selenium", reason="selenium is not installed (pip install -r Tests/e2e/requirements-browser.txt)")

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.select import Select  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from conftest import ROOT, make_client  # noqa: E402
from test_clusters import group  # noqa: E402
from test_update_cluster import EKS_ARN, VPC  # noqa: E402

ACCOUNT, REGION = "000000000000", "us-east-1"   # the server's default partition (unsigned boto3 requests land here)
WAIT = 15            # seconds a DOM condition may take: the page refreshes every 1.5 s, at most 10 s apart
START = 1893488400   # 2030-01-01T09:00:00Z: the clock is set here so the screenshot reads the same on every run


def browser_binaries():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else None)
    return chromium, driver


@pytest.fixture(scope="module")
def chrome():
    """One headless Chromium for the module; each test gets it at 1280×800 with an empty log (`browser`)."""
    chromium, driver_path = browser_binaries()
    if not (chromium and driver_path):
        reason = "Chromium missing: install Debian's chromium and chromium-driver (.ci/run does)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + "; under CI the dashboard must be tested in a browser", pytrace=False)
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,800",
                "--disable-gpu", "--hide-scrollbars", "--force-color-profile=srgb", "--lang=en-US"]:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    except WebDriverException as error:
        pytest.fail(f"Chromium did not start: {error.msg}", pytrace=False)
    yield driver
    driver.quit()


def viewport(driver, width, height):
    """Sets the page's viewport exactly (a window's size includes whatever the browser draws around it)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})


@pytest.fixture
def browser(chrome):
    viewport(chrome, 1280, 800)
    chrome.get("about:blank")
    chrome.get_log("browser")  # drop what earlier tests left
    yield chrome
    try:
        chrome.execute_script("try { sessionStorage.clear(); } catch (e) {}")
    except WebDriverException:
        pass


def admin(server, path, body=None, method=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server.endpoint + path, data=data, method=method or ("POST" if data else "GET"))
    if token:
        request.add_header("X-Hyperpod-Admin-Token", token)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def start(make_server, *flags):
    """A server on a manual clock (fixed ids), its clock set to START."""
    server = make_server("--clock", "manual", "--seed", "20", *flags)
    token = flags[flags.index("--admin-token") + 1] if "--admin-token" in flags else None
    admin(server, "/_hyperpod/clock", {"set": START}, token=token)
    return server


def open_page(driver, server, fragment="#/"):
    driver.get(server.endpoint + "/_hyperpod/ui" + fragment)


def wait(driver, condition, message, timeout=WAIT):
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition, message)


def css(selector):
    return lambda driver: driver.find_elements(By.CSS_SELECTOR, selector)


# The page redraws what changed on each refresh, so tests read the DOM in one script call (no stale elements).
def attr(driver, selector, name):
    return driver.execute_script("const e = document.querySelector(arguments[0]); return e && e.getAttribute(arguments[1])",
                                 selector, name)


def attrs(driver, selector, name):
    return driver.execute_script("return [...document.querySelectorAll(arguments[0])].map(e => e.getAttribute(arguments[1]))",
                                 selector, name)


def texts(driver, selector):
    return driver.execute_script("return [...document.querySelectorAll(arguments[0])].map(e => e.innerText)", selector)


def text(driver, selector):
    found = texts(driver, selector)
    return found[0] if found else None


def count(driver, selector):
    return len(attrs(driver, selector, "class"))


def click(driver, selector):
    """Clicks the element once it is there and clickable, finding it again if a refresh redrew it."""
    def clicked(d):
        try:
            d.find_element(By.CSS_SELECTOR, selector).click()
            return True
        except (StaleElementReferenceException, NoSuchElementException):
            return False
    wait(driver, clicked, f"cannot click {selector}")


def visible(driver, selector):
    return driver.execute_script("const e = document.querySelector(arguments[0]); return !!e && e.getClientRects().length > 0",
                                 selector)


def focused(driver, name="data-testid"):
    """An attribute of the element that has the keyboard focus (None for the page itself)."""
    return driver.execute_script("const e = document.activeElement;"
                                 "return e && e !== document.body ? e.getAttribute(arguments[0]) : null", name)


def keys(driver, *sequence):
    """Types into whatever has the focus, as a keyboard user does."""
    ActionChains(driver).send_keys(*sequence).perform()


def row_status(driver, name):
    return attr(driver, f'tr[data-testid="cluster-row"][data-cluster-name="{name}"]', "data-status")


def problems(driver):
    """The console's errors and warnings since the last call."""
    return [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]


def confirm(driver, accept=True):
    dialog = wait(driver, EC.visibility_of_element_located((By.CSS_SELECTOR, '[data-testid="confirm-dialog"]')),
                  "no confirmation dialog")
    dialog.find_element(By.CSS_SELECTOR, '[data-testid="confirm-ok"]' if accept else '[data-testid="confirm-cancel"]').click()
    wait(driver, EC.invisibility_of_element(dialog), "the confirmation dialog stayed open")


def advance_with_page(driver, amount_label):
    Select(driver.find_element(By.CSS_SELECTOR, '[data-testid="advance-amount"]')).select_by_visible_text(amount_label)
    driver.find_element(By.CSS_SELECTOR, '[data-testid="advance"]').click()


def continuous(sm, name, *groups):
    sm.create_cluster(ClusterName=name, InstanceGroups=list(groups), VpcConfig=VPC,
                      Orchestrator={"Eks": {"ClusterArn": EKS_ARN}}, NodeProvisioningMode="Continuous")


def test_the_page_loads_with_no_console_error(make_server, browser):
    server = start(make_server)
    open_page(browser, server)
    partition = f'[data-testid="partition"][data-account="{ACCOUNT}"][data-region="{REGION}"]'
    wait(browser, css(partition), "the default partition is not listed")
    assert "No clusters in this partition yet" in text(browser, partition)
    health = admin(server, "/_hyperpod/health")
    wait(browser, lambda d: text(d, "#version") == "v" + health["version"], "no server version")
    wait(browser, lambda d: text(d, "#clock-now") == "2030-01-01 09:00:00 UTC", "no virtual clock")
    assert "manual" in text(browser, "#clock-mode")
    wait(browser, lambda d: text(d, "#live-text").startswith("Live"), "no live refresh")
    assert browser.title == "hyperpod-local dashboard"
    assert problems(browser) == []


def test_a_cluster_created_through_boto3_appears_without_reloading(make_server, browser):
    server = start(make_server)
    open_page(browser, server)
    wait(browser, css('[data-testid="no-clusters"]'), "the empty partition is not shown")
    browser.execute_script("window.__sameDocument = true")
    make_client(server.endpoint).create_cluster(ClusterName="demo", InstanceGroups=[group("workers", 2)])
    wait(browser, lambda d: row_status(d, "demo") == "Creating", "the new cluster did not appear")
    row = text(browser, 'tr[data-cluster-name="demo"]')
    assert "Creating" in row and "0 / 2" in row and "Legacy" in row
    assert browser.execute_script("return window.__sameDocument === true"), "the page reloaded"
    assert problems(browser) == []


def test_advance_moves_a_cluster_from_creating_to_in_service_on_screen(make_server, browser):
    server = start(make_server)
    sm = make_client(server.endpoint)
    sm.create_cluster(ClusterName="demo", InstanceGroups=[group("workers", 2)])
    open_page(browser, server)
    wait(browser, lambda d: row_status(d, "demo") == "Creating", "the cluster is not shown Creating")
    advance_with_page(browser, "1 min")
    wait(browser, lambda d: row_status(d, "demo") == "InService", "the cluster did not go InService on screen")
    assert text(browser, "#clock-now") == "2030-01-01 09:01:00 UTC"
    assert "Clock advanced by 1 min" in text(browser, '[data-testid="status"]')
    assert "2 / 2" in text(browser, 'tr[data-cluster-name="demo"]')
    assert sm.describe_cluster(ClusterName="demo")["ClusterStatus"] == "InService"

    click(browser, 'tr[data-cluster-name="demo"] a')   # the cluster page
    wait(browser, lambda d: count(d, '[data-slot="running"]') == 4,
         "the cluster page does not show 2 running slots and 2 running nodes")
    assert text(browser, '[data-testid="cluster-status-badge"]') == "InService"
    assert int(attr(browser, '[data-testid="timeline-svg"]', "data-events")) > 0
    assert any("create completed successfully" in item for item in texts(browser, '[data-testid="timeline-item"]'))
    assert problems(browser) == []


def test_a_capacity_cut_and_a_scale_up_show_waiting_slots(make_server, browser):
    server = start(make_server)
    sm = make_client(server.endpoint)
    continuous(sm, "gpu", group("workers", 2), group("infer", 1, InstanceType="ml.g5.xlarge"))
    assert admin(server, "/_hyperpod/settle", {})["settled"]
    open_page(browser, server, f"#/cluster/{ACCOUNT}/{REGION}/gpu")
    wait(browser, lambda d: count(d, '[data-testid="slot-bar"] [data-slot="running"]') == 3,
         "the cluster page does not show 3 running slots")

    # cut ml.c5.xlarge capacity with the page's own control, which asks first
    kind = browser.find_element(By.CSS_SELECTOR, '[data-testid="capacity-type"]')
    kind.clear()
    kind.send_keys("ml.c5.xlarge")
    amount = browser.find_element(By.CSS_SELECTOR, '[data-testid="capacity-count"]')
    amount.clear()
    amount.send_keys("0")
    browser.find_element(By.CSS_SELECTOR, '[data-testid="capacity-set"]').click()
    confirm(browser)
    wait(browser, css('tr[data-testid="capacity-row"][data-instance-type="ml.c5.xlarge"]'), "the cut pool is not listed")
    pool = admin(server, f"/_hyperpod/capacity?account={ACCOUNT}&region={REGION}")["pools"]
    assert [(p["instanceType"], p["free"]) for p in pool] == [("ml.c5.xlarge", 0)]

    sm.update_cluster(ClusterName="gpu", InstanceGroups=[group("workers", 5)])
    bar = '[data-testid="slot-bar"][data-group="workers"]'
    wait(browser, lambda d: attr(d, bar, "data-waiting") == "3", "the slot bar does not show 3 waiting slots")
    assert attrs(browser, bar + " [data-slot]", "data-slot") == ["running", "running", "waiting", "waiting", "waiting"]
    assert texts(browser, bar + " [data-slot]") == ["R", "R", "W", "W", "W"]   # not told by colour alone
    row = 'tr[data-testid="group-row"][data-group="workers"] '
    assert text(browser, row + '[data-testid="current-count"]') == "2"
    assert text(browser, row + '[data-testid="target-count"]') == "5"
    assert text(browser, row + '[data-testid="active-operations"]') == "Scaling: 1"

    waiting_rows = texts(browser, 'tr[data-testid="node-row"][data-slot="waiting"]')
    assert len(waiting_rows) == 3 and all("waiting slot" in r for r in waiting_rows)
    Select(browser.find_element(By.CSS_SELECTOR, '[data-testid="node-status"]')).select_by_value("waiting")
    assert count(browser, 'tr[data-testid="node-row"]') == 3
    assert text(browser, '[data-testid="nodes-count"]') == "showing 3 of 6 nodes"
    Select(browser.find_element(By.CSS_SELECTOR, '[data-testid="node-status"]')).select_by_value("")

    # the retries fail while capacity is cut: Error events, and the next retry pending after "now"
    advance_with_page(browser, "10 s")
    wait(browser, lambda d: count(d, '[data-testid="timeline-svg"] g.mark[data-level="Error"]'),
         "no Error event on the timeline")
    # a second group scales up meanwhile, with capacity: its new slots launch (P) on the next transition
    sm.update_cluster(ClusterName="gpu", InstanceGroups=[group("infer", 3, InstanceType="ml.g5.xlarge")])
    wait(browser, lambda d: count(d, '[data-group="infer"] [data-slot="pending"]') == 2,
         "the second group's launches are not shown pending")
    assert int(attr(browser, '[data-testid="timeline-svg"]', "data-pending")) >= 2
    assert count(browser, '[data-testid="timeline-now"]') == 1
    assert count(browser, '[data-testid="timeline-item"][data-kind="pending"]') >= 2
    assert any("Failed to provision EC2 Instance" in i
               for i in texts(browser, '[data-testid="timeline-item"][data-level="Error"]'))
    assert problems(browser) == []
    save_screenshot(browser)


def save_screenshot(driver):
    """The cluster page mid-update, at 1280×800 from the top: a CI artifact, and the README's image on request."""
    driver.execute_script("window.scrollTo(0, 0); document.activeElement && document.activeElement.blur();"
                          "document.querySelector('[data-testid=status]').textContent = ''")   # the toast of the last action
    png = driver.get_screenshot_as_png()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) < 400_000
    artifacts = os.environ.get("HYPERPOD_LOCAL_ARTIFACTS") or os.path.join(ROOT, ".build", "artifacts")
    os.makedirs(artifacts, exist_ok=True)
    with open(os.path.join(artifacts, "dashboard-cluster.png"), "wb") as out:
        out.write(png)
    if os.environ.get("HYPERPOD_LOCAL_UPDATE_SCREENSHOT") == "1":
        with open(os.path.join(ROOT, "docs", "images", "dashboard.png"), "wb") as out:
            out.write(png)


def test_faults_and_reset_ask_for_confirmation_and_errors_are_shown(make_server, browser):
    server = start(make_server)
    make_client(server.endpoint).create_cluster(ClusterName="demo", InstanceGroups=[group("workers", 1)])
    open_page(browser, server, f"#/partition/{ACCOUNT}/{REGION}")
    wait(browser, lambda d: row_status(d, "demo") == "Creating", "the partition page does not list the cluster")

    Select(browser.find_element(By.CSS_SELECTOR, '[data-testid="fault-kind"]')).select_by_value("latency")
    body = json.loads(browser.find_element(By.CSS_SELECTOR, '[data-testid="fault-body"]').get_attribute("value"))
    assert body == {"kind": "latency", "operation": "*", "milliseconds": 500, "account": ACCOUNT, "region": REGION}
    browser.find_element(By.CSS_SELECTOR, '[data-testid="fault-inject"]').click()
    wait(browser, css('tr[data-testid="fault-row"][data-kind="latency"]'), "the injected fault is not listed")
    assert [f["kind"] for f in admin(server, "/_hyperpod/faults")["faults"]] == ["latency"]

    browser.find_element(By.CSS_SELECTOR, '[data-testid="faults-clear"]').click()
    confirm(browser, accept=False)                               # cancelled: the fault stays
    assert len(admin(server, "/_hyperpod/faults")["faults"]) == 1
    browser.find_element(By.CSS_SELECTOR, '[data-testid="faults-clear"]').click()
    confirm(browser)
    wait(browser, css('[data-testid="no-faults"]'), "the faults were not cleared on screen")
    assert admin(server, "/_hyperpod/faults")["faults"] == []

    # the server's own message for a refused body, in the alert region
    text = browser.find_element(By.CSS_SELECTOR, '[data-testid="fault-body"]')
    text.clear()
    text.send_keys('{"kind": "no-such-fault"}')
    browser.find_element(By.CSS_SELECTOR, '[data-testid="fault-inject"]').click()
    alert = wait(browser, EC.visibility_of_element_located((By.CSS_SELECTOR, '[role="alert"] [data-testid="alert-text"]')),
                 "no error is shown")
    assert "400" in alert.text and "kind must be one of" in alert.text

    browser.find_element(By.CSS_SELECTOR, '[data-testid="reset-partition"]').click()
    confirm(browser, accept=False)
    assert row_status(browser, "demo") == "Creating"
    browser.find_element(By.CSS_SELECTOR, '[data-testid="reset-partition"]').click()
    confirm(browser)
    wait(browser, css('[data-testid="no-clusters"]'), "the reset partition still lists its cluster")
    assert admin(server, "/_hyperpod/partitions")["partitions"][0]["clusters"] == []
    # the only console entry is the refused request (the browser logs every 4xx answer to fetch)
    assert [e for e in problems(browser) if "status of 400" not in e["message"]] == []


def test_the_admin_token_is_asked_for_and_sent(make_server, browser):
    server = start(make_server, "--admin-token", "s3cret")
    make_client(server.endpoint).create_cluster(ClusterName="demo", InstanceGroups=[group("workers", 1)])
    open_page(browser, server)
    field = wait(browser, EC.visibility_of_element_located((By.CSS_SELECTOR, '[data-testid="token-input"]')),
                 "the page does not ask for the token")
    assert field.get_attribute("type") == "password"
    label = browser.find_element(By.CSS_SELECTOR, 'label[for="token-input"]')
    assert label.text == "Admin token"
    assert row_status(browser, "demo") is None
    assert text(browser, "#live-text") == "Waiting for the admin token"
    field.send_keys("s3cret")
    browser.find_element(By.CSS_SELECTOR, '[data-testid="token-submit"]').click()
    wait(browser, lambda d: row_status(d, "demo") == "Creating", "the data did not show after the token")
    assert not browser.find_element(By.CSS_SELECTOR, '[data-testid="token-panel"]').is_displayed()
    assert browser.execute_script("return sessionStorage.getItem('hyperpod-local.admin-token')") == "s3cret"
    advance_with_page(browser, "1 min")                          # the token goes with the page's own calls too
    wait(browser, lambda d: row_status(d, "demo") == "InService", "advance with the token did not work")

    # a link with #token=… logs in and the token leaves the address bar
    browser.execute_script("sessionStorage.clear()")
    browser.get("about:blank")
    open_page(browser, server, "#token=s3cret")
    wait(browser, lambda d: row_status(d, "demo") == "InService", "the #token= fragment was not used")
    assert "s3cret" not in browser.current_url
    assert [e for e in problems(browser) if "status of 403" not in e["message"]] == []


def test_get_root_redirects_a_browser_and_answers_api_clients_as_before(make_server, browser):
    server = start(make_server)
    host, port = urllib.parse.urlsplit(server.endpoint).netloc.rsplit(":", 1)

    def get_root(headers):
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request("GET", "/", headers=headers)
        response = connection.getresponse()
        answer = response.status, response.getheader("Location"), response.getheader("Content-Type"), response.read()
        connection.close()
        return answer

    status, location, _, _ = get_root({"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert (status, location) == (302, "/_hyperpod/ui")
    status, location, content_type, body = get_root({})
    assert (status, location, content_type) == (404, None, "application/x-amz-json-1.1")
    assert json.loads(body) == {"__type": "UnknownOperationException", "message": "Unknown operation GET /"}

    browser.get(server.endpoint + "/")
    wait(browser, lambda d: urllib.parse.urlsplit(d.current_url).path == "/_hyperpod/ui", "the browser was not redirected")
    wait(browser, css('[data-testid="partition"]'), "the redirected page shows no partition")
    assert problems(browser) == []


def test_a_narrow_window_does_not_scroll_sideways(make_server, browser):
    server = start(make_server)
    sm = make_client(server.endpoint)
    continuous(sm, "a-cluster-with-a-rather-long-name-to-wrap", group("workers", 2))
    admin(server, "/_hyperpod/settle", {})
    admin(server, "/_hyperpod/capacity", {"ml.c5.xlarge": 0}, method="PUT")
    sm.update_cluster(ClusterName="a-cluster-with-a-rather-long-name-to-wrap", InstanceGroups=[group("workers", 4)])
    viewport(browser, 400, 800)

    def fits(d):
        return d.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")

    open_page(browser, server)
    wait(browser, css('tr[data-testid="cluster-row"]'), "no cluster on the overview")
    assert browser.execute_script("return window.innerWidth") == 400
    assert fits(browser), "the overview scrolls sideways at 400 px"
    open_page(browser, server, f"#/cluster/{ACCOUNT}/{REGION}/a-cluster-with-a-rather-long-name-to-wrap")
    wait(browser, lambda d: count(d, '[data-slot="waiting"]'), "no waiting slot on the cluster page")
    wait(browser, css('[data-testid="timeline-svg"]'), "no timeline")
    assert fits(browser), "the cluster page scrolls sideways at 400 px"
    open_page(browser, server, f"#/partition/{ACCOUNT}/{REGION}")
    wait(browser, css('tr[data-testid="capacity-row"]'), "no capacity pool on the partition page")
    assert fits(browser), "the partition page scrolls sideways at 400 px"
    assert browser.execute_script(
        "return document.querySelector('[data-testid=timeline-svg]').getBoundingClientRect().right") <= 400
    assert problems(browser) == []


def test_a_cluster_page_follows_its_cluster_through_delete_reset_and_a_new_create(make_server, browser):
    server = start(make_server)
    sm = make_client(server.endpoint)
    open_page(browser, server, f"#/cluster/{ACCOUNT}/{REGION}/demo")   # before the cluster exists
    missing, badge = '[data-testid="cluster-missing"]', '[data-testid="cluster-status-badge"]'
    wait(browser, lambda d: visible(d, missing), "no message for a cluster that does not exist")
    sm.create_cluster(ClusterName="demo", InstanceGroups=[group("workers", 2)])
    wait(browser, lambda d: text(d, badge) == "Creating", "the new cluster is not shown")
    assert not visible(browser, missing)

    # being deleted, its nodes shut down and nothing is queued in their place
    admin(server, "/_hyperpod/settle", {})
    wait(browser, lambda d: text(d, badge) == "InService", "the cluster did not go InService on screen")
    sm.delete_cluster(ClusterName="demo")
    bar = '[data-testid="slot-bar"][data-group="workers"]'
    wait(browser, lambda d: text(d, badge) == "Deleting" and texts(d, bar + " [data-slot]") == ["S", "S"],
         "the deleting cluster does not show its 2 nodes shutting down, and only them")
    assert "2 shutting down" in attr(browser, bar, "aria-label") and "queued" not in attr(browser, bar, "aria-label")

    # a reset deletes it: the page says so, and shows nothing of it as live
    admin(server, "/_hyperpod/reset", {})
    wait(browser, lambda d: visible(d, missing) and not visible(d, "#cluster-body"), "the deleted cluster is still shown")
    assert text(browser, '[data-testid="cluster-status"]') == ""
    # created again, it is drawn in full
    sm.create_cluster(ClusterName="demo", InstanceGroups=[group("workers", 1)])
    wait(browser, lambda d: text(d, badge) == "Creating", "the cluster created again has no status")
    assert not visible(browser, missing)
    assert count(browser, 'tr[data-testid="group-row"]') == 1
    assert "Creating" in text(browser, '[data-testid="cluster-summary"]')
    assert problems(browser) == []


def test_skip_to_content_moves_the_focus_and_keeps_the_page(make_server, browser):
    server = start(make_server)
    make_client(server.endpoint).create_cluster(ClusterName="demo", InstanceGroups=[group("workers", 1)])
    route = f"#/cluster/{ACCOUNT}/{REGION}/demo"
    open_page(browser, server, route)
    wait(browser, lambda d: text(d, '[data-testid="cluster-status-badge"]') == "Creating", "the cluster page is not shown")
    keys(browser, Keys.TAB)
    assert text(browser, ":focus") == "Skip to content"
    keys(browser, Keys.ENTER)
    wait(browser, lambda d: focused(d, "id") == "main", "the focus did not move to the content")
    assert urllib.parse.urlsplit(browser.current_url).fragment == route[1:]
    assert visible(browser, '[data-testid="view-cluster"]') and not visible(browser, '[data-testid="view-overview"]')
    keys(browser, Keys.TAB)                                    # on to the content, not back to the header
    assert focused(browser, "href") == "#/"
    assert browser.execute_script("return document.querySelector('main').contains(document.activeElement)")
    assert problems(browser) == []


def test_a_link_token_that_is_no_header_value_is_refused_plainly(make_server, browser):
    alert = '[data-testid="alert-text"]'
    server = start(make_server)
    open_page(browser, server)
    wait(browser, lambda d: text(d, "#live-text").startswith("Live"), "no live refresh")
    browser.execute_script("location.hash = '#token=%E2%9C%93'")      # a check mark: no header value
    wait(browser, lambda d: "admin token in the link was not used" in (text(d, alert) or ""), "the link's token is not refused")
    assert "did not answer" not in text(browser, alert)
    assert browser.execute_script("return sessionStorage.getItem('hyperpod-local.admin-token')") is None
    advance_with_page(browser, "1 min")                         # the page still works without it
    wait(browser, lambda d: text(d, "#clock-now") == "2030-01-01 09:01:00 UTC", "advance did not work")
    wait(browser, lambda d: text(d, "#live-text").startswith("Live"), "the page is not live")
    assert problems(browser) == []

    # a server that needs a token: the page asks for it instead of reporting the server gone
    guarded = start(make_server, "--admin-token", "s3cret")
    browser.get("about:blank")
    open_page(browser, guarded, "#token=a%0Ab")                 # a line break
    wait(browser, EC.visibility_of_element_located((By.CSS_SELECTOR, '[data-testid="token-input"]')),
         "the page does not ask for the token")
    assert "admin token in the link was not used" in text(browser, alert)
    wait(browser, lambda d: text(d, "#live-text") == "Waiting for the admin token", "the page does not wait for the token")
    assert "did not answer" not in browser.execute_script("return document.body.innerText")
    assert [e for e in problems(browser) if "status of 403" not in e["message"]] == []


def test_a_confirmation_gives_the_focus_back_to_its_button(make_server, browser):
    server = start(make_server)
    admin(server, "/_hyperpod/faults", {"kind": "latency", "operation": "DescribeCluster", "milliseconds": 1})
    open_page(browser, server, f"#/partition/{ACCOUNT}/{REGION}")
    wait(browser, css('tr[data-testid="fault-row"]'), "the fault is not listed")
    browser.execute_script("document.querySelector('[data-testid=reset-partition]').focus()")
    keys(browser, Keys.ENTER)
    wait(browser, lambda d: focused(d) == "confirm-cancel", "the dialog does not focus Cancel")
    keys(browser, Keys.ESCAPE)                                  # cancelled: back on the button that asked
    wait(browser, lambda d: focused(d) == "reset-partition", "the focus did not come back to Reset partition")
    assert not visible(browser, '[data-testid="confirm-dialog"]')

    browser.execute_script("document.querySelector('[data-testid=faults-clear]').focus()")
    keys(browser, Keys.ENTER)
    wait(browser, lambda d: focused(d) == "confirm-cancel", "the dialog does not focus Cancel")
    keys(browser, Keys.TAB, Keys.ENTER)                         # Confirm
    wait(browser, css('[data-testid="no-faults"]'), "the faults were not cleared")
    wait(browser, lambda d: focused(d) == "faults-clear", "the focus did not come back after the action")
    assert admin(server, "/_hyperpod/faults")["faults"] == []
    assert problems(browser) == []


def test_a_large_group_is_drawn_compact_and_refreshes_keep_scroll_and_focus(make_server, browser):
    server = start(make_server)
    sm = make_client(server.endpoint)
    sm.create_cluster(ClusterName="big", InstanceGroups=[group("workers", 80)])
    admin(server, "/_hyperpod/settle", {})
    admin(server, "/_hyperpod/capacity", {"ml.c5.xlarge": 5, "ml.g5.xlarge": 3}, method="PUT")
    open_page(browser, server, f"#/cluster/{ACCOUNT}/{REGION}/big")
    bar = '[data-testid="slot-bar"][data-group="workers"]'
    wait(browser, lambda d: texts(d, bar + " [data-slot]") == ["R 80"], "80 running nodes are not one segment 'R 80'")
    assert attr(browser, bar, "aria-label") == "80 slots: 80 running"
    assert browser.execute_script("return document.querySelector(arguments[0]).getBoundingClientRect().height", bar) < 40

    # the nodes table keeps its scroll position and focus when a node changes
    wrap = '[data-testid="nodes-wrap"]'
    wait(browser, lambda d: count(d, 'tr[data-testid="node-row"]') == 80, "the 80 nodes are not listed")
    scrolled = browser.execute_script(
        "const w = document.querySelector(arguments[0]); w.focus(); w.scrollTop = 600; return w.scrollTop", wrap)
    assert scrolled == 600
    # and a row's control keeps the focus when another row changes
    browser.execute_script("document.querySelector('[data-id=\"pool:ml.g5.xlarge/\"]').focus()")
    admin(server, "/_hyperpod/capacity", {"ml.c5.xlarge": 4, "ml.g5.xlarge": 3}, method="PUT")
    row = 'tr[data-testid="capacity-row"][data-instance-type="ml.c5.xlarge"] [data-testid="capacity-free"]'
    wait(browser, lambda d: text(d, row) == "4", "the capacity table did not refresh")
    assert focused(browser, "data-id") == "pool:ml.g5.xlarge/"
    browser.execute_script("document.querySelector(arguments[0]).focus()", wrap)
    node = sm.list_cluster_nodes(ClusterName="big")["ClusterNodeSummaries"][0]["InstanceId"]
    admin(server, "/_hyperpod/faults", {"kind": "node-failure", "cluster": "big", "nodeId": node})
    wait(browser, lambda d: texts(d, bar + " [data-slot]") == ["R 79", "F 1"], "the failed node is not in the bar")
    wait(browser, css('tr[data-testid="node-row"][data-status="Failure"]'), "the failed node is not listed")
    assert browser.execute_script("return document.querySelector(arguments[0]).scrollTop", wrap) == 600
    assert focused(browser) == "nodes-wrap"

    # the overview keeps the focus on a cluster's link when its row changes
    click(browser, '.brand a')                                  # "hyperpod-local": all clusters
    wait(browser, css('[data-id="cluster:big"]'), "the overview does not list the cluster")
    browser.execute_script("document.querySelector('[data-id=\"cluster:big\"]').focus()")
    sm.update_cluster(ClusterName="big", InstanceGroups=[group("workers", 81)])
    wait(browser, lambda d: row_status(d, "big") == "Updating", "the overview did not show the update")
    assert focused(browser, "data-id") == "cluster:big"
    assert problems(browser) == []


def test_the_instance_type_is_suggested_once_and_then_left_alone(make_server, browser):
    server = start(make_server)
    make_client(server.endpoint).create_cluster(ClusterName="demo", InstanceGroups=[group("workers", 1)])
    open_page(browser, server, f"#/partition/{ACCOUNT}/{REGION}")
    field = '[data-testid="capacity-type"]'
    value = "return document.querySelector(arguments[0]).value"
    wait(browser, lambda d: d.execute_script(value, field) == "ml.c5.xlarge", "no instance type suggested")
    typed = browser.find_element(By.CSS_SELECTOR, field)
    typed.send_keys(Keys.CONTROL, "a")
    typed.send_keys(Keys.BACKSPACE)
    browser.find_element(By.CSS_SELECTOR, '[data-testid="capacity-count"]').click()   # the field loses the focus, empty
    admin(server, "/_hyperpod/clock", {"advanceSeconds": 60})  # a change the page shows on its next refresh
    wait(browser, lambda d: text(d, "#clock-now") == "2030-01-01 09:01:00 UTC", "the page did not refresh")
    assert browser.execute_script(value, field) == ""
    browser.find_element(By.CSS_SELECTOR, field).send_keys("ml.g5.xlarge")
    admin(server, "/_hyperpod/clock", {"advanceSeconds": 60})
    wait(browser, lambda d: text(d, "#clock-now") == "2030-01-01 09:02:00 UTC", "the page did not refresh")
    assert browser.execute_script(value, field) == "ml.g5.xlarge"
    assert problems(browser) == []


def test_polls_slow_down_when_idle_stay_out_of_the_log_and_survive_an_outage(make_server, browser):
    server = start(make_server)
    open_page(browser, server)
    wait(browser, lambda d: text(d, "#live-text").startswith("Live"), "no live refresh")
    since = server.log_size()
    # nothing changes: 1.5 s, 3 s, then 6 s between refreshes
    wait(browser, lambda d: "Next refresh in 6 s" in attr(d, "#live-text", "title"), "the refreshes do not slow down")
    advance_with_page(browser, "1 min")                         # an action: refreshed at once, fast again
    wait(browser, lambda d: text(d, "#clock-now") == "2030-01-01 09:01:00 UTC", "advance did not work")
    wait(browser, lambda d: "Next refresh in 1.5 s" in attr(d, "#live-text", "title"), "the refreshes are not fast again")
    # the page's polls are marked, so the server logs them at debug level: its action stays in the log
    log = server.log(since)
    assert "admin POST /_hyperpod/clock" in log
    assert "admin GET" not in log
    assert problems(browser) == []

    # the server stops: an action fails, the page retries quietly, then picks up again
    server.stop()
    advance_with_page(browser, "1 min")
    wait(browser, lambda d: "did not answer POST /_hyperpod/clock" in (text(d, '[data-testid="alert-text"]') or ""),
         "the failed action is not reported")
    wait(browser, lambda d: text(d, "#live-text").startswith("Server unreachable · next try in"), "the outage is not shown")
    log = problems(browser)
    assert len([e for e in log if "hyperpod-local dashboard" in e["message"]]) == 1, log
    assert len([e for e in log if "ERR_CONNECTION_REFUSED" in e["message"]]) <= 3, log   # the action, one request a try
    server.start()                                              # same port, empty state
    wait(browser, lambda d: text(d, "#live-text").startswith("Live"), "the page did not come back")
    wait(browser, lambda d: text(d, '[data-testid="alert"]') == "", "the network error stays after the server is back")
    assert [e for e in problems(browser) if "ERR_CONNECTION_REFUSED" not in e["message"]] == []


def test_another_cluster_page_shows_nothing_of_the_previous_one(make_server, browser):
    server = start(make_server)
    sm = make_client(server.endpoint)
    sm.create_cluster(ClusterName="alpha", InstanceGroups=[group("alpha-workers", 1)])
    sm.create_cluster(ClusterName="beta", InstanceGroups=[group("beta-workers", 2)])
    admin(server, "/_hyperpod/settle", {})
    open_page(browser, server, f"#/cluster/{ACCOUNT}/{REGION}/alpha")
    wait(browser, lambda d: text(d, '[data-testid="nodes-count"]') == "1 nodes", "alpha's node is not listed")
    wait(browser, css('[data-testid="timeline-svg"]'), "no timeline")

    pause = '[data-testid="pause"]'
    click(browser, pause)                                       # one label; its state says whether it is pressed
    assert (text(browser, pause), attr(browser, pause, "aria-pressed")) == ("Pause updates", "true")
    wait(browser, lambda d: text(d, "#live-text").startswith("Paused"), "the page does not say it is paused")

    # beta's page fails to load (its events are blocked): none of alpha's data is left under beta's title
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/_hyperpod/events*"]})
    try:
        browser.execute_script("location.hash = arguments[0]", f"#/cluster/{ACCOUNT}/{REGION}/beta")
        wait(browser, lambda d: "Refresh failed" in (text(d, '[data-testid="alert-text"]') or ""), "the failed load is not reported")
        assert text(browser, '[data-testid="cluster-title"]') == "Cluster beta"
        shown = browser.execute_script("return document.querySelector('#cluster-body').innerText")
        assert "alpha" not in shown and "Loading…" in shown
        assert count(browser, 'tr[data-testid="node-row"]') == 0 and count(browser, '[data-testid="timeline-svg"]') == 0
        browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    finally:
        browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
        browser.execute_cdp_cmd("Network.disable", {})
    click(browser, pause)                                       # resumed: refreshed at once
    assert (text(browser, pause), attr(browser, pause, "aria-pressed")) == ("Pause updates", "false")
    wait(browser, lambda d: text(d, '[data-testid="nodes-count"]') == "2 nodes", "beta's nodes are not listed")
    assert count(browser, 'tr[data-testid="group-row"][data-group="beta-workers"]') == 1
    wait(browser, lambda d: text(d, '[data-testid="alert"]') == "", "the failed load's message stays")


def test_the_timeline_keeps_its_drawing_when_only_the_clock_moves(make_server, browser):
    server = start(make_server)
    make_client(server.endpoint).create_cluster(ClusterName="demo", InstanceGroups=[group("workers", 1)])
    admin(server, "/_hyperpod/settle", {})
    open_page(browser, server, f"#/cluster/{ACCOUNT}/{REGION}/demo")
    svg, now_line, item = '[data-testid="timeline-svg"]', '[data-testid="timeline-now"]', '[data-testid="timeline-item"]'
    wait(browser, lambda d: count(d, svg + " g.mark") and count(d, item), "no timeline")
    browser.execute_script("document.querySelector(arguments[0]).kept = true; document.querySelector(arguments[1]).kept = true",
                           svg, item)
    x, relative = attr(browser, now_line, "x1"), texts(browser, item + " td")[1]
    admin(server, "/_hyperpod/clock", {"advanceSeconds": 1})
    wait(browser, lambda d: attr(d, now_line, "x1") != x, "the now line did not move")
    assert texts(browser, item + " td")[1] != relative           # "… ago" counts on
    assert browser.execute_script("return document.querySelector(arguments[0]).kept === true"
                                  " && document.querySelector(arguments[1]).kept === true", svg, item), \
        "the drawing or its table was rebuilt (a hovered marker would lose its tooltip)"
    assert problems(browser) == []
