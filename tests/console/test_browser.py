"""The console in a real browser: Debian's headless Chromium driven by Selenium through its chromedriver.

An operator logs in, finds a message by its id, opens its timeline, resends a parked message; an auditor
sees the audit record of it; the language switches. Each step saves a screenshot under the test run's
output (GATEWAY_TEST_OUTPUT, default var/test-output/console; the README's screenshots are copies of them).
With the network cut (every host but the console's unreachable), the pages load whole and the browser asks
for nothing outside the console.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from console_support import PARTY, PASSWORD, parked
from rows import accept
from sqlalchemy import select
from support import REPO, MessageFactory, wait_until

from app.process import free_port
from console.app import create_app
from console.context import Console
from gateway.pipeline import Pipeline
from gateway.store.tables import outbox

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (scripts/install test)")
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

pytestmark = [
    pytest.mark.stores("sqlite"),
    pytest.mark.skipif(not (shutil.which("chromium") and shutil.which("chromedriver")),
                       reason="chromium and chromium-driver are not installed (scripts/install test installs them)"),
]
OUTPUT = Path(os.environ.get("GATEWAY_TEST_OUTPUT", REPO / "var" / "test-output")) / "console"


@pytest.fixture
def served(console: Console) -> Iterator[str]:
    """The console on a free port of its own, under uvicorn, in this process."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(console), host="127.0.0.1", port=port, log_config=None,
                                           access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=30)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def chromium(network_cut: bool = False) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1400,1000", "--lang=en-US", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync"):
        options.add_argument(argument)
    if network_cut:  # every host goes to a proxy that does not exist, but loopback (Chromium never proxies it)
        options.add_argument("--proxy-server=http://127.0.0.1:9")
        options.add_argument("--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(options=options, service=service)


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    driver = chromium()
    yield driver
    driver.quit()


def shot(driver: webdriver.Chrome, name: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(OUTPUT / f"{name}.png"))


def leads_to(driver: webdriver.Chrome, element: object, url_part: str) -> None:
    """Click `element` and wait for the page it leads to (its URL has `url_part`) to be loaded."""
    element.click()  # type: ignore[attr-defined]
    wait_until(lambda: url_part in driver.current_url
               and driver.execute_script("return document.readyState") == "complete", timeout=10, interval=0.05)


def log_in(driver: webdriver.Chrome, base: str, login: str) -> None:
    driver.get(f"{base}/admin/login")
    driver.find_element(By.ID, "login").send_keys(login)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "submit").click()
    wait_until(lambda: "/admin/login" not in driver.current_url
               and driver.execute_script("return document.readyState") == "complete", timeout=10, interval=0.05)


def test_an_operator_finds_a_message_resends_a_parked_one_and_an_auditor_sees_it(
    served: str, browser: webdriver.Chrome, console: Console, pipeline: Pipeline, messages: MessageFactory,
) -> None:
    stored = accept(pipeline, messages, "ECOM_ORDER", PARTY)
    pk = parked(console.services)
    browser.get(f"{served}/admin/lang/en?next=/admin/login")
    shot(browser, "01-login")
    log_in(browser, served, "operator")
    shot(browser, "02-dashboard")
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.chart")) == 7

    leads_to(browser, browser.find_element(By.ID, "nav-messages"), "/admin/messages")
    browser.find_element(By.ID, "message_id").send_keys(stored.message_id)
    leads_to(browser, browser.find_element(By.ID, "search-submit"), "message_id=")
    links = browser.find_elements(By.CSS_SELECTOR, "#results a.message-link")
    assert [link.text for link in links] == [stored.message_id]
    shot(browser, "03-search")
    leads_to(browser, links[0], f"/admin/messages/{stored.pk}")
    steps = browser.find_elements(By.CSS_SELECTOR, "#timeline tbody tr")
    assert steps and "accepted" in steps[0].text
    shot(browser, "04-message-timeline")

    browser.get(f"{served}/admin/outbox?status=parked")
    leads_to(browser, browser.find_element(By.CSS_SELECTOR, f'a.outbox-link[href="/admin/outbox/{pk}"]'), f"/admin/outbox/{pk}")
    browser.find_element(By.ID, "reason").send_keys("partner endpoint back")
    shot(browser, "05-parked-message")
    browser.find_element(By.ID, "resend-submit").click()

    def timeline_grew() -> bool:
        rows = browser.find_elements(By.CSS_SELECTOR, "#timeline tbody tr")
        return len(rows) == 3 and browser.execute_script("return document.readyState") == "complete"

    wait_until(timeline_grew, timeout=10, interval=0.05)  # pending, parked, pending again
    last = browser.find_elements(By.CSS_SELECTOR, "#timeline tbody tr")[-1].text
    assert "parked" in last and "pending" in last and "operator:operator" in last and "partner endpoint back" in last
    with console.services.engine.connect() as connection:
        assert connection.execute(select(outbox.c.status).where(outbox.c.id == pk)).scalar_one() == "pending"
    shot(browser, "06-resent")

    leads_to(browser, browser.find_element(By.ID, "logout"), "/admin/login")
    log_in(browser, served, "auditor")
    leads_to(browser, browser.find_element(By.ID, "nav-audit"), "/admin/audit")
    rows = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#audit tbody tr")]
    assert "login auditor" in rows[0]  # newest first
    (resend,) = [row for row in rows if "outbox.resend" in row]
    assert "operator:operator" in resend and "partner endpoint back" in resend and f"outbox:{pk}" in resend
    assert "intact" in browser.find_element(By.ID, "verification").text
    shot(browser, "07-audit-trail")

    browser.find_element(By.ID, "lang-vi").click()
    wait_until(lambda: browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "vi", timeout=10, interval=0.05)
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "vi"
    assert browser.find_element(By.ID, "nav-audit").text == "Nhật ký kiểm toán"
    shot(browser, "08-audit-trail-vi")
    browser.find_element(By.ID, "lang-en").click()
    wait_until(lambda: browser.find_element(By.ID, "nav-audit").text == "Audit trail", timeout=10, interval=0.05)


def requested_urls(driver: webdriver.Chrome) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def test_the_pages_load_whole_with_the_network_cut_and_ask_for_nothing_outside(
    served: str, console: Console, pipeline: Pipeline, messages: MessageFactory,
) -> None:
    accept(pipeline, messages, "ECOM_ORDER", PARTY)
    driver = chromium(network_cut=True)
    try:
        with pytest.raises(WebDriverException, match="ERR_"):  # the cut is real: nothing outside answers
            driver.get("https://example.org/")
        requested_urls(driver)  # drains the log of that try and of the browser's error page
        log_in(driver, served, "viewer")
        for path in ("/admin/", "/admin/messages", "/admin/outbox", "/admin/parties", "/admin/alerts", "/admin/reports"):
            driver.get(served + path)
            header = driver.find_element(By.TAG_NAME, "header")
            assert header.value_of_css_property("background-color") == "rgba(246, 248, 250, 1)", path  # the stylesheet
        shot(driver, "09-reports-offline")
        asked = requested_urls(driver)
        # data: URLs are the browser's own (the date input's calendar icon): not requests to any host
        assert asked and [url for url in asked if not url.startswith((served, "data:"))] == []
    finally:
        driver.quit()

