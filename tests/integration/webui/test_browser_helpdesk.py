"""Issue 15 in a real browser (headless Chromium, as test_browser.py): what a helpdesk
types in the quick box, refusals in the results, at 1280 px and at 390 px (a phone).
Screenshots go to test-artifacts/screenshots/ for a person to look at."""

from __future__ import annotations

import re
import time
import urllib.request

import pytest
import test_browser
from conftest import PASSWORD, SINCE, UNTIL
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from test_browser import shot, wait

browser = test_browser.browser  # the same headless Chromium fixture

pytestmark = [pytest.mark.browser, pytest.mark.postgres]

WIDTHS = {"1280": (1280, 900), "phone": (390, 844)}


def logged_in(b, base_url: str, width: str) -> None:
    b.set_window_size(*WIDTHS[width])
    if b.get_cookie("else_session") is None:
        b.get(base_url + "/login")
        b.find_element(By.NAME, "username").send_keys("admin")
        b.find_element(By.NAME, "password").send_keys(PASSWORD)
        b.find_element(By.CSS_SELECTOR, "#loginform button").click()
        wait(b, "form.quick")


def no_sideways_scroll(b) -> int:
    return int(
        b.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
    )


def quick(b, base_url: str, text: str) -> None:
    b.get(base_url + "/search")
    box = b.find_element(By.NAME, "q")
    box.send_keys(text)
    box.submit()
    wait(b, "main .count, #nothing")


@pytest.mark.parametrize("width", WIDTHS)
def test_a_partial_address_finds_mail_and_says_what_was_searched(browser, base_url, width):
    logged_in(browser, base_url, width)
    quick(browser, base_url, "u2@ext")
    assert browser.find_elements(By.CSS_SELECTOR, "table.results tbody tr td a")
    assert "recipient contains “u2@ext”" in browser.find_element(By.ID, "searched").text
    shot(browser, f"search-partial-{width}")
    assert no_sideways_scroll(browser) <= 1


@pytest.mark.parametrize("width", WIDTHS)
def test_a_refused_recipient_shows_the_refusal_in_plain_words(browser, base_url, width):
    logged_in(browser, base_url, width)
    quick(browser, base_url, "a3@alpha.example")
    refusals = browser.find_element(By.ID, "refusals").text
    assert "does not pass mail on to that domain" in refusals
    assert "a3@alpha.example" in refusals
    shot(browser, f"search-refusals-{width}")
    assert no_sideways_scroll(browser) <= 1


@pytest.mark.parametrize("width", WIDTHS)
def test_nothing_found_opens_the_extended_search_filled_in(browser, base_url, width):
    logged_in(browser, base_url, width)
    quick(browser, base_url, "*@sink.test")
    assert browser.find_element(By.ID, "nothing").is_displayed()
    value = browser.find_element(By.CSS_SELECTOR, "#extended input[name=v]")
    assert value.is_displayed() and value.get_attribute("value") == "*@sink.test"
    shot(browser, f"search-nothing-{width}")
    assert no_sideways_scroll(browser) <= 1


@pytest.mark.parametrize("width", WIDTHS)
def test_a_subject_is_found_and_shown_in_results_and_story(browser, base_url, width):
    logged_in(browser, base_url, width)
    quick(browser, base_url, "grüße aus köln")
    cell = browser.find_element(By.CSS_SELECTOR, "table.results td.subject")
    assert cell.text.endswith("Grüße aus Köln und Quartalsbericht")
    shot(browser, f"search-subject-{width}")
    assert no_sideways_scroll(browser) <= 1
    browser.find_element(By.CSS_SELECTOR, "table.results tbody tr td a").click()
    wait(browser, "ol.timeline")
    assert browser.find_element(By.ID, "subject").text == "Grüße aus Köln und Quartalsbericht"


