"""Write e-mails and rejects into the search tables, one e-mail as a whole at a time.

Every write of an e-mail replaces what was stored under its id (and under the ids it
absorbed in a merge), so provisional snapshots of open e-mails, their final versions,
a re-run after a crash and an import of a day the live worker also saw all converge on
one row set per e-mail. Rows go in with COPY; the caller owns the transaction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from else_core.model import Email, Reject

_LOCAL_IPS = frozenset(("127.0.0.1", "::1"))

EMAIL_COLUMNS = (
    "id",
    "message_id",
    "host",
    "sender",
    "sender_domain",
    "size",
    "client",
    "client_ip",
    "helo",
    "sasl_username",
    "first_seen",
    "last_seen",
    "status",
    "complete",
    "direction",
    "nrcpt",
    "queue_ids",
    "doc",
    "subject",  # migration m0006: only when the postfix role logs it
)
TX_COLUMNS = (
    "email_id",
    "idx",
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
    "helo",
    "sasl_username",
    "state",
    "seqs",
)
RCPT_COLUMNS = (
    "email_id",
    "idx",
    "address",
    "domain",
    "orig_address",
    "status",
    "relay",
    "dsn",
    "response",
    "attempts",
    "at",
    "host",
    "queue_id",
    "delay",
    "first_seen",
    "email_host",
)
DELIVERY_COLUMNS = (
    "email_id",
    "idx",
    "seq",
    "at",
    "host",
    "queue_id",
    "recipient",
    "orig_to",
    "status",
    "relay",
    "dsn",
    "response",
    "delay",
    "delays",
    "conn_use",
    "daemon",
)
REJECT_COLUMNS = (
    "seq",
    "email_id",
    "at",
    "host",
    "queue_id",
    "daemon",
    "action",
    "stage",
    "code",
    "dsn",
    "reason",
    "client",
    "client_ip",
    "sender",
    "recipient",
    "helo",
    "proto",
)
CHILD_TABLES = ("transactions", "email_recipients", "deliveries", "rejects")

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode


def domain_of(address: str | None) -> str | None:
    if not address or "@" not in address:
        return None
    return address.rpartition("@")[2].lower() or None


def direction_of(email: Email) -> str:
    """Outgoing when the root came from an authenticated client or local submission."""
    root = email.transactions[0] if email.transactions else None
    if email.sasl_username or (root is not None and root.origin == "pickup"):
        return "outgoing"
    if email.client_ip in _LOCAL_IPS and root is not None and root.origin == "smtpd":
        return "outgoing"
    return "incoming"


def _clean(value: str | None) -> str | None:
    """Nothing to do: :func:`_field` escapes (and replaces NUL) at COPY time."""
    return value


# COPY text format, formatted by hand: psycopg's per-value adaptation (write_row) costs
# more than correlating the e-mail did. PostgreSQL text cannot hold NUL (the reader
# passes NULs through), so NUL becomes U+FFFD here.
_SPECIAL = re.compile(r"[\\\t\n\r\x00]")
_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\x00": "\ufffd"})


def _element(v: object) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, int | float):
        return repr(v)
    text = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _field(v: object) -> str:
    if v is None:
        return "\\N"
    t = type(v)
    if t is str:
        return v.translate(_ESCAPE) if _SPECIAL.search(v) else v  # type: ignore[union-attr]
    if t is bool:
        return "t" if v else "f"
    if t is int or t is float:  # exact types: bool is an int too
        return repr(v)
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, list | tuple):
        return _field("{" + ",".join(_element(x) for x in v) + "}")
    return _field(str(v))


def _line(values: tuple) -> str:
    return "\t".join([_field(v) for v in values]) + "\n"


@dataclass(slots=True)
class WriteStats:
    emails: int = 0
    rejects: int = 0
    deleted: int = 0
    rows: dict[str, int] = field(default_factory=dict)


class StoreWriter:
    """Replaces e-mails and inserts rejects inside the caller's transaction."""

    def __init__(self, conn: psycopg.Connection, supersede: bool = False) -> None:
        """``supersede``: also replace stored e-mails that hold one of the written
        e-mails' transactions under another id (an open snapshot whose id changed as
        the e-mail grew); the live worker needs it, a one-pass import does not."""
        self.conn = conn
        self.supersede = supersede
        self.stats = WriteStats()

    def write(self, records: Iterable[Email | Reject], snapshots: Iterable[Email] = ()) -> None:
        emails: dict[str, Email] = {}
        rejects: list[Reject] = []
        gone: set[str] = set()
        for rec in records:
            if isinstance(rec, Email):
                emails[rec.id] = rec
            else:
                rejects.append(rec)
        for snap in snapshots:
            emails.setdefault(snap.id, snap)
        for email in emails.values():
            gone.update(email.merged_ids)
        if self.supersede and emails:
            gone.update(self._holders(list(emails.values())))
        gone -= emails.keys()
        if emails or gone:
            self._delete([*emails, *gone])
        pairs: list[tuple[Reject, str | None]] = [(r, None) for r in rejects]
        if emails:
            pairs.extend(self._copy_emails(list(emails.values())))
        if pairs:
            self._copy_rejects(pairs)
        self.stats.emails += len(emails)
        self.stats.rejects += len(rejects)

    def _holders(self, emails: list[Email]) -> set[str]:
        hosts, qids, firsts = [], [], []
        for e in emails:
            for t in e.transactions:
                hosts.append(t.host)
                qids.append(t.queue_id)
                firsts.append(t.first_seen)
        rows = self.conn.execute(
            "SELECT DISTINCT t.email_id FROM transactions t"
            " JOIN unnest(%s::text[], %s::text[], %s::timestamptz[]) AS u(host, qid, first)"
            " ON t.queue_id = u.qid AND t.host = u.host"
            " AND t.first_seen IS NOT DISTINCT FROM u.first",
            (hosts, qids, firsts),
        ).fetchall()
        return {r[0] for r in rows}

    def _delete(self, ids: list[str]) -> None:
        cur = self.conn.cursor()
        for table in CHILD_TABLES:
            # table names are constants above
            cur.execute(f"DELETE FROM {table} WHERE email_id = ANY(%s)", (ids,))
        cur.execute("DELETE FROM emails WHERE id = ANY(%s)", (ids,))
        self.stats.deleted += cur.rowcount

    def _copy_emails(self, emails: list[Email]) -> list[tuple[Reject, str | None]]:
        """COPY the e-mails and their children; returns their rejects for the caller."""
        cur = self.conn.cursor()
        tx_rows, rcpt_rows, del_rows = [], [], []
        email_rejects: list[tuple[Reject, str | None]] = []
        email_rows: list[str] = []
        for e in emails:
            email_rows.append(
                _line(
                    (
                        e.id,
                        _clean(e.message_id),
                        e.host,
                        _clean(e.sender),
                        domain_of(e.sender),
                        e.size,
                        _clean(e.client),
                        e.client_ip,
                        _clean(e.helo),
                        _clean(e.sasl_username),
                        e.first_seen,
                        e.last_seen,
                        e.status,
                        e.complete,
                        direction_of(e),
                        len(e.recipients),
                        list(dict.fromkeys(t.queue_id for t in e.transactions)),
                        _clean(_dumps(e.to_dict(detail=True))),
                        _clean(e.subject),
                    )
                )
            )
            n = 0
            for i, t in enumerate(e.transactions):
                tx_rows.append(
                    (
                        e.id,
                        i,
                        t.host,
                        t.queue_id,
                        t.origin,
                        t.parent,
                        t.parent_host,
                        t.first_seen,
                        t.last_seen,
                        _clean(t.sender),
                        t.size,
                        t.nrcpt,
                        _clean(t.message_id),
                        _clean(t.client),
                        t.client_ip,
                        _clean(t.helo),
                        _clean(t.sasl_username),
                        t.state,
                        t.seqs,
                    )
                )
                for a in t.attempts:
                    del_rows.append(
                        (
                            e.id,
                            n,
                            a.seq,
                            a.at,
                            a.host,
                            a.queue_id,
                            _clean(a.to),
                            _clean(a.orig_to),
                            a.status,
                            _clean(a.relay),
                            a.dsn,
                            _clean(a.response),
                            a.delay,
                            list(a.delays) if a.delays else None,
                            a.conn_use,
                            a.daemon,
                        )
                    )
                    n += 1
            for i, r in enumerate(e.recipients):
                rcpt_rows.append(
                    (
                        e.id,
                        i,
                        _clean(r.address),
                        domain_of(r.address),
                        _clean(r.orig_address),
                        r.status,
                        _clean(r.relay),
                        r.dsn,
                        _clean(r.response),
                        r.attempts,
                        r.at,
                        r.host,
                        r.queue_id,
                        r.delay,
                        e.first_seen,
                        e.host,
                    )
                )
            email_rejects.extend((r, e.id) for r in e.rejects)
        with cur.copy(f"COPY emails ({', '.join(EMAIL_COLUMNS)}) FROM STDIN") as copy:
            copy.write("".join(email_rows))
        self._copy("transactions", TX_COLUMNS, tx_rows)
        self._copy("email_recipients", RCPT_COLUMNS, rcpt_rows)
        self._copy("deliveries", DELIVERY_COLUMNS, del_rows)
        return email_rejects

    def _copy(self, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        if not rows:
            return
        self.stats.rows[table] = self.stats.rows.get(table, 0) + len(rows)
        with self.conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            copy.write("".join([_line(row) for row in rows]))

    def _copy_rejects(self, pairs: list[tuple[Reject, str | None]]) -> None:
        # One row per raw line: a line seen again (a rewritten e-mail) replaces its row.
        unique = {r.seq: (r, email_id) for r, email_id in pairs}
        self.conn.execute("DELETE FROM rejects WHERE seq = ANY(%s)", (list(unique),))
        rows = [
            (
                r.seq,
                email_id,
                r.at,
                r.host,
                r.queue_id,
                r.daemon,
                r.action,
                r.stage,
                r.code,
                r.dsn,
                _clean(r.reason),
                _clean(r.client),
                r.client_ip,
                _clean(r.sender),
                _clean(r.recipient),
                _clean(r.helo),
                r.proto,
            )
            for r, email_id in unique.values()
        ]
        self._copy("rejects", REJECT_COLUMNS, rows)
