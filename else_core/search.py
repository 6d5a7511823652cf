"""Search the store: e-mails and rejects by any field, with an access-control scope.

Used by ``elsectl search`` and the WUI. Every filter becomes a parameterised SQL
condition; field names and operators come from fixed tables here, never from input.
The caller's :class:`Scope` (which servers, domains and addresses a user may see) is
compiled into the same WHERE clause, so a user cannot see a row the SQL did not allow.

Results are pages ordered by a sort key plus the row id (keyset pagination: the next
page starts after the last row, stable while new mail arrives); the total is counted up
to :data:`COUNT_CAP` rows so that it stays fast on a big table.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from else_core.errors import ElseError
from else_core.model import EMAIL_STATUSES
from else_core.scope import (
    Cond,
    Scope,
    email_conditions,
    recipient_visibility,
    reject_conditions,
    time_range,
    visible_detail,
    visible_email,
    where,
)
from else_core.store.keys import index_key

__all__ = [
    "EMAIL_FIELDS",
    "EMAIL_SORTS",
    "REJECT_FIELDS",
    "Filter",
    "Page",
    "Query",
    "Scope",
    "SearchError",
    "email_detail",
    "parse_time",
    "search_emails",
    "search_rejects",
    "summary",
]

COUNT_CAP = 10000
MAX_LIMIT = 1000

OPERATORS = (
    "equals",
    "contains",
    "starts",
    "ends",
    "matches",
    "not",
    "not_contains",
    "gt",
    "lt",
    "ge",
    "le",
)
#: ``matches`` takes a shell-style wildcard (``*`` any text, ``?`` one character), as
#: people type it in a search box: ``*@example.org``, ``lab-*``.
TEXT_OPS = ("equals", "contains", "starts", "ends", "matches", "not", "not_contains")
EXACT_OPS = ("equals", "not")
NUMBER_OPS = ("equals", "not", "gt", "lt", "ge", "le")

#: The keys of ``Transaction.to_dict()`` without detail (the CLI's JSON shape).
TX_SUMMARY_KEYS = (
    "host",
    "queue_id",
    "origin",
    "parent",
    "parent_host",
    "first_seen",
    "last_seen",
    "sender",
    "size",
    "nrcpt",
    "message_id",
    "client",
    "client_ip",
    "state",
)


class SearchError(ElseError):
    """A filter that cannot be run (unknown field, operator or value)."""


@dataclass(frozen=True, slots=True)
class Filter:
    field: str
    value: Any
    op: str = "equals"


@dataclass(slots=True)
class Query:
    since: datetime | None = None
    until: datetime | None = None
    filters: list[Filter] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)
    sort: str = "-time"
    limit: int = 50
    after: str | None = None  # the next_cursor of the previous page
    count: bool = True


@dataclass(slots=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None
    total: int | None
    total_exact: bool


# -- values ---------------------------------------------------------------------------------


def parse_time(text: str, end: bool = False) -> datetime:
    """ISO 8601 date or date-time; a bare date as ``--until`` means the end of that day.

    Naive values are UTC (the database's clock)."""
    text = text.strip()
    shown = text if len(text) <= 40 else text[:40] + "..."
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            ts = datetime.combine(d + timedelta(days=1) if end else d, time(), UTC)
        else:
            ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SearchError(f"invalid time {shown!r}: use ISO 8601, e.g. 2026-03-14T10:00") from None
    except OverflowError:  # the day after 9999-12-31
        raise SearchError(f"time out of range {shown!r}: {YEAR_RANGE}") from None
    return check_year(ts if ts.tzinfo else ts.replace(tzinfo=UTC), shown)


#: Years a search bound may name: wide enough for any log, narrow enough that time-zone
#: arithmetic (a day more, a zone's offset) never leaves Python's or PostgreSQL's range.
MIN_YEAR, MAX_YEAR = 1970, 2999
YEAR_RANGE = f"years {MIN_YEAR} to {MAX_YEAR}"


def check_year(ts: datetime, shown: str) -> datetime:
    """``ts`` if its year is in :data:`MIN_YEAR`..:data:`MAX_YEAR`, else a SearchError."""
    if not MIN_YEAR <= ts.year <= MAX_YEAR:
        raise SearchError(f"time out of range {shown!r}: {YEAR_RANGE}")
    return ts


def _like(value: str, op: str) -> str:
    v = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if op == "matches":
        return v.replace("*", "%").replace("?", "_")
    return {"contains": f"%{v}%", "not_contains": f"%{v}%", "starts": f"{v}%", "ends": f"%{v}"}[op]


def _text_cond(expr: str, op: str, value: str, params: list[Any], ci: bool = False) -> str:
    """``ci``: patterns ignore case (ILIKE), for free text such as a remote server's
    answer, where people type "relay access denied" for "Relay access denied"; the
    trigram indexes serve ILIKE as well as LIKE."""
    # indexed columns hold values cut to a bounded key (else_core.store.keys): compare
    # with the value cut the same way, so an over-long value is still found
    if op in ("equals", "not"):
        params.append(index_key(value))
        return f"{expr} = %s" if op == "equals" else f"{expr} IS DISTINCT FROM %s"
    params.append(_like(value, op))
    like = "ILIKE" if ci else "LIKE"
    if op == "not_contains":
        return f"COALESCE({expr} NOT {like} %s, true)"
    return f"{expr} {like} %s"


def _number(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SearchError(f"not a number: {value!r}") from None


# -- e-mail filters ---------------------------------------------------------------------------

#: Builds one filter's SQL condition: (operator, value, params) -> SQL text with ``%s``
#: placeholders, the values appended to params.
Builder = Callable[[str, Any, list[Any]], str]
# Each entry: field -> (allowed operators, builder(op, value, params) -> SQL condition).


def _lower(v: Any) -> str:
    return str(v).strip().lower()


def _address_or_domain(
    expr_addr: str, expr_domain: str, op: str, value: str, params: list[Any]
) -> str:
    """``user@example.org`` matches the address; ``example.org`` or ``@example.org``
    with equals/not matches the domain."""
    v = _lower(value)
    if op in ("equals", "not") and "@" not in v.lstrip("@"):
        return _text_cond(expr_domain, op, v.lstrip("@"), params)
    return _text_cond(expr_addr, op, v, params)


# The builders below join SQL literals of this module (a field's expression, an
# operator's form) and put every value into ``params``; ruff's S608 cannot see that.


#: Where a recipient subquery may be narrowed to the recipients a scoped user sees
#: (see scope.recipient_visibility and _with_visibility).
_VISIBLE = "/*recipients-in-scope*/"


def _rcpt_exists(cond: str, per_email: bool = False) -> str:
    """``per_email``: probe each candidate e-mail's recipients by its id. Otherwise the
    planner may hash every recipient row that matches ``cond`` in the whole table, which
    is right for a selective condition (an address) and wrong for a status: "delivered"
    matches nearly every recipient row ever stored. OFFSET 0 keeps the subquery from being
    turned into such a hashed one."""
    tail = f"{cond}{_VISIBLE}{' OFFSET 0' if per_email else ''}"
    return f"EXISTS (SELECT 1 FROM email_recipients r WHERE r.email_id = e.id AND {tail})"  # noqa: S608 - cond: a builder's literal


def _with_visibility(text: str, params: list[Any], visible: Cond | None) -> Cond:
    """A builder's condition with each recipient subquery narrowed by ``visible``.

    The builders join literals and append their values in placeholder order, so the
    narrowing's values go in right after the placeholders written before its mark."""
    parts = text.split(_VISIBLE)
    if len(parts) == 1:
        return sql.SQL(text), params  # a builder's literal
    if visible is None:
        return sql.SQL("".join(parts)), params
    pieces: list[sql.Composable] = []
    values: list[Any] = []
    used = 0
    for i, part in enumerate(parts):
        n = part.count("%s")
        values.extend(params[used : used + n])
        used += n
        pieces.append(sql.SQL(part))  # a builder's literal
        if i < len(parts) - 1:
            pieces += [sql.SQL(" AND "), visible[0]]
            values.extend(visible[1])
    values.extend(params[used:])
    return sql.Composed(pieces), values


def _tx_exists(cond: str) -> str:
    return f"EXISTS (SELECT 1 FROM transactions t WHERE t.email_id = e.id AND {cond})"  # noqa: S608 - cond: a builder's literal


def _negatable(builder_exists: Builder) -> Builder:
    """For one-to-many fields, ``not X`` means no row matches X (not: some row differs)."""

    def build(op: str, value: Any, params: list[Any]) -> str:
        if op == "not":
            return f"NOT {builder_exists('equals', value, params)}"
        if op == "not_contains":
            return f"NOT {builder_exists('contains', value, params)}"
        return builder_exists(op, value, params)

    return build


def _recipient(op: str, value: Any, params: list[Any]) -> str:
    v = _lower(value)
    if op == "equals" and "@" in v.lstrip("@"):
        params.extend([index_key(v), index_key(v)])
        return _rcpt_exists("(lower(r.address) = %s OR lower(r.orig_address) = %s)")
    return _rcpt_exists(_address_or_domain("lower(r.address)", "r.domain", op, v, params))


def _status(op: str, value: Any, params: list[Any]) -> str:
    v = _lower(value)
    if v not in EMAIL_STATUSES:
        raise SearchError(
            f"unknown status {str(value)[:40]!r}: use one of {', '.join(EMAIL_STATUSES)}"
        )
    params.extend([v, v])
    # only "mixed" e-mails are probed, and only those in the search's other bounds (a day):
    # the whole table's recipients with that status made one day's search cost 0.1-0.35 s
    mixed = _rcpt_exists("r.status = %s", per_email=True)
    return f"(e.status = %s OR (e.status = 'mixed' AND {mixed}))"


def _status_any(op: str, value: Any, params: list[Any]) -> str:
    if op == "equals":
        return _status(op, value, params)
    return f"NOT {_status('equals', value, params)}"


def _client(op: str, value: Any, params: list[Any]) -> str:
    v = _lower(value)
    a = _text_cond("lower(e.client)", op, v, params)
    b = _text_cond("e.client_ip", op, v, params)
    return f"({a} {'AND' if op in ('not', 'not_contains') else 'OR'} {b})"


def _message_id(op: str, value: Any, params: list[Any]) -> str:
    return _text_cond("e.message_id", op, str(value).strip().strip("<>"), params)


def _direction(op: str, value: Any, params: list[Any]) -> str:
    v = _lower(value)
    if v not in ("incoming", "outgoing", "relay", "filter", "mixed"):
        raise SearchError("direction must be incoming, outgoing, relay, filter or mixed")
    params.append(v)
    cond = (
        "(SELECT CASE WHEN s.role IN ('incoming', 'outgoing', 'relay', 'filter') THEN s.role"
        " ELSE e.direction END FROM (SELECT (SELECT role FROM servers WHERE name = e.host)"
        " AS role) s) = %s"
    )
    return cond if op == "equals" else f"NOT ({cond})"


def _size(op: str, value: Any, params: list[Any]) -> str:
    params.append(_number(value))
    sym = {"equals": "=", "not": "<>", "gt": ">", "lt": "<", "ge": ">=", "le": "<="}[op]
    return f"e.size {sym} %s"


def _simple(expr: str, lower: bool = True) -> Builder:
    def build(op: str, value: Any, params: list[Any]) -> str:
        v = _lower(value) if lower else str(value).strip()
        return _text_cond(expr, op, v, params)

    return build


EMAIL_FIELDS: dict[str, tuple[tuple[str, ...], Builder]] = {
    "sender": (
        TEXT_OPS,
        lambda op, v, p: _address_or_domain("lower(e.sender)", "e.sender_domain", op, v, p),
    ),
    "sender_domain": (TEXT_OPS, _simple("e.sender_domain")),
    "recipient": (TEXT_OPS, _negatable(_recipient)),
    "recipient_domain": (
        TEXT_OPS,
        _negatable(lambda op, v, p: _rcpt_exists(_text_cond("r.domain", op, _lower(v), p))),
    ),
    "message_id": (TEXT_OPS, _message_id),
    # only filled when the postfix role logs the Subject (header_checks INFO rule)
    "subject": (TEXT_OPS, _simple("lower(e.subject)")),
    "queue_id": (
        TEXT_OPS,
        _negatable(lambda op, v, p: _tx_exists(_text_cond("t.queue_id", op, str(v).strip(), p))),
    ),
    "status": (EXACT_OPS, _status_any),
    "client": (TEXT_OPS, _client),
    "client_ip": (TEXT_OPS, _simple("e.client_ip")),
    "client_host": (TEXT_OPS, _simple("lower(e.client)")),
    "helo": (TEXT_OPS, _simple("lower(e.helo)")),
    "sasl_username": (TEXT_OPS, _simple("lower(e.sasl_username)")),
    "relay": (
        TEXT_OPS,
        _negatable(lambda op, v, p: _rcpt_exists(_text_cond("lower(r.relay)", op, _lower(v), p))),
    ),
    "dsn": (
        TEXT_OPS,
        _negatable(lambda op, v, p: _rcpt_exists(_text_cond("r.dsn", op, str(v).strip(), p))),
    ),
    "response": (
        ("contains", "not_contains", "starts"),
        _negatable(
            lambda op, v, p: _rcpt_exists(_text_cond("r.response", op, str(v).strip(), p, ci=True))
        ),
    ),
    "host": (TEXT_OPS, _simple("e.host", lower=False)),
    "direction": (EXACT_OPS, _direction),
    "size": (NUMBER_OPS, _size),
}

REJECT_FIELDS: dict[str, tuple[tuple[str, ...], Builder]] = {
    "sender": (TEXT_OPS, _simple("lower(j.sender)")),
    "recipient": (TEXT_OPS, _simple("lower(j.recipient)")),
    "client": (
        TEXT_OPS,
        lambda op, v, p: (
            f"({_text_cond('lower(j.client)', op, _lower(v), p)}"
            f" {'AND' if op in ('not', 'not_contains') else 'OR'}"
            f" {_text_cond('j.client_ip', op, _lower(v), p)})"
        ),
    ),
    "client_ip": (TEXT_OPS, _simple("j.client_ip")),
    "helo": (TEXT_OPS, _simple("lower(j.helo)")),
    "reason": (TEXT_OPS, lambda op, v, p: _text_cond("j.reason", op, str(v).strip(), p, ci=True)),
    "action": (TEXT_OPS, _simple("j.action")),
    "stage": (TEXT_OPS, _simple("j.stage", lower=False)),
    "code": (TEXT_OPS, _simple("j.code", lower=False)),
    "dsn": (TEXT_OPS, _simple("j.dsn", lower=False)),
    "queue_id": (TEXT_OPS, _simple("j.queue_id", lower=False)),
    "host": (TEXT_OPS, _simple("j.host", lower=False)),
}

EMAIL_SORTS = {
    "time": ("e.first_seen", "e.id"),
    "size": ("e.size", "e.id"),
    "sender": ("lower(e.sender)", "e.id"),
    "last_seen": ("e.last_seen", "e.id"),
}
REJECT_SORTS = {"time": ("j.at", "j.seq")}


def _conditions(
    filters: list[Filter],
    table: dict[str, tuple[tuple[str, ...], Any]],
    visible: Cond | None = None,
) -> list[Cond]:
    """Each filter as a condition. The builders join SQL literals of this module (the
    field's expression, the operator's form); the value is always a parameter.
    ``visible`` narrows recipient-level filters (scope.recipient_visibility)."""
    out: list[Cond] = []
    for f in filters:
        entry = table.get(f.field)
        if entry is None:
            raise SearchError(f"unknown search field {f.field!r}: use one of {', '.join(table)}")
        ops, build = entry
        if f.op not in ops:
            raise SearchError(
                f"operator {f.op!r} does not apply to {f.field}: use {', '.join(ops)}"
            )
        if f.value is None or (isinstance(f.value, str) and not f.value.strip()):
            raise SearchError(f"{f.field}: empty value")
        if isinstance(f.value, str) and "\x00" in f.value:
            raise SearchError(f"{f.field}: the value contains a NUL byte")
        params: list[Any] = []
        text = build(f.op, f.value, params)
        out.append(_with_visibility(text, params, visible))
    return out


# -- cursors -------------------------------------------------------------------------------


def _encode_cursor(values: list[Any]) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _search_of(query: Query) -> dict[str, Any]:
    """What a cursor remembers of its search: filters, Message-IDs, period and sort, so
    that ``?cursor=`` alone continues the same search (issue 15: it returned unfiltered
    mail) and a cursor given with other filters is refused rather than mixed."""
    return {
        "f": [[f.field, str(f.value), f.op] for f in query.filters],
        "m": list(query.message_ids),
        "s": query.since.isoformat() if query.since else None,
        "u": query.until.isoformat() if query.until else None,
        "o": query.sort,
    }


def _restore(query: Query) -> None:
    """Give a query with a cursor the search the cursor was made for."""
    if not query.after:
        return
    try:
        values = json.loads(base64.urlsafe_b64decode(query.after + "=" * (-len(query.after) % 4)))
    except (ValueError, TypeError, UnicodeError):  # binascii.Error is a ValueError
        raise SearchError("invalid page cursor") from None
    if not isinstance(values, list) or len(values) != 3 or not isinstance(values[2], dict):
        return  # a cursor of an older release: [key, id] only
    saved = values[2]
    given = _search_of(query)
    bare = not (query.filters or query.message_ids or query.since or query.until)
    if bare:
        try:
            query.filters = [Filter(str(a), b, str(c)) for a, b, c in saved.get("f") or []]
            query.message_ids = [str(m) for m in saved.get("m") or []]
            since = datetime.fromisoformat(saved["s"]) if saved.get("s") else None
            until = datetime.fromisoformat(saved["u"]) if saved.get("u") else None
            query.since = check_year(since, "cursor") if since else None
            query.until = check_year(until, "cursor") if until else None
            query.sort = str(saved.get("o") or query.sort)
        except (ValueError, TypeError, KeyError, SearchError):
            raise SearchError("invalid page cursor") from None
        return
    if {k: v for k, v in given.items() if k != "o"} != {k: saved.get(k) for k in given if k != "o"}:
        raise SearchError("the page cursor belongs to another search: repeat its filters or none")


def _decode_cursor(token: str, sort_col: str, id_col: str) -> list[Any]:
    """The two values of a cursor, with the types of their columns (a cursor is client
    input: a number where a text belongs would reach PostgreSQL as a type error). A third
    element is the search the cursor belongs to (see _restore)."""
    try:
        values = json.loads(base64.urlsafe_b64decode(token[:100_000] + "=" * (-len(token) % 4)))
        if not isinstance(values, list) or len(values) not in (2, 3):
            raise ValueError
        key, ident = values[:2]
        if sort_col.endswith(("first_seen", "last_seen", ".at")):
            if key is not None:
                key = check_year(datetime.fromisoformat(key), "cursor")
        elif sort_col.endswith("size"):
            if key is not None and (type(key) is not int or abs(key) > 2**62):
                raise ValueError
        elif key is not None and (not isinstance(key, str) or "\x00" in key):
            raise ValueError
        if id_col.endswith("seq"):
            if type(ident) is not int or abs(ident) > 2**62:
                raise ValueError
        elif not isinstance(ident, str) or "\x00" in ident:
            raise ValueError
        return [key, ident]
    except (ValueError, TypeError, SearchError, UnicodeError, json.JSONDecodeError):
        raise SearchError("invalid page cursor") from None


@dataclass(frozen=True, slots=True)
class _Table:
    """What a search pages through: the table, its alias, the columns and the sorts."""

    name: str
    alias: str
    select: sql.Composable
    sorts: dict[str, tuple[str, str]]


_EMAILS = _Table("emails", "e", sql.SQL("e.id, e.doc"), EMAIL_SORTS)
_REJECTS = _Table(
    "rejects",
    "j",
    sql.SQL(
        "j.seq, j.email_id, j.at, j.host, j.queue_id, j.daemon, j.action, j.stage,"
        " j.client, j.client_ip, j.sender, j.recipient, j.helo, j.proto, j.code, j.dsn,"
        " j.reason"
    ),
    REJECT_SORTS,
)


def _page(
    conn: psycopg.Connection,
    table: _Table,
    conds: list[Cond],
    query: Query,
    keep_keys: bool = False,
) -> Page:
    """One page of ``table`` (keyset pagination) and, if asked, the capped total.
    ``keep_keys`` leaves each row's ``sort_key``/``sort_id`` in it, for merging pages."""
    desc = query.sort.startswith("-")
    key = query.sort.lstrip("-")
    sorts = table.sorts
    if key not in sorts:
        raise SearchError(f"unknown sort {query.sort!r}: use one of {', '.join(sorts)}")
    col_text, idcol_text = sorts[key]
    col, idcol = sql.SQL(col_text), sql.SQL(idcol_text)  # the SORTS tables' literals
    limit = max(1, min(int(query.limit), MAX_LIMIT))
    page_conds = list(conds)
    if query.after:
        last, last_id = _decode_cursor(query.after, col_text, idcol_text)
        cmp = sql.SQL("<" if desc else ">")
        page_conds.append(
            (sql.SQL("({}, {}) {} (%s, %s)").format(col, idcol, cmp), [last, last_id])
        )
    order = sql.SQL("DESC" if desc else "ASC")
    source = sql.SQL("{} {}").format(sql.Identifier(table.name), sql.Identifier(table.alias))
    page_where, page_params = where(page_conds)
    stmt = sql.SQL(
        "SELECT {select}, {col} AS sort_key, {idcol} AS sort_id FROM {source}"
        " WHERE {where} ORDER BY {col} {order} NULLS LAST, {idcol} {order} LIMIT %s"
    ).format(
        select=table.select, col=col, idcol=idcol, source=source, where=page_where, order=order
    )
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(stmt, [*page_params, limit + 1]).fetchall()
        total, exact = None, False
        if query.count:
            base_where, base_params = where(conds)
            count = sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {} WHERE {} LIMIT %s) c").format(
                source, base_where
            )
            row = cur.execute(count, [*base_params, COUNT_CAP + 1]).fetchone()
            n = int(row["count"]) if row else 0
            total, exact = min(n, COUNT_CAP), n <= COUNT_CAP
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = (
        _encode_cursor([rows[-1]["sort_key"], rows[-1]["sort_id"], _search_of(query)])
        if more
        else None
    )
    if not keep_keys:
        for r in rows:
            r.pop("sort_key", None)
            r.pop("sort_id", None)
    return Page(rows, cursor, total, exact)


