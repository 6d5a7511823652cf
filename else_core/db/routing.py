"""Reads from a hot standby, writes to the primary: the frontend's two databases.

In the split layout (docs/scale.md) the WUI runs on a frontend host whose PostgreSQL is a
streaming-replication standby of the backend's primary. Searches and reports read the
standby (local, and they never load the backend); what the WUI writes (accounts, saved
searches, history, audit, queue actions, alert acknowledgements) must go to the primary,
since a standby refuses every write.

A standby replays the primary's changes a little later (docs/scale.md: tens of ms, more under
load), so a page read right after a write (the saved search, the new user, the acknowledged
alert) could show the old state. The WUI therefore remembers, per session, the primary's WAL
position after its writes (:func:`wal_position`) and, for :data:`READ_YOUR_WRITES_SECONDS`,
reads through the primary whenever the standby has not replayed that far (``read(after=)``).

When the primary cannot be reached the standby still answers: the WUI keeps serving
searches and says it is read-only, and a write is refused with :class:`ReadOnly` (a clear
message, not a 500). When the standby is missing, reads fall back to the primary. A failed
connection to the primary is remembered for ``recheck`` seconds in the split layout, so a
backend that is down (whose connection attempts may each wait for a timeout) does not slow
every page.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import psycopg

from else_core.db import connect
from else_core.errors import ServiceUnavailable

#: Seconds a failed primary is believed down before the next attempt.
RECHECK_SECONDS = 10.0
#: Seconds a connection attempt to the primary may take (it may be a whole host away).
PRIMARY_TIMEOUT = 3
#: Seconds after a session's last write during which its reads check the standby's replay.
READ_YOUR_WRITES_SECONDS = 60.0


class ReadOnly(ServiceUnavailable):
    """A write was asked while the primary is unreachable (the standby still serves reads)."""


@dataclass(slots=True)
class Routes:
    """Where the frontend reads and writes; one per process, shared by its threads.

    ``standby_dsn`` empty means a single database (the one-host layout): reads and writes
    both go to ``primary_dsn``.
    """

    primary_dsn: str
    standby_dsn: str = ""
    recheck: float = RECHECK_SECONDS
    _down_until: float = 0.0
    _up_until: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def split(self) -> bool:
        return bool(self.standby_dsn) and self.standby_dsn != self.primary_dsn

    def _mark(self, up: bool) -> None:
        with self._lock:
            now = time.monotonic()
            self._down_until = 0.0 if up else now + self.recheck
            self._up_until = now + self.recheck if up else 0.0

    def believed_down(self) -> bool:
        """Whether a recent attempt to reach the primary failed (no new attempt is made)."""
        with self._lock:
            return time.monotonic() < self._down_until

    def read(self, after: str | None = None) -> psycopg.Connection:
        """A connection for queries: the standby, else the primary (autocommit).

        ``after``: a WAL position this reader wrote up to (:func:`wal_position`). While the
        standby has not replayed it, the primary answers instead, so the reader sees its own
        write; if the primary is down meanwhile, the standby's older state is still better
        than no answer.
        """
        if self.split:
            try:
                conn = connect(self.standby_dsn, autocommit=True)
            except ServiceUnavailable:
                return self.write()  # no standby (yet, or rebuilding): the primary reads too
            if after is None or replayed(conn, after):
                return conn
            try:
                primary = self.write()
            except ReadOnly:
                return conn
            conn.close()
            return primary
        return self.write()

    def write(self) -> psycopg.Connection:
        """A connection to the primary (autocommit), or :class:`ReadOnly` when it is down.

        With one database (not split) every request tries again, as before the split.
        """
        if self.split and self.believed_down():
            raise ReadOnly(self._message())
        if not self.split:  # one database: its own error, as before the split
            return connect(self.primary_dsn, autocommit=True)
        try:
            conn = connect(self.primary_dsn, autocommit=True, connect_timeout=PRIMARY_TIMEOUT)
        except ServiceUnavailable:
            self._mark(up=False)
            raise ReadOnly(self._message()) from None
        self._mark(up=True)
        return conn

    def primary_up(self) -> bool:
        """Whether the primary answered in the last ``recheck`` seconds, else whether it
        answers now (what the read-only banner shows, without a connection per page)."""
        with self._lock:
            now = time.monotonic()
            if now < self._up_until:
                return True
            if now < self._down_until:
                return False
        try:
            self.write().close()
        except ServiceUnavailable:  # ReadOnly, or the one database's own error
            return False
        return True

    def _message(self) -> str:
        return (
            "the backend database is unreachable: ELSE is read-only for now"
            " (searches and reports still work; changes are refused until it is back)"
        )


def replay_lag(conn: psycopg.Connection) -> float | None:
    """Seconds since the last replayed transaction on a standby (None on a primary).

    It grows while the primary is idle too (nothing to replay): read it while mail flows.
    """
    row = conn.execute(
        "SELECT CASE WHEN pg_is_in_recovery()"
        " THEN EXTRACT(epoch FROM now() - pg_last_xact_replay_timestamp()) END"
    ).fetchone()
    return None if row is None or row[0] is None else float(row[0])


def in_recovery(conn: psycopg.Connection) -> bool:
    """Whether ``conn`` is a standby."""
    row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    return bool(row and row[0])


def wal_position(conn: psycopg.Connection) -> str | None:
    """The primary's current WAL position (``pg_lsn`` text), None if it cannot be read."""
    try:
        row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    except psycopg.Error:
        return None
    return None if row is None else str(row[0])


def replayed(conn: psycopg.Connection, lsn: str) -> bool:
    """Whether the standby behind ``conn`` has replayed up to ``lsn``. A server that is not
    in recovery (a promoted standby, or the primary itself) has everything; a position that
    is not one (a tampered session) counts as replayed rather than failing the page."""
    try:
        row = conn.execute(
            "SELECT COALESCE(pg_last_wal_replay_lsn() >= %s::pg_lsn, true)", (lsn,)
        ).fetchone()
    except psycopg.DataError:  # class 22: not a pg_lsn
        return True
    return bool(row and row[0])
