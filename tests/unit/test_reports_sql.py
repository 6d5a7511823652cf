"""The Reports page's statements are built without a database: scope, server and
period always reach the WHERE clause, and every value is a parameter."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from else_core.scope import Scope
from else_core.stats import REPORTS, Period

SINCE, UNTIL = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC)
SCOPE = Scope(servers=("pfx",), domains=("example.org",), addresses=())


@pytest.mark.parametrize("name", list(REPORTS))
def test_every_report_applies_period_server_and_scope(name):
    stmt, params = REPORTS[name].query(Period(SINCE, UNTIL, "UTC", "pfx", [SCOPE]))
    text = stmt.as_string(None)
    assert text.count("%s") == len(params)
    assert SINCE in params and UNTIL in params and "pfx" in params
    assert ["example.org"] in params
    assert "= ANY(%s)" in text


@pytest.mark.parametrize(
    ("order", "rank"), [("count", "ORDER BY 2 DESC"), ("size", "ORDER BY 3 DESC")]
)
def test_ranked_reports_order_by_count_or_bytes(order, rank):
    stmt, _ = REPORTS["senders"].query(Period(SINCE, UNTIL), order)
    assert rank in stmt.as_string(None)
