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

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from else_core.db import is_connection_error
from else_core.model import Email, Reject
from else_core.store.copyfmt import Rows, dumps, format_emails, format_rejects
from else_core.store.keys import host_key, index_key

log = logging.getLogger("else.store")

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


def copy_statement(table: str, columns: tuple[str, ...], binary: bool = False) -> sql.Composed:
    """``COPY table (columns) FROM STDIN`` with the names quoted as identifiers, in the
    text format or (``binary``) the binary one."""
    return sql.SQL("COPY {} ({}) FROM STDIN{}").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(" (FORMAT binary)" if binary else ""),
    )


#: E-mails formatted per call of the compiled formatter. Compiled code never lets another
#: thread take the GIL, so one call for a whole batch (~100 ms) kept an import's database
#: thread from starting its next statement, and PostgreSQL sat idle meanwhile.
FORMAT_SLICE = 8


@dataclass(slots=True)
class Batch:
    """A batch made ready for the database: its records sorted, its rows formatted.

    :func:`prepare` needs no connection, so an import makes the next batch in its
    parsing thread while the database thread stores this one."""

    records: list[Email | Reject]
    snapshots: list[Email]
    emails: dict[str, Email]
    rejects: list[Reject]
    gone: set[str]  # ids absorbed by a merge, stored rows to replace
    rows: Rows
    reject_seqs: list[int]


def prepare(records: Iterable[Email | Reject], snapshots: Iterable[Email] = ()) -> Batch:
    """Sort and format a batch; the last version of an e-mail wins, a record over a
    snapshot of the same e-mail."""
    records, snapshots = list(records), list(snapshots)
    emails: dict[str, Email] = {}
    rejects: list[Reject] = []
    for rec in records:
        if isinstance(rec, Email):
            emails[rec.id] = rec
        else:
            rejects.append(rec)
    for snap in snapshots:
        emails.setdefault(snap.id, snap)
    gone: set[str] = set()
    for email in emails.values():
        gone.update(email.merged_ids)
    gone -= emails.keys()
    listed = list(emails.values())
    rows = Rows()
    for i in range(0, len(listed), FORMAT_SLICE):
        format_emails(listed[i : i + FORMAT_SLICE], rows)
    reject_seqs = format_rejects(listed, rejects, rows)
    return Batch(records, snapshots, emails, rejects, gone, rows, reject_seqs)


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
        self.write_batch(prepare(records, snapshots))

    def write_batch(self, batch: Batch) -> None:
        """Write a batch :func:`prepare` made (in any thread)."""
        if self._failed_lines:
            for seq, text, reason in self._failed_lines:
                self._keep("line", None, [seq], reason, None, text)
            self._failed_lines.clear()
        if not batch.emails and not batch.rejects:
            return
        saved = self.stats.copy()
        try:
            with self.conn.transaction():  # a savepoint: the caller owns the transaction
                self._store(batch)
            return
        except Exception as exc:  # any per-row failure, see _refused
            self._refused(exc)
            self.stats = saved
        ids = {r.id for r in batch.records if isinstance(r, Email)}
        units: list[tuple[list[Email | Reject], list[Email]]] = [([r], []) for r in batch.records]
        units += [([], [s]) for s in batch.snapshots if s.id not in ids]
        for recs, snaps in units:
            saved = self.stats.copy()
            try:
                with self.conn.transaction():
                    self._store(prepare(recs, snaps))
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
            self._keep("email", rec.id, raw_ids, reason, sqlstate, dumps(rec.to_dict(True)))
        else:
            self._keep("reject", None, [rec.seq], reason, sqlstate, dumps(rec.to_dict()))
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

    def _store(self, batch: Batch) -> None:
        gone = set(batch.gone)
        if self.supersede and batch.emails:
            gone.update(self._holders(list(batch.emails.values())))
            gone -= batch.emails.keys()
        if batch.emails or gone:
            self._delete([*batch.emails, *gone])
        rows = batch.rows
        if batch.emails:
            self._copy_lines("emails", EMAIL_COLUMNS, rows.emails)
            self._copy_lines("transactions", TX_COLUMNS, rows.transactions)
            self._copy_lines("email_recipients", RCPT_COLUMNS, rows.recipients)
            self._copy_lines("deliveries", DELIVERY_COLUMNS, rows.deliveries)
        if rows.rejects:
            # One row per raw line: a line seen again (a rewritten e-mail) replaces its row.
            # prepare=False: see _delete.
            self.conn.execute(
                "DELETE FROM rejects WHERE seq = ANY(%s)", (batch.reject_seqs,), prepare=False
            )
            self._copy_lines("rejects", REJECT_COLUMNS, rows.rejects)
        self.stats.emails += len(batch.emails)
        self.stats.rejects += len(batch.rejects)

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
        """Remove the stored rows of e-mails about to be written again.

        Only e-mails already in ``emails`` have rows anywhere (children are written and
        pruned with their e-mail), so the primary key finds them first; usually none
        are (an import of new logs), and no child table is read at all. The child
        DELETEs used to run for every batch: their ``email_id = ANY(...)`` of a thousand
        ids, estimated without statistics inside an import's transaction, planned as a
        sequential scan, so each batch read every child row stored so far and an import
        slowed down with its own length (15M rows read for a 1M-line log).

        prepare=False throughout: psycopg prepares a statement run 5 times, and the
        generic plan of "= ANY($1)" compares each row with every element."""
        cur = self.conn.cursor()
        cur.execute("SELECT id FROM emails WHERE id = ANY(%s)", (ids,), prepare=False)
        stored = [row[0] for row in cur.fetchall()]
        if not stored:
            return
        for table in CHILD_TABLES:
            cur.execute(
                sql.SQL("DELETE FROM {} WHERE email_id = ANY(%s)").format(sql.Identifier(table)),
                (stored,),
                prepare=False,
            )
        cur.execute("DELETE FROM emails WHERE id = ANY(%s)", (stored,), prepare=False)
        self.stats.deleted += cur.rowcount

    def _copy_lines(self, table: str, columns: tuple[str, ...], lines: list[str]) -> None:
        if not lines:
            return
        self.stats.rows[table] = self.stats.rows.get(table, 0) + len(lines)
        with self.conn.cursor().copy(copy_statement(table, columns)) as copy:
            _write_chunked(copy, lines)