# -- public API ------------------------------------------------------------------------------


def search_emails(conn: psycopg.Connection, query: Query, scope: Scope | None = None) -> Page:
    """A page of e-mails; each item is ``{"doc": <Email.to_dict(detail=True)>, ...}``."""
    return _email_page(conn, query, scope)


def search_emails_any(
    conn: psycopg.Connection,
    queries: list[Query],
    scope: Scope | None = None,
    limit: int = 100,
    after: str | None = None,
) -> Page:
    """E-mails matching any of ``queries``, newest first, each once, a page at a time.

    Several index-friendly searches instead of one OR the planner cannot use indexes for
    (the quick search box). Keyset paging still holds: each search returns its newest
    ``limit`` e-mails older than the position ``after``, so the newest ``limit`` of their
    union are the page, and the last of them is the next position. The cursor carries only
    that position (the caller repeats the searches), so it fits any of them.
    """
    limit = max(1, min(int(limit), MAX_LIMIT))
    merged: dict[str, dict[str, Any]] = {}
    more = False
    for base in queries:
        query = Query(
            since=base.since,
            until=base.until,
            filters=list(base.filters),
            message_ids=list(base.message_ids),
            sort="-time",
            limit=limit,
            after=after,
            count=False,
        )
        page = _email_page(conn, query, scope, keep_keys=True)
        more = more or page.next_cursor is not None
        for item in page.items:
            merged.setdefault(item["id"], item)
    # Newest first, NULLS LAST, the id breaking ties: the order _page gives each search.
    oldest = datetime.min.replace(tzinfo=UTC)
    rows = sorted(
        merged.values(),
        key=lambda r: (r["sort_key"] is not None, r["sort_key"] or oldest, r["sort_id"]),
        reverse=True,
    )
    more = more or len(rows) > limit
    rows = rows[:limit]
    cursor = _encode_cursor([rows[-1]["sort_key"], rows[-1]["sort_id"]]) if more and rows else None
    for r in rows:
        r.pop("sort_key", None)
        r.pop("sort_id", None)
    return Page(rows, cursor, None, False)


