"""COPY text of e-mails, their children and rejects, formatted by hand.

The writer's hot path (about 100 values per e-mail), kept apart from the database code
so that it can run where it pays: an import formats each batch in its parsing thread
while the database thread streams the previous one to PostgreSQL, and mypyc compiles it
with the rest of the per-line path (else_core.compiled). Nothing here touches a
connection. psycopg's per-value adaptation (``write_row``) costs more than correlating
the e-mail did, so each column's type is known and formatted directly; indexed text is
bounded by :mod:`else_core.store.keys`.
"""

from __future__ import annotations

import json
from datetime import datetime

import orjson

from else_core.model import Email, Reject, iso
from else_core.store.keys import host_key, index_key

_LOCAL_IPS = frozenset(("127.0.0.1", "::1"))

# PostgreSQL text cannot hold NUL (the reader passes NULs through), so NUL becomes U+FFFD.
_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\x00": "\ufffd"})

_stdlib_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode


def dumps(value: object) -> str:
    """Compact JSON of a record's dict (``emails.doc``, quarantined records).

    orjson takes a tenth of the standard encoder's time, and the document of every
    e-mail is encoded once. It refuses what the standard one writes (an integer over
    64 bits from a hostile ``size=``, a lone surrogate): those take the standard path,
    so the output is always the same JSON."""
    try:
        return orjson.dumps(value, default=str).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return _stdlib_dumps(value)


def copy_text(v: str) -> str:
    """A text value in COPY's text format.

    Tab, newline, CR and NUL are not printable, so a printable value without a backslash
    needs nothing: two C-level checks, 3x cheaper than the regex search they replace, and
    this runs for every text value of every row (~3 per raw line, ~60 per e-mail)."""
    return v if v.isprintable() and "\\" not in v else v.translate(_ESCAPE)


def _t(v: str | None) -> str:
    """A nullable text value for COPY."""
    if v is None:
        return "\\N"
    return v if v.isprintable() and "\\" not in v else v.translate(_ESCAPE)  # copy_text


def _json_text(v: str) -> str:
    """JSON text for COPY. JSON has no raw control characters (encoders escape them), so
    only backslashes need doubling; checking a ~1 kB document with :meth:`str.isprintable`,
    one character at a time, cost more than the search for a backslash."""
    return v if "\\" not in v else v.replace("\\", "\\\\")


def _n(v: object) -> str:
    """A nullable number (or a value already in COPY text form) for COPY."""
    return "\\N" if v is None else str(v)


# Delays repeat (a server's typical 0.01/0/0.02/0.01), and a float's shortest repr costs
# ~0.3 us: an e-mail has ~16 of them. Recent texts are kept, as model.iso keeps times'.
_DELAYS: dict[object, str] = {}
_DELAYS_MAX = 4096


def _delay(v: float | tuple[float, ...] | None) -> str:
    """A nullable delay, or array of delays (``delays=``), for COPY."""
    if v is None or v == ():
        return "\\N"
    text = _DELAYS.get(v)
    if text is None:
        if len(_DELAYS) >= _DELAYS_MAX:
            _DELAYS.clear()
        text = _DELAYS[v] = str(v) if isinstance(v, float) else _numbers(v)
    return text


def _ts(v: datetime | None) -> str:
    text = iso(v)
    return "\\N" if text is None else text


def _numbers(v: list[int] | list[float] | tuple[float, ...] | None) -> str:
    """A nullable array of numbers (raw ids, delays) for COPY."""
    if v is None:
        return "\\N"
    if None in v:
        return "{" + ",".join("NULL" if x is None else str(x) for x in v) + "}"
    return "{" + ",".join([str(x) for x in v]) + "}"


def _element(v: object) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, (int, float)):
        return repr(v)
    text = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def field(v: object) -> str:
    """Any value in COPY text form, by its type (the slow, general path)."""
    if v is None:
        return "\\N"
    if isinstance(v, str):
        return copy_text(v)
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, (list, tuple)):
        return field("{" + ",".join([_element(x) for x in v]) + "}")
    return field(str(v))


def domain_of(address: str | None) -> str | None:
    if not address or "@" not in address:
        return None
    return index_key(address.rpartition("@")[2].lower() or None)


def direction_of(email: Email) -> str:
    """Outgoing when the root came from an authenticated client or local submission."""
    root = email.transactions[0] if email.transactions else None
    if email.sasl_username or (root is not None and root.origin == "pickup"):
        return "outgoing"
    if email.client_ip in _LOCAL_IPS and root is not None and root.origin == "smtpd":
        return "outgoing"
    return "incoming"


