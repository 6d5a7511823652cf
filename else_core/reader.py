"""Read log files (plain, gzip, or stdin) into envelopes and events, counting every line.

Undecodable bytes become U+FFFD instead of stopping the run, NULs and very long lines
pass through untouched, and a file that cannot be opened is a clear error naming it.
"""

from __future__ import annotations

import gzip
import io
import os
import sys
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, tzinfo
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


#: What reading a damaged file raises: OSError (gzip.BadGzipFile: not gzip at all, or
#: a bad CRC), EOFError (truncated) and zlib.error (corrupt deflate data).
READ_ERRORS: tuple[type[Exception], ...] = (OSError, EOFError, zlib.error)


def open_binary(path: str) -> IO[bytes]:
    """Open a log as bytes; ``-`` is stdin; ``.gz`` is decompressed; errors name the file."""
    try:
        if path == "-":
            return sys.stdin.buffer
        if path.endswith(".gz"):
            return gzip.open(path, "rb")  # type: ignore[return-value]
        return open(path, "rb")
    except FileNotFoundError:
        raise ElseError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ElseError(f"{path}: is a directory") from None
    except PermissionError:
        raise ElseError(f"{path}: permission denied") from None
    except OSError as exc:
        raise ElseError(f"{path}: {exc.strerror or exc}") from None


def open_text(path: str) -> IO[str]:
    """Open a log as text, undecodable bytes replaced (see :func:`open_binary`)."""
    return io.TextIOWrapper(open_binary(path), encoding="utf-8", errors="replace", newline="\n")


def _guess_year(path: str, tz: tzinfo) -> int:
    """The year of a classic-stamped file's first line, from the file's mtime."""
    if path == "-":
        return datetime.now(tz).year
    with open_text(path) as fh:
        reference = datetime.fromtimestamp(os.stat(path).st_mtime, tz)
        try:
            for i, raw in enumerate(fh):
                if i >= _PEEK_LINES:
                    break
                month = classic_month(raw)
                if month is not None:
                    return first_year_for(month, reference)
        except READ_ERRORS as exc:
            raise ElseError(f"{path}: read error: {exc}") from None
    return reference.year


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
        file_year = year if year is not None else _guess_year(path, tz)
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
    postfix = unknown = foreign = malformed = 0
    try:
        for line in read_lines(paths, year, host_tz, stats):
            ev = parse(line)
            kind = ev.kind
            if kind == "malformed":
                malformed += 1
            elif kind in {"foreign", "amavis"}:
                foreign += 1
            else:
                postfix += 1
                if kind == "other":
                    unknown += 1
            yield ev
    finally:
        stats.postfix_lines += postfix
        stats.unknown_postfix_lines += unknown
        stats.foreign_lines += foreign
        stats.malformed_lines += malformed
        stats.lines = postfix + foreign + malformed
