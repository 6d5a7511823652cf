"""Each server's role (from [[servers]] in else.toml) on the Servers and Reports pages."""

from __future__ import annotations

import pytest
from conftest import SINCE, UNTIL

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/servers", "<td>outgoing</td>"),
        ("/reports", '<option value="pfx2">pfx2 (outgoing)</option>'),
        ("/reports", '<option value="pfx">pfx (mixed)</option>'),
    ],
)
def test_a_page_shows_each_servers_role(clients, path, shown):
    page = clients["admin"].get(path, since=SINCE, until=UNTIL).text
    assert shown in page


@pytest.mark.parametrize("name", ["roles", "way"])
def test_the_reports_page_has_the_role_tables(clients, name):
    page = clients["admin"].get("/reports", since=SINCE, until=UNTIL).text
    assert f'id="r-{name}"' in page
