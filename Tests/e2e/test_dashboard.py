"""The dashboard (issue #20): `GET /_hyperpod/ui`, the page built into the binary, in a real browser.

Headless Chromium from Debian's packages (`chromium`, `chromium-driver`) driven by Selenium
(Tests/e2e/requirements-browser.txt). Each test asserts what a user sees: it reads the DOM and waits for the page's
own refresh (every 1.5 s) with WebDriverWait, never sleeping for state. Servers run on a manual clock, so nothing
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
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.select import Select  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from conftest import ROOT, make_client  # noqa: E402
from test_clusters import group  # noqa: E402
from test_update_cluster import EKS_ARN, VPC  # noqa: E402

ACCOUNT, REGION = "000000000000", "us-east-1"   # the server's default partition (unsigned boto3 requests land here)
WAIT = 15            # seconds a DOM condition may take: the page refreshes every 1.5 s
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
