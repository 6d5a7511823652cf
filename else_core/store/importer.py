"""Bulk import of existing log files: raw lines by COPY, e-mails through the correlator.

The same parser and correlator as the live worker, fed in time order across a rotated
set. One import runs in one transaction: it lands whole or not at all, and each file's
content fingerprint is recorded with it, so importing the same file again is a no-op.
Raw lines are tagged with their import so the live worker does not correlate them a
second time; their ids come from a sequence of their own (far above live ids, which
stay dense for the worker), so "the lines behind an e-mail" work the same for
imported and live mail.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import IO, Any

import psycopg

from else_core.correlate import Correlator
from else_core.envelope import (
    ClassicClock,
    EnvelopeParser,
    resolve_tz,
)
from else_core.errors import ElseError
from else_core.parser import parse
from else_core.reader import (
    READ_ERRORS,
    ReadStats,
    guess_year,
    open_positioned,
    order_files,
    text_of,
)
from else_core.store import rawcopy, rollups
from else_core.store.writer import Batch, StoreWriter, copy_statement, prepare

BATCH_LINES = 20000
CHUNK_LINES = 1000
ID_BLOCK = 100000
QUEUE_DEPTH = 24  # chunks of raw lines / batches of records queued for the database thread
#: The GIL switch interval while importing (Python's default is 5 ms). The database thread
#: wakes from each wait on PostgreSQL (a COPY ended, a socket buffer drained) and must win
#: the GIL back from the parsing thread before it sends more: at 5 ms a turn the server sat
#: idle a quarter of an import, at 0.5 ms 11-14% of it, at 0.1 ms 6-7% (the parsing
#: thread's CPU time unchanged; 30 µs gained nothing more).
SWITCH_INTERVAL = 0.0001


@dataclass(slots=True)
class FileResult:
    path: str
    lines: int = 0
    skipped: bool = False


@dataclass(slots=True)
class ImportResult:
    files: list[FileResult] = field(default_factory=list)
    stats: ReadStats = field(default_factory=ReadStats)
    emails: int = 0
    rejects: int = 0
    quarantined: int = 0  # records kept in store_rejects
    seconds: float = 0.0

    @property
    def lines(self) -> int:
        return sum(f.lines for f in self.files)

    def summary(self) -> str:
        done = [f for f in self.files if not f.skipped]
        skipped = len(self.files) - len(done)
        rate = self.lines / self.seconds if self.seconds > 0 else 0.0
        text = (
            f"imported {len(done)} file(s): {self.lines} lines, {self.emails} e-mails, "
            f"{self.rejects} rejects in {self.seconds:.1f} s ({rate:,.0f} lines/s)"
        )
        if skipped:
            text += f"; {skipped} already imported, skipped"
        if self.quarantined:
            text += (
                f"; {self.quarantined} record(s) could not be stored,"
                " kept in store_rejects with the reason"
            )
        return text


# -- files -------------------------------------------------------------------------------


def fingerprint(path: str) -> str:
    """SHA-256 of the file's bytes: the same content under any name is the same file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


# -- import -------------------------------------------------------------------------------


class _Ids:
    """Raw-event ids from the import range (raw_import_id_seq), reserved in blocks.

    A block is one nextval plus a setval under an advisory lock, so two concurrent
    imports never interleave inside each other's block and ids stay contiguous."""

    LOCK = 0x454C5350

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def reserve(self, n: int) -> int:
        """The first id of a block of ``n`` consecutive ids."""
        conn = self.conn
        conn.execute("SELECT pg_advisory_lock(%s)", (self.LOCK,))
        try:
            row = conn.execute("SELECT nextval('raw_import_id_seq')").fetchone()
            assert row is not None  # nextval always returns a row
            start = int(row[0])
            conn.execute("SELECT setval('raw_import_id_seq', %s)", (start + n - 1,))
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (self.LOCK,))
        return start