def chart_font_px(b, selector: str) -> float:
    """The smallest font size of an <img> chart's text as shown: its SVG font size times
    the ratio of the shown width to the SVG's own width."""
    img = b.find_element(By.CSS_SELECTOR, selector)
    shown = float(b.execute_script("return arguments[0].getBoundingClientRect().width", img))
    src = img.get_attribute("currentSrc")
    cookie = b.get_cookie("else_session")
    headers = {"Cookie": f"else_session={cookie['value']}"}
    req = urllib.request.Request(src, headers=headers)  # noqa: S310 - the loopback test server
    with urllib.request.urlopen(req, timeout=10) as res:  # noqa: S310 - the loopback test server
        svg = res.read().decode()
    box = re.search(r'viewBox="0 0 (\d+) \d+"', svg)
    assert box, "the chart has a viewBox"
    axis = re.findall(r"\.(?:axis text|title)[^{]*\{[^}]*font-size:\s*(\d+(?:\.\d+)?)px", svg)
    return min(float(x) for x in axis) * shown / float(box.group(1))


@pytest.mark.parametrize("width", WIDTHS)
def test_report_charts_have_readable_text_and_full_reasons_in_the_table(browser, base_url, width):
    logged_in(browser, base_url, width)
    browser.get(base_url + f"/reports?since={SINCE}&until={UNTIL}")
    wait(browser, "img.chart")
    WebDriverWait(browser, 10).until(
        lambda d: d.execute_script(
            "return Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
        )
    )
    for name in ("deferrals", "bounces", "senders"):
        assert chart_font_px(browser, f"#r-{name} img.chart") >= 10, name
    long_cells = browser.find_elements(By.CSS_SELECTOR, "#r-deferrals td[title]")
    assert any(len(c.get_attribute("title")) > 34 for c in long_cells)
    shot(browser, f"reports-charts-{width}")
    for name in ("deferrals", "senders"):  # close-ups a person can read
        card = browser.find_element(By.ID, f"r-{name}")
        card.screenshot(str(test_browser.SHOTS / f"report-{name}-{width}.png"))
    assert no_sideways_scroll(browser) <= 1


@pytest.mark.parametrize("width", WIDTHS)
def test_the_live_view_pauses_and_filters(browser, base_url, width):
    b = browser
    logged_in(b, base_url, width)
    b.get(base_url + "/live?server=pfx2")
    wait(b, "#live-emails tr")
    # Count the script's requests: fetch is looked up at every call.
    b.execute_script(
        "window.liveFetches = 0; var f = window.fetch;"
        " window.fetch = function () { window.liveFetches++; return f.apply(this, arguments); };"
    )
    WebDriverWait(b, 12).until(lambda d: d.execute_script("return window.liveFetches") > 0)
    hosts = {td.text for td in b.find_elements(By.CSS_SELECTOR, "#live-emails tr td:last-child")}
    assert hosts == {"pfx2"}  # the refreshed rows keep the filter
    b.find_element(By.ID, "live-pause").click()
    assert b.find_element(By.ID, "live-state").text == "paused"
    count = b.execute_script("return window.liveFetches")
    time.sleep(6)  # longer than one refresh interval: a running view would have fetched
    assert b.execute_script("return window.liveFetches") == count
    shot(b, f"live-paused-{width}")
    assert no_sideways_scroll(b) <= 1
    b.find_element(By.ID, "live-pause").click()
    WebDriverWait(b, 12).until(lambda d: d.execute_script("return window.liveFetches") > count)


def test_reject_cards_keep_their_labels_on_a_phone(browser, base_url):
    logged_in(browser, base_url, "phone")
    browser.get(base_url + "/rejects")
    wait(browser, "table.results tbody tr")
    label = browser.execute_script(
        "var td = document.querySelector('table.results td[data-label=Reason]');"
        " return getComputedStyle(td, '::before').content;"
    )
    assert "Reason" in label
    shot(browser, "rejects-phone")


def test_the_reason_column_is_wide_enough_at_1280(browser, base_url):
    logged_in(browser, base_url, "1280")
    browser.get(base_url + "/rejects")
    wait(browser, "table.results tbody tr")
    width = browser.execute_script(
        "return document.querySelector('table.results td.reason').getBoundingClientRect().width"
    )
    assert width >= 200
    overflow = browser.execute_script(
        "var w = document.querySelector('.tablewrap'); return w.scrollWidth - w.clientWidth"
    )
    assert overflow <= 1, "the table scrolls sideways inside its frame"
    shot(browser, "rejects-wide-1280")
