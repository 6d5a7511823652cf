"""Request parameters -> search queries: pure functions, tested without Bottle.

The search page, the exports and the API all read the same parameters: ``since`` /
``until``, one parameter per search field (with ``<field>_op``), the extended form's
``f`` / ``o`` / ``v`` rows, ``message_ids``, ``limit``, ``cursor`` and ``sort``. They
arrive here as a list of ``(name, value)`` pairs already decoded as text (see
:func:`webui.context.request_items`); where a name repeats, single values take the last.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from else_core.queueid import valid_queue_id
from else_core.search import (
    EMAIL_SORTS,
    YEAR_RANGE,
    Filter,
    Query,
    SearchError,
    check_year,
    parse_time,
)

ADDRESS = re.compile(r"<?([^\s<>@]+@[^\s<>@]+\.[^\s<>@]+)>?")
DOMAIN = re.compile(r"@?[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
OPERATOR_LABELS = {
    "equals": "is",
    "not": "is not",
    "contains": "contains",
    "not_contains": "does not contain",
    "starts": "starts with",
    "ends": "ends with",
    "gt": ">",
    "lt": "<",
    "ge": ">=",
    "le": "<=",
}
#: Query parameters of the API and the search page that are not filters.
RESERVED = {"since", "until", "limit", "cursor", "sort", "q", "f", "o", "v", "tz", "format"}


class Params:
    """Request parameters as ``(name, value)`` pairs with the two look-ups queries need."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self.items = list(items)

    def get(self, name: str) -> str | None:
        """The last value of ``name`` (as a form or query string means it), or None."""
        found = None
        for k, v in self.items:
            if k == name:
                found = v
        return found

    def getall(self, name: str) -> list[str]:
        return [v for k, v in self.items if k == name]

    def names(self) -> set[str]:
        return {k for k, _ in self.items}


def parse_when(text: str, tz: ZoneInfo | None, end: bool = False) -> datetime:
    """API: ISO 8601, naive = UTC. Pages: a naive value is the user's local time.

    A year outside :data:`else_core.search.MIN_YEAR`..``MAX_YEAR`` is refused
    (``until=9999-12-31`` used to overflow into a 500)."""
    try:
        return check_year(_parse_when(text, tz, end), text.strip()[:40])
    except OverflowError:
        raise SearchError(f"time out of range {text.strip()[:40]!r}: {YEAR_RANGE}") from None


def _parse_when(text: str, tz: ZoneInfo | None, end: bool) -> datetime:
    text = text.strip()
    if tz is not None and len(text) > 10 and not re.search(r"(Z|[+-]\d\d:?\d\d)$", text):
        try:
            return datetime.fromisoformat(text).replace(tzinfo=tz)
        except ValueError:
            pass
    if tz is not None and len(text) == 10:
        try:
            day = datetime.fromisoformat(text).replace(tzinfo=tz)
        except ValueError:
            raise SearchError(f"invalid date {text!r}") from None
        return day + timedelta(days=1) if end else day
    return parse_time(text, end=end)


def build_query(params: Params, tz: ZoneInfo | None, fields: dict[str, Any]) -> Query:
    """A search :class:`Query` from request parameters (the API's and the pages')."""
    q = Query()
    if params.get("since"):
        q.since = parse_when(params.get("since") or "", tz)
    if params.get("until"):
        q.until = parse_when(params.get("until") or "", tz, end=True)
    for name in fields:
        for value in params.getall(name):
            if value.strip():
                op = params.get(f"{name}_op") or "equals"
                q.filters.append(Filter(name, value, op))
    # The extended form: rows of field/operator/value.
    fs, os_, vs = params.getall("f"), params.getall("o"), params.getall("v")
    for f, o, v in zip(fs, os_, vs, strict=False):
        if f and v.strip():
            q.filters.append(Filter(f, v, o or "equals"))
    ids = params.get("message_ids")
    if ids:
        q.message_ids = [m for m in re.split(r"[\s,]+", ids) if m.strip("<>")][:1000]
    try:
        q.limit = max(1, min(int(params.get("limit") or 50), 1000))
    except ValueError:
        raise SearchError("limit must be a number") from None
    q.after = params.get("cursor") or None
    sort = params.get("sort") or "-time"
    if sort.lstrip("-") in EMAIL_SORTS:
        q.sort = sort
    return q


def check_api_params(
    params: Params, fields: dict[str, Any], sorts: Iterable[str] = EMAIL_SORTS
) -> None:
    """The API refuses a parameter it does not know (a typo must not widen a search),
    and a sort it does not offer (the pages fall back to the newest first instead)."""
    sort = params.get("sort")
    if sort and sort.removeprefix("-") not in sorts:
        raise SearchError(f"unknown sort {sort[:40]!r}: use one of {', '.join(sorts)}")
    known = {"since", "until", "limit", "cursor", "sort", "message_ids"}
    known |= set(fields) | {f"{name}_op" for name in fields}
    unknown = sorted(params.names() - known)
    if unknown:
        raise SearchError(f"unknown parameter {unknown[0]!r}")


def classify_quick(text: str) -> tuple[str, str] | None:
    """What the quick box was given: a Message-ID, a queue ID, an address or a domain."""
    t = text.strip()
    if not t:
        return None
    if t.startswith("<") and t.endswith(">") and "@" in t:
        return ("message_id", t.strip("<>"))
    if valid_queue_id(t):
        return ("queue_id", t)
    m = ADDRESS.fullmatch(t)
    if m:
        return ("address", m.group(1))
    if DOMAIN.fullmatch(t):
        return ("domain", t.lstrip("@"))
    if "@" in t:
        return ("message_id", t.strip("<>"))
    try:
        ipaddress.ip_address(t)
        return ("client", t)
    except ValueError:
        pass
    return ("message_id_part", t)


def quick_filter(kind: tuple[str, str]) -> Filter:
    """The filter a classified quick-box entry runs as (a part of a Message-ID: contains)."""
    name, value = kind
    if name == "message_id_part":
        return Filter("message_id", value, "contains")
    return Filter(name, value)


def message_ids(text: str) -> list[str]:
    """Message-IDs pasted in a box: split on blanks and commas, brackets dropped."""
    return [m.strip("<>") for m in re.split(r"[\s,]+", text) if m.strip("<>")][:1000]


def pairs(query: Any) -> list[tuple[str, str]]:
    """A stored search (a list of [name, value] pairs; repeated names are kept)."""
    if isinstance(query, dict):
        query = list(query.items())
    return [(str(p[0]), str(p[1])) for p in query if isinstance(p, list | tuple) and len(p) == 2]


def filter_rows(items: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """The extended form's rows (field, operator, value): the request's, padded to four."""
    fs = [v for k, v in items if k == "f"]
    os_ = [v for k, v in items if k == "o"]
    vs = [v for k, v in items if k == "v"]
    rows = list(zip(fs, os_, vs, strict=False))
    while len(rows) < 4:
        rows.append(("", "", ""))
    return rows[:8]
