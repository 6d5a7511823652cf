"""Write e-mails and rejects into the search tables, one e-mail as a whole at a time.

Every write of an e-mail replaces what was stored under its id (and under the ids it
absorbed in a merge), so provisional snapshots of open e-mails, their final versions,
a re-run after a crash and an import of a day the live worker also saw all converge on
one row set per e-mail. Rows go in with COPY; the caller owns the transaction.

No single record can stop the caller: values of btree-indexed columns are bounded
(else_core.store.keys), and a batch PostgreSQL still refuses is rolled back to a
savepoint and written again one record at a time; a record that fails alone is kept in
``store_rejects`` with the reason (its raw lines stay in raw_events) and counted.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg import sql

from else_core.db import is_connection_error
from else_core.model import Email, Reject
from else_core.store.keys import host_key, index_key

log = logging.getLogger("else.store")

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
    "subject",  # migration m0009: only when the postfix role logs it
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
    return index_key(address.rpartition("@")[2].lower() or None)


def direction_of(email: Email) -> str:
    """Outgoing when the root came from an authenticated client or local submission."""
    root = email.transactions[0] if email.transactions else None
    if email.sasl_username or (root is not None and root.origin == "pickup"):
        return "outgoing"
    if email.client_ip in _LOCAL_IPS and root is not None and root.origin == "smtpd":
        return "outgoing"
    return "incoming"


# COPY text format, formatted by hand: psycopg's per-value adaptation (write_row) costs
# more than correlating the e-mail did. PostgreSQL text cannot hold NUL (the reader
# passes NULs through), so NUL becomes U+FFFD here.
_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\x00": "\ufffd"})


def copy_text(v: str) -> str:
    """A text value in COPY's text format.

    Tab, newline, CR and NUL are not printable, so a printable value without a backslash
    needs nothing: two C-level checks, 3x cheaper than the regex search they replace, and
    this runs for every text value of every row (~3 per raw line, ~60 per e-mail)."""
    return v if v.isprintable() and "\\" not in v else v.translate(_ESCAPE)


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
    if isinstance(v, str):
        return copy_text(v)
    t = type(v)
    if t is bool:
        return "t" if v else "f"
    if t is int or t is float:  # exact types: bool is an int too
        return repr(v)
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, list | tuple):
        return _field("{" + ",".join(_element(x) for x in v) + "}")
    return _field(str(v))


def copy_statement(table: str, columns: tuple[str, ...]) -> sql.Composed:
    """``COPY table (columns) FROM STDIN`` with the names quoted as identifiers."""
    return sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )


def _line(values: tuple[object, ...]) -> str:
    return "\t".join([_field(v) for v in values]) + "\n"


def _t(v: str | None) -> str:
    """A nullable text value for COPY."""
    if v is None:
        return "\\N"
    return v if v.isprintable() and "\\" not in v else v.translate(_ESCAPE)  # copy_text


def _n(v: object) -> str:
    """A nullable number (or a value already in COPY text form) for COPY."""
    return "\\N" if v is None else str(v)


def _ts(v: datetime | None) -> str:
    return "\\N" if v is None else v.isoformat()


def _numbers(v: list[int] | list[float] | tuple[float, ...] | None) -> str:
    """A nullable array of numbers (raw ids, delays) for COPY."""
    if v is None:
        return "\\N"
    if None in v:
        return "{" + ",".join("NULL" if x is None else str(x) for x in v) + "}"
    return "{" + ",".join(map(str, v)) + "}"


def _format_emails(
    emails: list[Email],
) -> tuple[list[str], list[str], list[str], list[str], list[tuple[Reject, str | None]]]:
    """The COPY lines of e-mails and their children, formatted by hand per column type.

    This is the writer's hot path (about 100 values per e-mail): each column's type is
    known, so no per-value type dispatch; indexed text is bounded by index_key."""
    email_rows: list[str] = []
    tx_rows: list[str] = []
    rcpt_rows: list[str] = []
    del_rows: list[str] = []
    email_rejects: list[tuple[Reject, str | None]] = []
    for e in emails:
        eid = e.id
        host = _t(host_key(e.host))
        first = _ts(e.first_seen)
        qids = list(dict.fromkeys(index_key(t.queue_id) for t in e.transactions))
        email_rows.append(
            f"{eid}\t{_t(index_key(e.message_id))}\t{host}\t{_t(index_key(e.sender))}\t"
            f"{_t(domain_of(e.sender))}\t{_n(e.size)}\t{_t(index_key(e.client))}\t"
            f"{_t(index_key(e.client_ip))}\t{_t(index_key(e.helo))}\t"
            f"{_t(index_key(e.sasl_username))}\t{first}\t{_ts(e.last_seen)}\t{_t(e.status)}\t"
            f"{'t' if e.complete else 'f'}\t{direction_of(e)}\t{len(e.recipients)}\t"
            f"{_field(qids)}\t{_t(_dumps(e.to_dict(detail=True)))}\t{_t(index_key(e.subject))}\n"
        )
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
                    f"{_t(a.dsn)}\t{_t(a.response)}\t{_n(a.delay)}\t"
                    f"{_numbers(a.delays or None)}\t{_n(a.conn_use)}\t{_t(a.daemon)}\n"
                )
                n += 1
        for i, r in enumerate(e.recipients):
            rcpt_rows.append(
                f"{eid}\t{i}\t{_t(index_key(r.address))}\t{_t(domain_of(r.address))}\t"
                f"{_t(index_key(r.orig_address))}\t{_t(r.status)}\t{_t(index_key(r.relay))}\t"
                f"{_t(index_key(r.dsn))}\t{_t(r.response)}\t{_n(r.attempts)}\t{_ts(r.at)}\t"
                f"{_t(r.host)}\t{_t(r.queue_id)}\t{_n(r.delay)}\t{first}\t{host}\n"
            )
        email_rejects.extend((r, eid) for r in e.rejects)
    return email_rows, tx_rows, rcpt_rows, del_rows, email_rejects


COPY_CHUNK_ROWS = 200


def _write_chunked(copy: psycopg.Copy, lines: list[str]) -> None:
    """Send COPY lines in pieces of a few hundred kB, not one string of the whole batch:
    joined batches of 5-15 MB, freed in another thread than the parser's, made glibc
    keep ever more memory (peak RSS grew with the length of an import)."""
    for i in range(0, len(lines), COPY_CHUNK_ROWS):
        copy.write("".join(lines[i : i + COPY_CHUNK_ROWS]))


@dataclass(slots=True)
class WriteStats:
    emails: int = 0
    rejects: int = 0
    deleted: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    quarantined: int = 0  # records kept in store_rejects

    def copy(self) -> WriteStats:
        return WriteStats(
            self.emails, self.rejects, self.deleted, dict(self.rows), self.quarantined
        )


class StoreWriter:
    """Replaces e-mails and inserts rejects inside the caller's transaction."""

    def __init__(
        self,
        conn: psycopg.Connection,
        supersede: bool = False,
        source: str = "live",
        import_id: int | None = None,
    ) -> None:
        """``supersede``: also replace stored e-mails that hold one of the written
        e-mails' transactions under another id (an open snapshot whose id changed as
        the e-mail grew); the live worker needs it, a one-pass import does not.
        ``source``/``import_id`` label what goes to store_rejects."""
        self.conn = conn
        self.supersede = supersede
        self.source = source
        self.import_id = import_id
        self.stats = WriteStats()
        self._failed_lines: list[tuple[int, str, str]] = []

    def line_failed(self, seq: int, text: str, exc: Exception) -> None:
        """A line the parser or correlator choked on: kept at the next :meth:`write`
        (the caller may be in the middle of a COPY now)."""
        log.warning("line %d could not be read: %s: %s", seq, type(exc).__name__, exc)
        self._failed_lines.append((seq, text, f"{type(exc).__name__}: {exc}"))

    def write(self, records: Iterable[Email | Reject], snapshots: Iterable[Email] = ()) -> None:
        """Write a batch; a batch PostgreSQL refuses is retried record by record."""
        records, snapshots = list(records), list(snapshots)
        if self._failed_lines:
            for seq, text, reason in self._failed_lines:
                self._keep("line", None, [seq], reason, None, text)
            self._failed_lines.clear()
        if not records and not snapshots:
            return
        saved = self.stats.copy()
        try:
            with self.conn.transaction():  # a savepoint: the caller owns the transaction
                self._write(records, snapshots)
            return
        except Exception as exc:  # any per-row failure, see _refused
            self._refused(exc)
            self.stats = saved
        ids = {r.id for r in records if isinstance(r, Email)}
        units: list[tuple[list[Email | Reject], list[Email]]] = [([r], []) for r in records]
        units += [([], [s]) for s in snapshots if s.id not in ids]
        for recs, snaps in units:
            saved = self.stats.copy()
            try:
                with self.conn.transaction():
                    self._write(recs, snaps)
            except Exception as exc:
                self._refused(exc)
                self.stats = saved
                self._quarantine((recs or snaps)[0], exc)

    def _refused(self, exc: Exception) -> None:
        """Re-raise what is not about the rows (a lost connection, an interrupt)."""
        if is_connection_error(exc) or self.conn.closed or self.conn.broken:
            raise exc

    def _quarantine(self, rec: Email | Reject, exc: Exception) -> None:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        if not isinstance(exc, psycopg.Error):
            reason = f"{type(exc).__name__}: {reason}"
        sqlstate = exc.sqlstate if isinstance(exc, psycopg.Error) else None
        if isinstance(rec, Email):
            raw_ids = sorted({s for t in rec.transactions for s in t.seqs})
            self._keep("email", rec.id, raw_ids, reason, sqlstate, _dumps(rec.to_dict(True)))
        else:
            self._keep("reject", None, [rec.seq], reason, sqlstate, _dumps(rec.to_dict()))
        what = f"e-mail {rec.id}" if isinstance(rec, Email) else f"reject of line {rec.seq}"
        log.warning("could not store %s: %s", what, reason)

    def _keep(  # noqa: PLR0913 - one argument per store_rejects column
        self,
        kind: str,
        email_id: str | None,
        raw_ids: list[int],
        reason: str,
        sqlstate: str | None,
        record: str,
    ) -> None:
        self.conn.execute(
            "INSERT INTO store_rejects (source, import_id, kind, email_id, raw_ids, reason,"
            " sqlstate, record) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (
                self.source,
                self.import_id,
                kind,
                email_id,
                raw_ids,
                reason,
                sqlstate,
                record.replace("\x00", "\ufffd"),
            ),
        )
        self.stats.quarantined += 1

    def _write(self, records: list[Email | Reject], snapshots: list[Email]) -> None:
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
            for t in e.transactions:  # as stored: bounded keys
                hosts.append(host_key(t.host))
                qids.append(index_key(t.queue_id))
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
        # prepare=False: psycopg prepares a statement run 5 times, and the generic plan of
        # "= ANY($1)" compares each row with every element. Planned with the batch's
        # ids as a constant, a sequential scan (rejects, small or never analyzed during
        # a first import) looks them up in a hash: on the dense 1M-line import this
        # DELETE took 0.3 s per batch, growing with the table, and is now ~1 ms.
        cur = self.conn.cursor()
        for table in CHILD_TABLES:
            cur.execute(
                sql.SQL("DELETE FROM {} WHERE email_id = ANY(%s)").format(sql.Identifier(table)),
                (ids,),
                prepare=False,
            )
        cur.execute("DELETE FROM emails WHERE id = ANY(%s)", (ids,), prepare=False)
        self.stats.deleted += cur.rowcount

    def _copy_emails(self, emails: list[Email]) -> list[tuple[Reject, str | None]]:
        """COPY the e-mails and their children; returns their rejects for the caller."""
        email_rows, tx_rows, rcpt_rows, del_rows, email_rejects = _format_emails(emails)
        with self.conn.cursor().copy(copy_statement("emails", EMAIL_COLUMNS)) as cp:
            _write_chunked(cp, email_rows)
        self._copy_lines("transactions", TX_COLUMNS, tx_rows)
        self._copy_lines("email_recipients", RCPT_COLUMNS, rcpt_rows)
        self._copy_lines("deliveries", DELIVERY_COLUMNS, del_rows)
        return email_rejects

    def _copy_lines(self, table: str, columns: tuple[str, ...], lines: list[str]) -> None:
        if not lines:
            return
        self.stats.rows[table] = self.stats.rows.get(table, 0) + len(lines)
        with self.conn.cursor().copy(copy_statement(table, columns)) as copy:
            _write_chunked(copy, lines)

    def _copy(
        self, table: str, columns: tuple[str, ...], rows: Sequence[tuple[object, ...]]
    ) -> None:
        if not rows:
            return
        self.stats.rows[table] = self.stats.rows.get(table, 0) + len(rows)
        with self.conn.cursor().copy(copy_statement(table, columns)) as copy:
            copy.write("".join([_line(row) for row in rows]))

    def _copy_rejects(self, pairs: list[tuple[Reject, str | None]]) -> None:
        # One row per raw line: a line seen again (a rewritten e-mail) replaces its row.
        unique = {r.seq: (r, email_id) for r, email_id in pairs}
        self.conn.execute(
            "DELETE FROM rejects WHERE seq = ANY(%s)", (list(unique),), prepare=False
        )  # prepare=False: see _delete
        rows = [
            (
                r.seq,
                email_id,
                r.at,
                host_key(r.host),
                index_key(r.queue_id),
                r.daemon,
                r.action,
                r.stage,
                r.code,
                r.dsn,
                r.reason,
                index_key(r.client),
                index_key(r.client_ip),
                index_key(r.sender),
                index_key(r.recipient),
                index_key(r.helo),
                r.proto,
            )
            for r, email_id in unique.values()
        ]
        self._copy("rejects", REJECT_COLUMNS, rows)
