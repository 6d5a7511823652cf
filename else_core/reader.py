"""Read log files (plain, gzip, or stdin) into envelopes and events, counting every line.

Undecodable bytes become U+FFFD instead of stopping the run, NULs and very long lines
pass through untouched, and a file that cannot be opened is a clear error naming it.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import sys
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import IO

from else_core.envelope import (
    ClassicClock,
    EnvelopeParser,
    classic_month,
    first_year_for,
    resolve_tz,
)
from else_core.errors import ElseError
from else_core.parser import parse
from else_core.records import Event, LogLine

_PEEK_LINES = 200


@dataclass(slots=True)
class ReadStats:
    """Counters for ``--summary``: every line read lands in exactly one of the buckets."""

    files: int = 0
    lines: int = 0
    postfix_lines: int = 0
    unknown_postfix_lines: int = 0
    foreign_lines: int = 0
    malformed_lines: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def count_kinds(self, kinds: Mapping[str, int]) -> None:
        """Add lines counted by event kind (``{"delivery": 3, "foreign": 1}``) to their
        buckets: the one place that says which kind is which (``elsectl parse`` and
        ``elsectl import`` both count this way)."""
        for kind, n in kinds.items():
            if kind == "malformed":
                self.malformed_lines += n
            elif kind in _NOT_POSTFIX:
                self.foreign_lines += n
            else:
                self.postfix_lines += n
                if kind == "other":
                    self.unknown_postfix_lines += n


#: Event kinds of lines from programs other than Postfix.
_NOT_POSTFIX = frozenset(("foreign", "amavis"))


#: What reading a damaged file raises: OSError (gzip.BadGzipFile: not gzip at all, or
#: a bad CRC), EOFError (truncated) and zlib.error (corrupt deflate data).
READ_ERRORS: tuple[type[Exception], ...] = (OSError, EOFError, zlib.error)


def _is_gzip(path: str, raw: IO[bytes]) -> bool:
    """Compressed: a ``.gz`` name (a damaged one is then an error, not text), or gzip's
    magic bytes (rotated logs compressed under another name)."""
    magic = raw.read(2)
    raw.seek(0)
    return path.endswith(".gz") or magic == b"\x1f\x8b"


def open_positioned(path: str) -> tuple[IO[bytes], IO[bytes]]:
    """(the file itself, whose position tells the progress; the stream to read, decompressed
    if need be); the caller closes the first. Errors name the file."""
    try:
        raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
        if _is_gzip(path, raw):
            # GzipFile is a BufferedIOBase, which typeshed does not count as an IO[bytes].
            return raw, gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
        return raw, raw
    except FileNotFoundError:
        raise ElseError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ElseError(f"{path}: is a directory") from None
    except PermissionError:
        raise ElseError(f"{path}: permission denied") from None
    except OSError as exc:
        raise ElseError(f"{path}: {exc.strerror or exc}") from None


def open_binary(path: str) -> IO[bytes]:
    """Open a log as bytes; ``-`` is stdin; compressed logs are decompressed (see
    :func:`_is_gzip`); errors name the file."""
    if path == "-":
        return sys.stdin.buffer
    raw, stream = open_positioned(path)
    if stream is raw:
        return raw
    raw.close()
    # One object that owns the file; a GzipFile to mypy, not an IO[bytes] (see above).
    return gzip.open(path, "rb")  # type: ignore[return-value]


def text_of(stream: IO[bytes]) -> io.TextIOWrapper:
    """A byte stream as text: UTF-8, undecodable bytes replaced, lines split on \\n only."""
    return io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="\n")


def open_text(path: str) -> IO[str]:
    """Open a log as text, undecodable bytes replaced (see :func:`open_binary`)."""
    return text_of(open_binary(path))


def first_stamp(path: str, year: int | None, tz: tzinfo) -> tuple[datetime | None, int | None]:
    """The first readable time in a file, and the year its classic stamps start in
    (``year`` if given, else from the file's mtime; None when it has none)."""
    raw, stream = open_positioned(path)
    with raw, text_of(stream) as fh:
        try:
            for i, line in enumerate(fh):
                if i >= _PEEK_LINES:
                    break
                month = classic_month(line)
                file_year = year
                if month is not None and file_year is None:
                    reference = datetime.fromtimestamp(os.stat(path).st_mtime, tz)
                    file_year = first_year_for(month, reference)
                clock = ClassicClock(file_year or datetime.now(tz).year, tz)
                parsed = EnvelopeParser(clock).split(line.rstrip("\n"), 0)
                if parsed.ts is not None:
                    return parsed.ts, file_year
        except READ_ERRORS as exc:
            raise ElseError(f"{path}: read error: {exc}") from None
    return None, year


_ROTATED = re.compile(r"\.(\d+)(?:\.gz)?$")


def order_files(paths: list[str], year: int | None, tz: tzinfo) -> list[tuple[str, int | None]]:
    """Sort a rotated set into time order (``mail.log.2.gz mail.log.1 mail.log``).

    By each file's first time stamp; files without one fall back to the rotation
    number (higher is older) so that order is stable.
    """
    keyed = []
    for path in paths:
        if path == "-":
            raise ElseError("import needs files: standard input cannot be fingerprinted")
        ts, file_year = first_stamp(path, year, tz)
        m = _ROTATED.search(Path(path).name)
        rotation = int(m.group(1)) if m else 0
        keyed.append(
            (ts is None, ts or datetime.min.replace(tzinfo=UTC), -rotation, path, file_year)
        )
    keyed.sort(key=lambda k: (k[0], k[1], k[2], k[3]))
    return [(k[3], k[4]) for k in keyed]


def guess_year(path: str, tz: tzinfo) -> int:
    """The year of a classic-stamped file's first line, from the file's mtime (for
    ``elsectl parse`` and ``elsectl import`` alike)."""
    if path == "-":
        return datetime.now(tz).year
    _, year = first_stamp(path, None, tz)
    return year if year is not None else datetime.fromtimestamp(os.stat(path).st_mtime, tz).year


def read_lines(
    paths: Iterable[str],
    year: int | None = None,
    host_tz: str | tzinfo | None = None,
    stats: ReadStats | None = None,
) -> Iterator[LogLine]:
    """Yield the lines of ``paths`` in order, envelopes split, ``seq`` counting from 1."""
    tz = host_tz if isinstance(host_tz, tzinfo) else resolve_tz(host_tz)
    stats = stats if stats is not None else ReadStats()
    seq = 0
    for path in paths:
        file_year = year if year is not None else guess_year(path, tz)
        envelope = EnvelopeParser(ClassicClock(file_year, tz))
        split = envelope.split
        stats.files += 1
        with open_text(path) as fh:
            try:
                for raw in fh:
                    seq += 1
                    yield split(raw.rstrip("\n"), seq)
            except READ_ERRORS as exc:
                raise ElseError(f"{path}: read error after line {seq}: {exc}") from None
    stats.lines = seq


def read_events(
    paths: Iterable[str],
    year: int | None = None,
    host_tz: str | tzinfo | None = None,
    stats: ReadStats | None = None,
) -> Iterator[Event]:
    """Yield one :class:`Event` per line of ``paths``, keeping ``stats`` up to date."""
    stats = stats if stats is not None else ReadStats()
    kinds: dict[str, int] = {}
    count = kinds.get
    try:
        for line in read_lines(paths, year, host_tz, stats):
            ev = parse(line)
            kinds[ev.kind] = count(ev.kind, 0) + 1
            yield ev
    finally:
        stats.count_kinds(kinds)
        stats.lines = sum(kinds.values())