class Rows:
    """The COPY lines of one batch, table by table."""

    def __init__(self) -> None:
        self.emails: list[str] = []
        self.transactions: list[str] = []
        self.recipients: list[str] = []
        self.deliveries: list[str] = []
        self.rejects: list[str] = []


def format_emails(emails: list[Email], rows: Rows) -> None:
    """Append the COPY lines of e-mails and their children to ``rows``."""
    for e in emails:
        _format_email(e, rows)


def format_rejects(emails: list[Email], rejects: list[Reject], rows: Rows) -> list[int]:
    """Append the COPY lines of rejects (standalone ones, then each e-mail's own) to
    ``rows``, one row per raw line: a reject seen twice keeps its last row. Returns those
    raw lines, each once (their stored rows are replaced)."""
    unique: dict[int, tuple[Reject, str | None]] = {}
    for r in rejects:
        unique[r.seq] = (r, None)
    for e in emails:
        for r in e.rejects:
            unique[r.seq] = (r, e.id)
    out = rows.rejects
    for r, email_id in unique.values():
        out.append(
            f"{r.seq}\t{_t(email_id)}\t{_ts(r.at)}\t{_t(host_key(r.host))}\t"
            f"{_t(index_key(r.queue_id))}\t{_t(r.daemon)}\t{_t(r.action)}\t{_t(r.stage)}\t"
            f"{_t(r.code)}\t{_t(r.dsn)}\t{_t(r.reason)}\t{_t(index_key(r.client))}\t"
            f"{_t(index_key(r.client_ip))}\t{_t(index_key(r.sender))}\t"
            f"{_t(index_key(r.recipient))}\t{_t(index_key(r.helo))}\t{_t(r.proto)}\n"
        )
    return list(unique)


def _format_email(e: Email, rows: Rows) -> None:
    eid = e.id
    host = _t(host_key(e.host))
    first = _ts(e.first_seen)
    qids = list(dict.fromkeys([index_key(t.queue_id) for t in e.transactions]))
    rows.emails.append(
        f"{eid}\t{_t(index_key(e.message_id))}\t{host}\t{_t(index_key(e.sender))}\t"
        f"{_t(domain_of(e.sender))}\t{_n(e.size)}\t{_t(index_key(e.client))}\t"
        f"{_t(index_key(e.client_ip))}\t{_t(index_key(e.helo))}\t"
        f"{_t(index_key(e.sasl_username))}\t{first}\t{_ts(e.last_seen)}\t{_t(e.status)}\t"
        f"{'t' if e.complete else 'f'}\t{direction_of(e)}\t{len(e.recipients)}\t"
        f"{field(qids)}\t{_json_text(dumps(e.to_dict(detail=True)))}\t{_t(index_key(e.subject))}\n"
    )
    tx_rows, del_rows = rows.transactions, rows.deliveries
    n = 0
    for i, t in enumerate(e.transactions):
        tx_rows.append(
            f"{eid}\t{i}\t{_t(host_key(t.host))}\t{_t(index_key(t.queue_id))}\t{_t(t.origin)}\t"
            f"{_t(index_key(t.parent))}\t{_t(host_key(t.parent_host))}\t"
            f"{_ts(t.first_seen)}\t{_ts(t.last_seen)}\t{_t(t.sender)}\t{_n(t.size)}\t"
            f"{_n(t.nrcpt)}\t{_t(index_key(t.message_id))}\t{_t(t.client)}\t"
            f"{_t(t.client_ip)}\t{_t(t.helo)}\t{_t(t.sasl_username)}\t{_t(t.state)}\t"
            f"{_numbers(t.seqs)}\n"
        )
        for a in t.attempts:
            del_rows.append(
                f"{eid}\t{n}\t{_n(a.seq)}\t{_ts(a.at)}\t{_t(a.host)}\t{_t(a.queue_id)}\t"
                f"{_t(a.to)}\t{_t(a.orig_to)}\t{_t(a.status)}\t{_t(a.relay)}\t"
                f"{_t(a.dsn)}\t{_t(a.response)}\t{_delay(a.delay)}\t"
                f"{_delay(a.delays)}\t{_n(a.conn_use)}\t{_t(a.daemon)}\n"
            )
            n += 1
    rcpt_rows = rows.recipients
    for i, r in enumerate(e.recipients):
        rcpt_rows.append(
            f"{eid}\t{i}\t{_t(index_key(r.address))}\t{_t(domain_of(r.address))}\t"
            f"{_t(index_key(r.orig_address))}\t{_t(r.status)}\t{_t(index_key(r.relay))}\t"
            f"{_t(index_key(r.dsn))}\t{_t(r.response)}\t{_n(r.attempts)}\t{_ts(r.at)}\t"
            f"{_t(r.host)}\t{_t(r.queue_id)}\t{_delay(r.delay)}\t{first}\t{host}\n"
        )
