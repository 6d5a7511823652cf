"""The queue page in a real browser (issue 15, item 4): select two messages of a real
Postfix queue, hold them in one action, and the next page shows them held, at 1280 px
and at 390 px. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import pytest
import test_browser
import test_servers_snmp
from conftest import PASSWORD
from selenium.webdriver.common.by import By
from snmp_env import wait_for
from test_browser import shot, wait

from tests.integration.snmp.conftest import postfix, snmpd  # noqa: F401 - their fixtures

pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.snmpd,
    pytest.mark.postfix,
    pytest.mark.root,
]

browser = test_browser.browser  # the same headless Chromium fixture
snmp_url = test_servers_snmp.snmp_url  # the app on the real snmpd agent


@pytest.mark.parametrize(("width", "size"), [("1280", (1280, 900)), ("phone", (390, 844))])
def test_held_messages_show_as_held_on_the_next_page(browser, snmp_url, postfix, width, size):  # noqa: F811
    b = browser
    b.delete_all_cookies()  # another app (other secret) on the same host set one
    b.set_window_size(*size)
    b.get(snmp_url + "/login")
    b.find_element(By.NAME, "username").send_keys("admin")
    b.find_element(By.NAME, "password").send_keys(PASSWORD)
    b.find_element(By.CSS_SELECTOR, "#loginform button").click()
    wait(b, "form.quick")
    ids = [postfix.submit(f"{width}-{i}@remote.test") for i in (1, 2)]

    def listed():
        b.get(snmp_url + "/servers/pfx?recipient=" + width)
        return all(b.find_elements(By.CSS_SELECTOR, f"input.pick[value='{i}']") for i in ids)

    wait_for(listed, 15, "both messages listed")
    for qid in ids:
        b.find_element(By.CSS_SELECTOR, f"input.pick[value='{qid}']").click()
    b.find_element(By.CSS_SELECTOR, "#bulk select[name=action] option[value=hold]").click()
    b.find_element(By.CSS_SELECTOR, "#bulk button").click()
    b.switch_to.alert.accept()
    wait(b, "p.flash")
    assert "Hold: 2 of 2 messages on pfx done." in b.find_element(By.CSS_SELECTOR, "p.flash").text
    for qid in ids:
        row = b.find_element(By.XPATH, f"//input[@value='{qid}']/ancestor::tr")
        assert row.find_element(By.CSS_SELECTOR, "td[data-label=Queue]").text.endswith("hold")
    shot(b, f"server-queue-after-hold-{width}")
    overflow = b.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1
