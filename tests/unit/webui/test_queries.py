"""Request parameters -> search queries, without Bottle or a database."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from else_core.search import EMAIL_FIELDS, REJECT_FIELDS, Filter, SearchError
from webui.queries import Params, build_query, check_api_params

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("items", "tz", "attr", "expected"),
    [
        ([("sender", "a@example.org")], None, "filters", [Filter("sender", "a@example.org")]),
        (
            [("sender", "example.org"), ("sender_op", "ends")],
            None,
            "filters",
            [Filter("sender", "example.org", "ends")],
        ),
        (
            [("f", "dsn"), ("o", "starts"), ("v", "5.1"), ("f", "size"), ("o", ""), ("v", " ")],
            None,
            "filters",
            [Filter("dsn", "5.1", "starts")],
        ),
        ([("since", "2026-03-14")], None, "since", datetime(2026, 3, 14, tzinfo=UTC)),
        ([("since", "2026-03-14")], BERLIN, "since", datetime(2026, 3, 14, tzinfo=BERLIN)),
        ([("until", "2026-03-14")], None, "until", datetime(2026, 3, 15, tzinfo=UTC)),
        ([("limit", "5000")], None, "limit", 1000),
        ([("limit", "10"), ("limit", "20")], None, "limit", 20),
        ([("sort", "-size")], None, "sort", "-size"),
        ([("sort", "-nonsense")], None, "sort", "-time"),
        ([("message_ids", "<a@x> b@y, ,<>")], None, "message_ids", ["<a@x>", "b@y"]),
        ([("cursor", "abc")], None, "after", "abc"),
    ],
)
def test_build_query_reads_the_parameter(items, tz, attr, expected):
    assert getattr(build_query(Params(items), tz, EMAIL_FIELDS), attr) == expected


@pytest.mark.parametrize(
    ("items", "error"),
    [
        ([("limit", "many")], "limit must be a number"),
        ([("since", "yesterday")], "invalid time"),
    ],
)
def test_build_query_refuses_bad_values(items, error):
    with pytest.raises(SearchError, match=error):
        build_query(Params(items), None, EMAIL_FIELDS)


@pytest.mark.parametrize(
    ("items", "fields", "unknown"),
    [
        ([("sendr", "a@example.org")], EMAIL_FIELDS, "sendr"),
        ([("reason", "spam")], EMAIL_FIELDS, "reason"),
        ([("size", "1")], REJECT_FIELDS, "size"),
        ([("sender", "a@b.c"), ("sender_op", "ends"), ("limit", "5")], EMAIL_FIELDS, None),
    ],
)
def test_the_api_refuses_unknown_parameters(items, fields, unknown):
    if unknown is None:
        check_api_params(Params(items), fields)
    else:
        with pytest.raises(SearchError, match=repr(unknown)):
            check_api_params(Params(items), fields)
