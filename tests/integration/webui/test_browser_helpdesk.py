"""Issue 15 in a real browser (headless Chromium, as test_browser.py): what a helpdesk
types in the quick box, refusals in the results, at 1280 px and at 390 px (a phone).
Screenshots go to test-artifacts/screenshots/ for a person to look at."""

from __future__ import annotations

import pytest
import test_browser
from conftest import PASSWORD
from selenium.webdriver.common.by import By
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