def _email_page(
    conn: psycopg.Connection, query: Query, scope: Scope | None, keep_keys: bool = False
) -> Page:
    _restore(query)
    conds = email_conditions(scope)
    conds += time_range(sql.SQL("e.first_seen"), query.since, query.until)
    if query.message_ids:
        ids = [index_key(m.strip().strip("<>")) for m in query.message_ids]
        conds.append((sql.SQL("e.message_id = ANY(%s)"), [ids]))
    conds += _conditions(query.filters, EMAIL_FIELDS, recipient_visibility(scope))
    page = _page(conn, _EMAILS, conds, query, keep_keys)
    for item in page.items:  # only the recipients in scope (see scope.visible_email)
        item["doc"] = visible_email(scope, item["doc"])
    return page


def search_rejects(conn: psycopg.Connection, query: Query, scope: Scope | None = None) -> Page:
    """A page of rejects (NOQUEUE and queue-ID refusals) as ``Reject.to_dict()`` rows."""
    _restore(query)
    conds = reject_conditions(scope)
    conds += time_range(sql.SQL("j.at"), query.since, query.until)
    conds += _conditions(query.filters, REJECT_FIELDS)
    page = _page(conn, _REJECTS, conds, query)
    for item in page.items:
        item["type"] = "reject"
        item["at"] = item["at"].isoformat() if item["at"] else None
    return page