class Progress:
    """A one-line progress bar on stderr (only on a terminal)."""

    def __init__(self, total_bytes: int, stream: IO[str] | None = None) -> None:
        self.total = max(total_bytes, 1)
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self.start = time.monotonic()
        self.last = 0.0

    def update(self, done_bytes: int, lines: int, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self.last < 0.5:
            return
        self.last = now
        elapsed = max(now - self.start, 1e-6)
        frac = min(done_bytes / self.total, 1.0)
        eta = elapsed * (1 - frac) / frac if frac > 0 else 0.0
        width = 30
        bar = "#" * int(frac * width)
        self.stream.write(
            f"\r[{bar:<{width}}] {frac * 100:5.1f}% {lines:,} lines "
            f"{lines / elapsed:,.0f} lines/s ETA {int(eta) // 60}:{int(eta) % 60:02d} "
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


class _Sink:
    """The import's database side, in a thread of its own.

    The parser and correlator keep running while PostgreSQL stores the previous batch:
    raw lines stream into an open COPY, and each batch of correlated records, already
    formatted by the parsing thread (:func:`prepare`), is written by the same thread, in
    order, on the same connection and transaction. This thread holds the GIL only to
    hand text to libpq, so on two cores the server's work (index upkeep, rollup
    triggers) overlaps with parsing and formatting instead of adding to them: when this
    thread formatted the batches itself, the server sat idle while it did, and wall time
    was the client's CPU plus the server's. The main thread touches the connection only
    after :meth:`sync`. A database error stops the thread's work; the main thread raises
    it at its next call.
    """

    def __init__(self, conn: psycopg.Connection, writer: StoreWriter, ids: _Ids) -> None:
        self.conn = conn
        self.writer = writer
        self.ids = ids
        self.error: BaseException | None = None
        self._q: queue.Queue[tuple[int, Any]] = queue.Queue(maxsize=QUEUE_DEPTH)
        self._copy: list[Any] = []  # [context manager, Copy] while a raw COPY is open
        self._copy_sql = copy_statement("raw_events", rawcopy.COLUMNS, binary=True)
        self._thread = threading.Thread(target=self._run, name="else-import-db", daemon=True)
        self._thread.start()

    # -- main thread ---------------------------------------------------------------------

    def _put(self, kind: int, arg: Any) -> None:
        if self.error is not None:
            raise self.error
        self._q.put((kind, arg))

    def raw(self, rows: bytes) -> None:
        """Raw lines as binary COPY rows (:mod:`else_core.store.rawcopy`), in order."""
        self._put(_RAW, rows)

    def partition(self, day: int) -> None:
        """Make the raw partition of a UTC day (ordinal) before its lines."""
        self._put(_PARTITION, day)

    def write(self, batch: Batch, failed: list[tuple[int, str, Exception]]) -> None:
        """A prepared batch of records and the lines the parser/correlator raised on."""
        self._put(_WRITE, (batch, failed))

    def reserve(self) -> Future[int]:
        """The first id of a new block of ID_BLOCK ids, when the thread gets to it."""
        fut: Future[int] = Future()
        self._put(_RESERVE, fut)
        return fut

    def sync(self) -> None:
        """Wait until everything queued is stored; the connection is the caller's then."""
        self._q.join()
        if self.error is not None:
            raise self.error
        self._close_copy()

    def close(self) -> None:
        """Stop the thread (an open COPY is ended with an error unless synced first)."""
        self._q.put((_STOP, None))
        self._thread.join()

    # -- database thread -----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            kind, arg = self._q.get()
            try:
                if kind == _STOP:
                    self._abort_copy(ElseError("import stopped"))
                    return
                if self.error is None:
                    self._do(kind, arg)
                elif kind == _RESERVE:
                    arg.set_exception(self.error)
            except BaseException as exc:  # handed to the main thread
                self.error = exc
                self._abort_copy(exc)
                if kind == _RESERVE and not arg.done():
                    arg.set_exception(exc)
            finally:
                self._q.task_done()

    def _do(self, kind: int, arg: Any) -> None:
        if kind == _RAW:
            if not self._copy:
                cm = self.conn.cursor().copy(self._copy_sql)
                self._copy.extend((cm, cm.__enter__()))
                self._copy[1].write(rawcopy.SIGNATURE)
            self._copy[1].write(arg)
            return
        self._close_copy()
        if kind == _PARTITION:
            self.conn.execute("SELECT else_raw_partition(%s)", (date.fromordinal(arg),))
        elif kind == _WRITE:
            batch, failed = arg
            for seq, text, exc in failed:
                self.writer.line_failed(seq, text, exc)
            self.writer.write_batch(batch)
        elif kind == _RESERVE:
            arg.set_result(self.ids.reserve(ID_BLOCK))

    def _close_copy(self) -> None:
        if self._copy:
            cm = self._copy[0]
            self._copy.clear()
            cm.__exit__(None, None, None)

    def _abort_copy(self, exc: BaseException) -> None:
        """End an open COPY with ``exc``, so the connection can roll back."""
        if self._copy:
            cm = self._copy[0]
            self._copy.clear()
            with contextlib.suppress(Exception):
                cm.__exit__(type(exc), exc, exc.__traceback__)


_RAW, _PARTITION, _WRITE, _RESERVE, _STOP = range(5)


def import_files(  # noqa: PLR0913 - the public entry point: keyword options of the command
    conn: psycopg.Connection,
    paths: list[str],
    year: int | None = None,
    host_tz: str | tzinfo | None = None,
    host: str | None = None,
    progress_stream: IO[str] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import ``paths`` in one transaction on ``conn``; returns counts for the summary."""
    started = time.monotonic()
    tz = host_tz if isinstance(host_tz, tzinfo) else resolve_tz(host_tz)
    result = ImportResult()
    ordered = order_files(paths, year, tz)
    prints = {path: fingerprint(path) for path, _ in ordered}
    total = sum(os.path.getsize(p) for p, _ in ordered)
    progress = Progress(total, progress_stream)
    corr = Correlator()
    conn.autocommit = False
    with _switch_interval(SWITCH_INTERVAL), conn.transaction():
        rollups.defer(conn)
        writer = StoreWriter(conn, source="import")
        sink = _Sink(conn, writer, _Ids(conn))
        run = _ImportRun(conn, tz, host, corr, writer, sink, result, progress, on_batch)
        try:
            _import_all(run, ordered, prints)
        finally:
            sink.close()
        rollups.apply(conn)
        result.emails = writer.stats.emails
        result.rejects = writer.stats.rejects
        result.quarantined = writer.stats.quarantined
    progress.update(total, result.lines, force=True)
    progress.close()
    result.seconds = time.monotonic() - started
    return result


@contextlib.contextmanager
def _switch_interval(seconds: float) -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(seconds)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


@dataclass
class _ImportRun:
    """What every file of one `elsectl import` shares: the connection, the correlator and
    the database thread, the counters, and how far the run has come."""

    conn: psycopg.Connection
    tz: tzinfo
    host: str | None  # --host: the host name every line is filed under
    corr: Correlator
    writer: StoreWriter
    sink: _Sink
    result: ImportResult
    progress: Progress
    on_batch: Callable[[int], None] | None
    days: set[int] = field(default_factory=set)  # UTC days (ordinals) with a partition
    done_bytes: int = 0  # of the files before the current one


def _import_all(
    run: _ImportRun, ordered: list[tuple[str, int | None]], prints: dict[str, str]
) -> None:
    """Every file in time order, then what the correlator still holds at the end."""
    conn, host, sink, result = run.conn, run.host, run.sink, run.result
    for path, file_year in ordered:
        fres = FileResult(path)
        result.files.append(fres)
        sink.sync()
        row = conn.execute(
            "INSERT INTO import_files (fingerprint, path, size, host) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (fingerprint) DO NOTHING RETURNING id",
            (prints[path], os.path.abspath(path), os.path.getsize(path), host),
        ).fetchone()
        if row is None:
            fres.skipped = True
            run.done_bytes += os.path.getsize(path)
            continue
        import_id = row[0]
        run.writer.import_id = import_id
        first_ts, last_ts = _import_one(run, path, file_year, import_id, fres)
        sink.sync()
        run.done_bytes += os.path.getsize(path)
        conn.execute(
            "UPDATE import_files SET lines = %s, first_ts = %s, last_ts = %s WHERE id = %s",
            (fres.lines, first_ts, last_ts, import_id),
        )
    sink.write(prepare(run.corr.finish()), [])
    sink.sync()


def _import_one(
    run: _ImportRun, path: str, file_year: int | None, import_id: int, fres: FileResult
) -> tuple[datetime | None, datetime | None]:
    """Read, parse, correlate one file; raw lines go to the database thread as COPY text.

    This is the hot loop of a bulk import. Rows are formatted here by hand because
    psycopg's per-row adaptation costs as much as the parser; they are handed over in
    chunks and the database thread (:class:`_Sink`) keeps one COPY open across them, so
    the server stores lines and the previous batch's e-mails while this thread parses."""
    # Locals, not attribute look-ups, in the loop below.
    tz, host, corr, sink, result = run.tz, run.host, run.corr, run.sink, run.result
    days, progress, on_batch, done_bytes = run.days, run.progress, run.on_batch, run.done_bytes
    stats = result.stats
    stats.files += 1
    buf: list[bytes] = []
    failed: list[tuple[int, str, Exception]] = []
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    # A line without a stamp of its own is received at the previous line's time (at the
    # first line, now) and reported at none.
    now = datetime.now(UTC)
    last_day = now.toordinal()
    stamped = rawcopy.stamps(now)
    feed = corr.feed
    row, stamps, unstamped = rawcopy.row, rawcopy.stamps, rawcopy.unstamped
    end = rawcopy.tail(import_id)
    next_id = end_id = 0
    block = sink.reserve()  # asked ahead: the thread hands it over while we parse
    kinds: dict[str, int] = {}  # lines per event kind, for ReadStats.count_kinds
    count = kinds.get

    def send() -> None:
        if buf:
            sink.raw(b"".join(buf))
            buf.clear()

    def new_day(day: int) -> None:
        send()
        sink.partition(day)
        days.add(day)

    def flush() -> None:
        send()
        sink.write(prepare(corr.drain()), failed[:])
        failed.clear()
        if on_batch is not None:
            on_batch(fres.lines)

    raw, stream = open_positioned(path)
    clock = ClassicClock(file_year if file_year is not None else guess_year(path, tz), tz)
    split = EnvelopeParser(clock).split
    n = 0
    with raw, text_of(stream) as fh:
        try:
            for text in fh:
                if next_id >= end_id:
                    send()
                    next_id = block.result()
                    end_id = next_id + ID_BLOCK
                    block = sink.reserve()
                line = split(text.rstrip("\n"), next_id)
                next_id += 1
                n += 1
                ts = line.ts
                if ts is not None and host is not None:
                    line.host = host
                try:
                    ev = parse(line)
                    kinds[ev.kind] = count(ev.kind, 0) + 1
                    feed(ev)
                except Exception as exc:  # one line must not stop an import
                    failed.append((line.seq, text.rstrip("\n"), exc))
                if ts is not None:
                    if ts is not last_ts:
                        if first_ts is None:
                            first_ts = ts
                        last_ts = ts
                        stamped = stamps(ts)
                        last_day = ts.astimezone(UTC).toordinal()
                        if last_day not in days:
                            new_day(last_day)
                    buf.append(
                        row(line.seq, stamped, line.host, line.program, line.pid, line.message, end)
                    )
                else:
                    if last_day not in days:
                        new_day(last_day)
                    buf.append(
                        row(line.seq, unstamped(stamped), line.host, "", None, line.raw, end)
                    )
                if n % CHUNK_LINES == 0:
                    send()
                    if n % BATCH_LINES == 0:
                        fres.lines = n
                        flush()
                        progress.update(done_bytes + raw.tell(), result.lines)
        except READ_ERRORS as exc:
            raise ElseError(f"{path}: read error after line {n}: {exc}") from None
    fres.lines = n
    flush()
    stats.lines += n
    stats.count_kinds(kinds)
    return first_ts, last_ts
