"""Split a syslog line into its envelope: time, host, program, pid and message.

Two stamp formats reach ELSE: classic BSD syslog (``Mar  7 14:05:09 host prog[pid]: msg``,
no year and no zone) and RFC 3339 (``2023-03-14T00:00:31.185246+01:00 host ...``). The
classic form needs a year and a zone from outside; :class:`ClassicClock` supplies them
and rolls the year over when December is followed by January.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from else_core.errors import ConfigError
from else_core.records import LogLine

MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}

# "prog[pid]: msg" / "prog: msg"; an optional FreeBSD "<mail.info> " before the host.
_TAIL = r"(?:<[a-z0-9]+\.[a-z]+> )?(\S+) ([^\s\[\]:]+)(?:\[(\d+)\])?: ?(.*)"
_CLASSIC = re.compile(
    r"([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.\d+)? " + _TAIL, re.S
)
_RFC3339 = re.compile(
    r"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?) " + _TAIL, re.S
)
_SOLARIS_ID = re.compile(r"\[ID \d+ [a-z0-9]+\.[a-z]+\] ")


def resolve_tz(name: str | None) -> tzinfo:
    """The zone classic stamps are in: ``--host-tz``, else $TZ, else /etc/localtime, else UTC."""
    try:
        if name:
            return ZoneInfo(name)
        if os.environ.get("TZ"):
            return ZoneInfo(os.environ["TZ"].lstrip(":"))
        with open("/etc/localtime", "rb") as fh:
            return ZoneInfo.from_file(fh, key="localtime")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        if name:
            raise ConfigError(
                f"unknown time zone {name!r} (use an IANA name like Europe/Berlin)"
            ) from exc
        return UTC
    except OSError:
        return UTC


class ClassicClock:
    """Turns year-less classic stamps into aware datetimes, line after line, in order.

    ``year`` is the year of the first line. When the month goes backwards by more than
    a few days (December → January), the year advances, which is how a log spanning
    New Year keeps its order.
    """

    __slots__ = ("_cache", "_last_month", "tz", "year")

    def __init__(self, year: int, tz: tzinfo) -> None:
        self.year = year
        self.tz = tz
        self._last_month = 0
        self._cache: dict[tuple[str, str, str, str, str], datetime] = {}

    def stamp(self, mon: str, day: str, hh: str, mm: str, ss: str) -> datetime:
        key = (mon, day, hh, mm, ss)
        ts = self._cache.get(key)
        month = MONTHS[mon]
        if month < self._last_month and self._last_month - month >= 6:
            self.year += 1
            self._cache.clear()
            ts = None
        self._last_month = month
        if ts is None:
            if len(self._cache) > 4096:
                self._cache.clear()
            try:
                ts = datetime(self.year, month, int(day), int(hh), int(mm), int(ss), tzinfo=self.tz)
            except ValueError:  # Feb 29 in a guessed non-leap year, hour 24, ...
                ts = datetime(self.year, month, 1, tzinfo=self.tz)
            self._cache[key] = ts
        return ts


def first_year_for(first_month: int, reference: datetime) -> int:
    """The year of a log whose first line is in ``first_month`` and that ends near ``reference``.

    A log cannot start after its file was last written: a first month later than the
    file's month means the log began the year before.
    """
    return reference.year if first_month <= reference.month else reference.year - 1


class EnvelopeParser:
    """Parses envelopes of one input stream (one clock for classic stamps).

    The common shapes are cut with ``str.split`` (several times faster than a regular
    expression, and this runs once per line); anything unusual — FreeBSD
    ``<mail.info>`` prefixes, unpadded days, a missing pid — falls back to the
    regular expressions, so odd lines cost more but still parse.
    """

    __slots__ = ("_stamps", "clock")

    def __init__(self, clock: ClassicClock) -> None:
        self.clock = clock
        self._stamps: dict[str, datetime] = {}

    def split(self, raw: str, seq: int) -> LogLine:
        if raw[:1].isdigit():
            parts = raw.split(" ", 3)
            if len(parts) == 4:
                stamp, host, tag, msg = parts
                if tag[-1:] == ":" and host[:1] != "<":
                    try:
                        ts = datetime.fromisoformat(stamp)
                    except ValueError:
                        pass
                    else:
                        if ts.tzinfo is None:
                            ts = ts.replace(tzinfo=self.clock.tz)
                        line = _fast_line(seq, ts, host, tag, msg, raw)
                        if line is not None:
                            return line
        elif raw[15:16] == " " and raw[3:4] == " " and raw[9:10] == ":":
            parts = raw[16:].split(" ", 2)
            if len(parts) == 3:
                host, tag, msg = parts
                if tag[-1:] == ":" and host[:1] != "<":
                    stamp = raw[:15]
                    ts = self._stamps.get(stamp)
                    if ts is None:
                        mon = stamp[:3]
                        if mon in MONTHS and stamp[4:6].strip().isdigit():
                            ts = self.clock.stamp(
                                mon, stamp[4:6].strip(), stamp[7:9], stamp[10:12], stamp[13:15]
                            )
                            if len(self._stamps) > 4096 or self.clock.year != ts.year:
                                self._stamps.clear()
                            self._stamps[stamp] = ts
                    if ts is not None:
                        line = _fast_line(seq, ts, host, tag, msg, raw)
                        if line is not None:
                            return line
        return self._slow(raw, seq)

    def _slow(self, raw: str, seq: int) -> LogLine:
        if raw[:1].isdigit():
            m = _RFC3339.match(raw)
            if m is not None:
                stamp, host, prog, pid, msg = m.groups()
                try:
                    ts = datetime.fromisoformat(stamp)
                except ValueError:
                    ts = None
                else:
                    if ts.tzinfo is None:
                        ts = ts.replace(tzinfo=self.clock.tz)
                if ts is not None:
                    return _line(seq, ts, host, prog, pid, msg, raw)
        else:
            m = _CLASSIC.match(raw)
            if m is not None:
                mon, day, hh, mm, ss, host, prog, pid, msg = m.groups()
                if mon in MONTHS:
                    ts = self.clock.stamp(mon, day, hh, mm, ss)
                    self._stamps.clear()  # the clock may have rolled over
                    return _line(seq, ts, host, prog, pid, msg, raw)
        return LogLine(seq, None, "", "", None, raw, raw)


def _fast_line(seq: int, ts: datetime, host: str, tag: str, msg: str, raw: str) -> LogLine | None:
    """Build a line from ``prog[pid]:`` and the message, or None if the tag is unusual."""
    tag = tag[:-1]
    i = tag.find("[")
    if i < 0:
        if not tag or "]" in tag:
            return None
        prog, pid = tag, None
    else:
        pid_text = tag[i + 1 : -1]
        if tag[-1] != "]" or not pid_text.isdigit() or i == 0:
            return None
        prog, pid = tag[:i], int(pid_text)
    if msg[:4] == "[ID ":
        m = _SOLARIS_ID.match(msg)
        if m is not None:
            msg = msg[m.end() :]
    if msg[-1:] == "\r":
        msg = msg.rstrip("\r")
    return LogLine(seq, ts, host, prog, pid, msg, raw)


def _line(
    seq: int, ts: datetime, host: str, prog: str, pid: str | None, msg: str, raw: str
) -> LogLine:
    if msg.startswith("[ID "):
        m = _SOLARIS_ID.match(msg)
        if m is not None:
            msg = msg[m.end() :]
    return LogLine(seq, ts, host, prog, int(pid) if pid else None, msg.rstrip("\r\n"), raw)


def classic_month(raw: str) -> int | None:
    """The month of a classic stamp, or None when the line is not one."""
    m = _CLASSIC.match(raw)
    return MONTHS.get(m.group(1)) if m else None


def split_line(
    raw: str, seq: int = 0, year: int | None = None, tz: tzinfo | str | None = None
) -> LogLine:
    """Split one line on its own (tests, the API). Streams should use :class:`EnvelopeParser`."""
    zone = tz if isinstance(tz, tzinfo) else resolve_tz(tz)
    clock = ClassicClock(year or datetime.now(zone).year, zone)
    return EnvelopeParser(clock).split(raw, seq)
