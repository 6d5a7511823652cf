"""The Alerts page in headless Chromium: the banner is visible on an ordinary page, the
Acknowledge button works without any script, the layout fits a phone, and no Content
Security Policy violation is logged."""

from __future__ import annotations

import pytest
import test_browser
from conftest import PASSWORD
from selenium.webdriver.common.by import By
from test_alerts_page import alerts_db, open_alert, state_of, url  # noqa: F401 - fixtures
from test_browser import csp_violations, shot, wait

browser = test_browser.browser  # the same headless Chromium fixture

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


@pytest.mark.parametrize("size", [(1280, 900), (390, 844)], ids=["1280", "phone"])
def test_the_banner_leads_to_the_alert_and_acknowledging_it_clears_the_banner(
    browser,
    url,  # noqa: F811 - the fixture imported above
    alerts_db,  # noqa: F811
    size,
):
    b = browser
    b.delete_all_cookies()
    b.set_window_size(*size)
    alert_id = open_alert(alerts_db)
    b.get(url + "/login")
    b.find_element(By.NAME, "username").send_keys("alice")
    b.find_element(By.NAME, "password").send_keys(PASSWORD)
    b.find_element(By.CSS_SELECTOR, "#loginform button").click()
    wait(b, "form.quick")
    banner = b.find_element(By.CSS_SELECTOR, "p.alert-banner")
    assert banner.is_displayed() and "1 open alert" in banner.text
    banner.find_element(By.TAG_NAME, "a").click()
    wait(b, "table.alerts")
    shot(b, f"alerts-{size[0]}")
    width = b.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert int(width) <= 0
    b.find_element(By.CSS_SELECTOR, "tr.alert-open button[type=submit]").click()
    wait(b, "p.flash")
    assert f"Alert {alert_id} acknowledged." in b.find_element(By.CSS_SELECTOR, "p.flash").text
    assert b.find_elements(By.CSS_SELECTOR, "p.alert-banner") == []
    assert state_of(alerts_db, alert_id) == ("acknowledged", "alice")
    assert csp_violations(b) == []
