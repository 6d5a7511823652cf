"""A real browser (Debian's headless Chromium through chromedriver) on the real app.

One walk through what a user does: log in, search, open an e-mail story, open a report
with its chart, export CSV; then the phone-width layout. Screenshots of every page go to
test-artifacts/screenshots/ (git-ignored) so a person can look at them.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PASSWORD, ROOT, SINCE, UNTIL, email_id
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = [pytest.mark.browser, pytest.mark.postgres]

SHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    if not (CHROMIUM.exists() and DRIVER.exists()):
        pytest.fail("chromium and chromium-driver are not installed (make test installs them)")
    profile = tempfile.mkdtemp(prefix="else-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1280,900",
    ):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(str(DRIVER)))
    driver.set_page_load_timeout(30)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def shot(driver: webdriver.Chrome, name: str) -> Path:
    """A full-page screenshot: the window grows to the page's height first."""
    width = driver.get_window_size()["width"]
    driver.set_window_size(width, 900)  # measure the page, not the last page's window
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(max(int(height) + 120, 600), 6000))
    path = SHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def csp_violations(driver: webdriver.Chrome) -> list[str]:
    return [
        e["message"]
        for e in driver.get_log("browser")
        if "Content Security Policy" in e["message"] or "Refused to" in e["message"]
    ]


def wait(driver: webdriver.Chrome, css: str) -> None:
    WebDriverWait(driver, 10).until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))


def test_a_user_logs_in_searches_reads_a_story_opens_a_report_and_exports(
    browser, base_url, web_db
):
    b = browser
    b.set_window_size(1280, 900)
    b.get(base_url + "/search")
    wait(b, "#loginform")
    shot(b, "login-1280")
    b.find_element(By.NAME, "username").send_keys("admin")
    b.find_element(By.NAME, "password").send_keys(PASSWORD)
    b.find_element(By.CSS_SELECTOR, "#loginform button").click()
    wait(b, "form.quick")
    # The browser's zone came with the log-in form (Chromium headless reports one).
    assert "times in" in b.find_element(By.CSS_SELECTOR, "footer").text

    quick = b.find_element(By.NAME, "q")
    quick.send_keys("b1@beta.example")
    quick.submit()
    wait(b, "table.results tbody tr td a")
    rows = b.find_elements(By.CSS_SELECTOR, "table.results tbody tr")
    assert any("u2@ext.example" in r.text and "bounced" in r.text for r in rows)
    shot(b, "search-1280")

    b.get(base_url + f"/search?since={SINCE}T00:00&until={UNTIL}T00:00&limit=25")
    wait(b, "table.results tbody tr")
    shot(b, "search-extended-1280")

    b.get(base_url + "/email/" + email_id(web_db, "beta-1@beta.example"))
    wait(b, "ol.timeline")
    text = b.find_element(By.TAG_NAME, "main").text
    assert "the mailbox does not exist" in text  # 5.1.1 in plain words
    # The hostile SMTP answer is shown as text, not run: no alert is open.
    assert "<script>alert('bounce')</script>" in text
    shot(b, "email-story-bounce-1280")

    b.get(
        base_url + "/email/" + email_id(web_db, "264dc34c-ad52-466c-6d41-6622dfced3b8@mydomain.com")
    )
    wait(b, "ol.timeline")
    shot(b, "email-story-filter-1280")

    b.get(base_url + f"/reports?since={SINCE}&until={UNTIL}")
    wait(b, "img.chart")
    WebDriverWait(b, 10).until(
        lambda d: d.execute_script(
            "return Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
        )
    )
    shot(b, "reports-1280")
    link = b.find_element(By.CSS_SELECTOR, "#r-senders a.button")
    href = link.get_attribute("href")
    assert href and "/reports/senders.csv" in href
    # The browser's own session cookie fetches the export (a download is a file, not a page).
    cookie = b.get_cookie("else_session")
    assert cookie is not None and cookie["httpOnly"]
    req = urllib.request.Request(  # noqa: S310 - the loopback test server
        href, headers={"Cookie": f"else_session={cookie['value']}"}
    )
    with urllib.request.urlopen(req, timeout=10) as res:  # noqa: S310 - loopback test server
        body = res.read().decode()
    assert body.splitlines()[0] == "sender,e-mails,bytes"
    assert "b1@beta.example" in body

    b.get(base_url + "/live")
    wait(b, "#live-emails tr")
    before = b.find_element(By.ID, "live-at").text
    WebDriverWait(b, 12).until(lambda d: d.find_element(By.ID, "live-at").text != before)
    assert b.find_elements(By.CSS_SELECTOR, "#live-emails tr")
    # The script's status badges know the vocabulary the page hands them (one list).
    assert b.find_elements(By.CSS_SELECTOR, "#live-emails .badge.s-delivered")
    assert not b.find_elements(By.CSS_SELECTOR, "#live-emails .badge.s-unknown")
    shot(b, "live-1280")

    for path, name in (
        ("/rejects", "rejects-1280"),
        ("/servers", "servers-1280"),
        ("/servers/pfx", "server-pfx-1280"),
        ("/admin/users", "admin-users-1280"),
        ("/admin/groups", "admin-groups-1280"),
        ("/admin/audit", "admin-audit-1280"),
        ("/searches", "my-searches-1280"),
    ):
        b.set_window_size(1280, 900)
        b.get(base_url + path)
        wait(b, "main h1")
        time.sleep(0.2)
        shot(b, name)
    assert csp_violations(b) == []


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/search?q=a1@alpha.example", "search-phone"),
        ("/email/{beta}", "email-story-phone"),
        (f"/reports?since={SINCE}&until={UNTIL}", "reports-phone"),
        ("/live", "live-phone"),
    ],
)
def test_pages_fit_a_phone_screen(browser, base_url, web_db, path, name):
    b = browser
    if b.get_cookie("else_session") is None or "/login" in b.current_url:
        b.get(base_url + "/login")
        b.find_element(By.NAME, "username").send_keys("admin")
        b.find_element(By.NAME, "password").send_keys(PASSWORD)
        b.find_element(By.CSS_SELECTOR, "#loginform button").click()
        wait(b, "form.quick")
    b.set_window_size(390, 844)
    b.get(base_url + path.format(beta=email_id(web_db, "beta-1@beta.example")))
    wait(b, "main")
    time.sleep(0.2)
    overflow = b.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    shot(b, name)
    assert overflow <= 1, f"{path} scrolls sideways by {overflow}px at phone width"
