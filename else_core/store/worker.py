"""The live ingest worker: raw_events -> parser -> correlator -> search tables.

It follows ``raw_events`` by id (rows rsyslog delivered; imported rows are skipped),
woken by the ingest function's NOTIFY and polling as a fallback. Each batch is one
transaction holding the rows it produced, the new cursor and the pickled correlator
(with the duplicate filter): killed at any instant, the worker restarts from the last
committed batch with exactly the state it had then, so the database ends up the same as
after an uninterrupted run.

Two subtleties:

* Ids are handed out at INSERT time but become visible at COMMIT, so a lower id can
  appear after a higher one. Live ids are dense (imports use their own range and the
  ingest function validates before it inserts), so a gap after the cursor means "a
  transaction is still in flight": the worker stops before it and skips it only when it
  stays for ``gap_wait`` seconds (a rolled-back insert).
* RELP is at-least-once: a line sent again after a reconnect is an exact copy. Copies
  (equal in host, reported time, program, pid and message, within ``dedupe_window``
  seconds of log time) that :mod:`else_core.resend` calls resends are dropped before the
  parser sees them; two real lines that only a whole-second stamp makes equal are kept.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import signal
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

import psycopg
from psycopg import sql

from else_core import resend
from else_core.config import INGEST_DEFAULTS
from else_core.correlate import Correlator
from else_core.db import RAW_CHANNEL, connect
from else_core.errors import ElseError
from else_core.parser import parse
from else_core.records import LogLine
from else_core.store.writer import StoreWriter

log = logging.getLogger("else.ingest")

STATE_NAME = "live"
LOCK_KEY = 0x454C5349  # one worker per database
LOCK_WAIT = 10.0  # seconds to wait for a just-killed worker's lock to be released
# 5: the hot records have written-out (compiled) __init__s and pickle through __reduce__
# 4: the correlator pickles its own field list (its compiled build has no __dict__)
# 3: retry waits, greylisting memory, refused RCPTs per session (2: dirty, aging)
STATE_VERSION = 5


#: What the filter keeps of a line with a whole-second stamp: (copies let through, copies
#: in the current transmission, when the latest copy was received). None for an exact
#: stamp, where every later copy is a resend.
_Copies = tuple[int, int, datetime] | None


@dataclass
class Dedupe:
    """Recently seen lines, evicted by log time: drops the copies that
    :mod:`else_core.resend` calls resends, one copy at a time, in the order of arrival."""

    window: timedelta = timedelta(seconds=300)
    seen: dict[bytes, _Copies] = field(default_factory=dict)
    order: deque[tuple[datetime, bytes]] = field(default_factory=deque)
    dropped: int = 0

    def __setstate__(self, state: dict[str, Any]) -> None:
        # A checkpoint from before transmissions were counted holds a set of keys: each
        # later copy of those is dropped, as it was then.
        if isinstance(state.get("seen"), set):
            state["seen"] = dict.fromkeys(state["seen"])
        self.__dict__.update(state)

    def is_duplicate(self, line: LogLine, received: datetime) -> bool:
        """Whether ``line`` (received by ELSE at ``received``) is a resend to drop."""
        ts = line.ts
        assert ts is not None  # live rows always have a reported time
        key = hashlib.blake2b(
            f"{ts.isoformat()}\x00{line.host}\x00{line.program}\x00{line.pid}\x00"
            f"{line.message}".encode(errors="replace"),
            digest_size=12,
        ).digest()
        horizon = ts - self.window
        order, seen = self.order, self.seen
        while order and order[0][0] < horizon:
            seen.pop(order.popleft()[1], None)
        if key not in seen:
            seen[key] = None if resend.exact(ts) else (1, 1, received)
            order.append((ts, key))
            return False
        copies = seen[key]
        if copies is None:
            self.dropped += 1
            return True
        kept, current, previous = copies
        current = 1 if resend.new_transmission(ts, received, previous) else current + 1
        seen[key] = (max(kept, current), current, received)
        if current <= kept:
            self.dropped += 1
            return True
        return False


@dataclass
class State:
    cursor: int
    correlator: Correlator
    dedupe: Dedupe
    version: int = STATE_VERSION


class Stop(Exception):
    pass


class Worker:
    def __init__(
        self,
        dsn: str,
        batch_size: int = INGEST_DEFAULTS.batch_size,
        poll_interval: float = INGEST_DEFAULTS.poll_interval,
        gap_wait: float = 5.0,
        dedupe_window: float = 300.0,
    ) -> None:
        self.dsn = dsn
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.gap_wait = gap_wait
        self.dedupe_window = timedelta(seconds=dedupe_window)
        self.stopping = False
        self._gap: tuple[int, float] | None = None  # (first missing id, since when)
        self._next_partitions = 0.0
        self.lines = 0
        self.quarantined = 0  # records kept in store_rejects by this process

    # -- state -------------------------------------------------------------------------------

    def load(self, conn: psycopg.Connection) -> State:
        conn.execute(
            "INSERT INTO ingest_state (name) VALUES (%s) ON CONFLICT (name) DO NOTHING",
            (STATE_NAME,),
        )
        row = conn.execute(
            "SELECT cursor, state FROM ingest_state WHERE name = %s", (STATE_NAME,)
        ).fetchone()
        assert row is not None  # inserted just above, in the same transaction
        cursor, blob = row
        if blob is not None:
            try:
                state = pickle.loads(blob)  # noqa: S301 - our own checkpoint, written by this code
            except (pickle.UnpicklingError, TypeError, AttributeError, ValueError):
                state = None  # an older build's classes no longer take it (version 3 and before)
            if isinstance(state, State) and state.version == STATE_VERSION:
                state.cursor = cursor
                return state
            log.warning("checkpoint from another version: starting a new correlator")
        return State(cursor, Correlator(), Dedupe(self.dedupe_window))

    # -- one batch -------------------------------------------------------------------------

    def step(self, conn: psycopg.Connection, state: State) -> int:
        """Process at most one batch; returns the number of raw rows consumed."""
        with conn.transaction():
            rows = conn.execute(
                "SELECT id, received_at, reported_at, host, program, pid, message"
                " FROM raw_events WHERE import_id IS NULL AND id > %s ORDER BY id LIMIT %s",
                (state.cursor, self.batch_size),
            ).fetchall()
            rows = self._contiguous(state.cursor, rows)
            if not rows:
                return 0
            corr, dedupe = state.correlator, state.dedupe
            writer = StoreWriter(conn, supersede=True, source="live")
            for rid, received, reported, host, program, pid, msg in rows:
                ts = reported or received
                # rsyslog's msg keeps the space after "prog[pid]:"
                message = msg[1:] if msg.startswith(" ") else msg
                tag = f"{program}[{pid}]" if pid is not None else program
                raw = f"{ts.isoformat()} {host} {tag}: {message}"
                line = LogLine(rid, ts, host, program, pid, message, raw)
                if dedupe.is_duplicate(line, received):
                    continue
                try:
                    corr.feed(parse(line))
                except Exception as exc:  # one line must not stop ingest
                    writer.line_failed(rid, raw, exc)
            writer.write(corr.drain(), corr.open_snapshots())
            self.quarantined += writer.stats.quarantined
            state.cursor = rows[-1][0]
            conn.execute(
                "UPDATE ingest_state SET cursor = %s, state = %s, lines = lines + %s,"
                " updated_at = now() WHERE name = %s",
                (state.cursor, pickle.dumps(state, protocol=5), len(rows), STATE_NAME),
            )
        self.lines += len(rows)
        return len(rows)

    def _contiguous(self, cursor: int, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """The rows up to the first id gap, unless that gap has outlived ``gap_wait``."""
        expected = cursor + 1
        for i, row in enumerate(rows):
            if row[0] != expected:
                if cursor == 0 and i == 0:
                    expected = row[0] + 1  # a fresh database: start at the first row
                    continue
                now = time.monotonic()
                if self._gap is None or self._gap[0] != expected:
                    self._gap = (expected, now)
                if now - self._gap[1] < self.gap_wait:
                    return rows[:i]
                log.warning("ids %d..%d never appeared: skipping them", expected, row[0] - 1)
                self._gap = None
            expected = row[0] + 1
        return rows

    # -- the service -----------------------------------------------------------------------

    def _lock(self, conn: psycopg.Connection) -> bool:
        """Take the one-worker-per-database lock, waiting up to ``LOCK_WAIT`` seconds.

        A worker killed a moment ago (kill -9, OOM, a crash that systemd restarts) still
        holds the lock until PostgreSQL notices that its connection is gone; giving up
        at once would fail the restart for nothing."""
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            got = conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
            conn.commit()
            if got and got[0]:
                return True
            if time.monotonic() >= deadline or self.stopping:
                return False
            time.sleep(0.2)

    def _signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def run(self, once: bool = False) -> int:
        """Follow raw_events until stopped (or, with ``once``, until caught up)."""
        signal.signal(signal.SIGTERM, self._signal)
        signal.signal(signal.SIGINT, self._signal)
        with connect(self.dsn) as conn, connect(self.dsn, autocommit=True) as listener:
            if not self._lock(conn):
                raise ElseError("another ingest worker is already running on this database")
            listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(RAW_CHANNEL)))
            with conn.transaction():
                state = self.load(conn)
            log.info("ingest worker starting at raw id %d", state.cursor)
            while not self.stopping:
                self._keep_partitions(conn)
                n = self.step(conn, state)
                if n >= self.batch_size:
                    continue
                if once and (n == 0 and self._gap is None):
                    break
                if n == 0 or self._gap is not None:
                    self._wait(listener)
        return 0

    def _wait(self, listener: psycopg.Connection) -> None:
        deadline = time.monotonic() + (
            min(self.poll_interval, 0.5) if self._gap else self.poll_interval
        )
        while not self.stopping:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            for _ in listener.notifies(timeout=min(left, 0.5), stop_after=1):
                return

    def _keep_partitions(self, conn: psycopg.Connection) -> None:
        now = time.monotonic()
        if now >= self._next_partitions:
            with conn.transaction():
                conn.execute("SELECT else_raw_partitions_ahead(7)")
            self._next_partitions = now + 3600