def summary(doc: dict[str, Any]) -> dict[str, Any]:
    """``Email.to_dict()`` (no detail) from the stored ``to_dict(detail=True)``."""
    out = dict(doc)
    out["transactions"] = [{k: t.get(k) for k in TX_SUMMARY_KEYS} for t in doc["transactions"]]
    return out


def email_detail(
    conn: psycopg.Connection, email_id: str, scope: Scope | None = None
) -> dict[str, Any] | None:
    """Everything about one e-mail: its document (transactions, hops, attempts, rejects),
    related e-mails (NDRs, forwarded copies, same Message-ID) and the raw lines behind it.
    None when it does not exist or the scope hides it."""
    if "\x00" in email_id:  # no ID has one, and PostgreSQL text cannot carry it
        return None
    found, params = where([(sql.SQL("e.id = %s"), [email_id]), *email_conditions(scope)])
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            sql.SQL(
                "SELECT e.doc, e.first_seen, e.last_seen, e.message_id FROM emails e WHERE {}"
            ).format(found),
            params,
        ).fetchone()
        if row is None:
            return None
        doc = row["doc"]
        seqs: set[int] = set()
        for t in doc.get("transactions", []):
            seqs.update(t.get("lines") or ())
        rseqs = [
            r[0]
            for r in conn.execute(
                "SELECT seq FROM deliveries WHERE email_id = %s AND seq IS NOT NULL"
                " UNION SELECT seq FROM rejects WHERE email_id = %s",
                (email_id, email_id),
            )
        ]
        seqs.update(rseqs)
        lines = []
        if seqs:
            lo = (row["first_seen"] or datetime.min) - timedelta(days=2)
            hi = (row["last_seen"] or datetime.max) + timedelta(days=2)
            lines = cur.execute(
                "SELECT id, received_at, reported_at, host, program, pid, message"
                " FROM raw_events WHERE id = ANY(%s) AND received_at BETWEEN %s AND %s"
                " ORDER BY id",
                (sorted(seqs), lo, hi),
            ).fetchall()
        visible, vparams = where(email_conditions(scope))
        rparams: list[Any] = [email_id, email_id, email_id, row["message_id"], email_id, *vparams]
        related = cur.execute(
            sql.SQL(
                "SELECT e.id, e.status, e.first_seen, e.sender, e.message_id, x.relation FROM ("
                " SELECT c.email_id AS id, 'child' AS relation FROM transactions p"
                "  JOIN transactions c ON c.parent = p.queue_id"
                "   AND COALESCE(c.parent_host, c.host) = p.host"
                "  WHERE p.email_id = %s AND c.email_id <> p.email_id"
                " UNION SELECT p.email_id, 'parent' FROM transactions c"
                "  JOIN transactions p ON c.parent = p.queue_id"
                "   AND COALESCE(c.parent_host, c.host) = p.host"
                "  WHERE c.email_id = %s AND p.email_id <> c.email_id"
                " UNION SELECT e2.id, 'same message-id' FROM emails e2"
                "  WHERE e2.id <> %s AND e2.message_id = %s AND e2.id <> %s"
                ") x JOIN emails e ON e.id = x.id WHERE {} ORDER BY e.first_seen LIMIT 100"
            ).format(visible),
            rparams,
        ).fetchall()
    for line in lines:
        for k in ("received_at", "reported_at"):
            line[k] = line[k].isoformat() if line[k] else None
    for r in related:
        r["first_seen"] = r["first_seen"].isoformat() if r["first_seen"] else None
    # Inside the e-mail, a recipient-scoped user sees only their recipients and lines.
    return visible_detail(scope, {"email": doc, "related": related, "lines": lines})
