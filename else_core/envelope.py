"""Split a syslog line into its envelope: time, host, program, pid and message.

Two stamp formats reach ELSE: classic BSD syslog (``Mar  7 14:05:09 host prog[pid]: msg``,
no year and no zone) and RFC 3339 (``2023-03-14T00:00:31.185246+01:00 host ...``). The
classic form needs a year and a zone from outside; :class:`ClassicClock` supplies them
and rolls the year over when December is followed by January.

Lines also arrive in shapes that no Postfix host writes to its own files but that relays,
collectors and captures do: a leading ``<PRI>`` (``nc -lu`` on a forwarded stream, the
local socket format), RFC 5424 (``<22>1 2026-11-28T12:00:00+01:00 host app procid msgid
[sd] msg``, rsyslog's ``RSYSLOG_SyslogProtocol23Format``, syslog-ng's ``syslog()``
destination) and the syslog daemon's own "message repeated N times" summaries.

Every number in an envelope is attacker-influenced text: a pid is 1-10 ASCII digits or
no pid, and stamps go only through checks that refuse instead of raising. An odd line is
malformed (kept and counted), never an exception that would stop a whole import.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from else_core.errors import ConfigError
from else_core.records import LogLine

# The largest pid kept: the store's pid column is a PostgreSQL integer, which refuses
# more (and would abort a whole COPY); Linux pids stop at 2**22.
PID_MAX = 2**31 - 1

MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}

# Digits are spelled [0-9]: in a str pattern \d also matches '١٢' or '²', which int()
# either reads as another number or refuses with ValueError. A pid is at most 10 digits
# (int() refuses more than 4300) and at most PID_MAX.
_CLASSIC_STAMP = r"([A-Z][a-z]{2}) {1,2}([0-9]{1,2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)? "
_RFC3339_STAMP = (
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:Z|[+-][0-9]{2}:?[0-9]{2})?) "
)
# "prog[pid]: msg" / "prog: msg"; an optional FreeBSD "<mail.info> " before the host.
_TAG = r"([^\s\[\]:]+)(?:\[([0-9]{1,10})\])?: ?(.*)"
_TAIL = r"(?:<[a-z0-9]+\.[a-z]+> )?(\S+) " + _TAG
_CLASSIC = re.compile(_CLASSIC_STAMP + _TAIL, re.S)
_RFC3339 = re.compile(_RFC3339_STAMP + _TAIL, re.S)
# The local socket format (``<PRI>Mmm dd hh:mm:ss prog[pid]: msg``) has no host. The
# colon must be followed by a space, or an IPv6 host ("2001:db8::1 prog: ...") would fit.
_CLASSIC_NO_HOST = re.compile(_CLASSIC_STAMP + r"([^\s\[\]:]+)(?:\[([0-9]{1,10})\])?: (.*)", re.S)
# sysklogd's summary has no tag at all: "Mmm dd hh:mm:ss host last message repeated 3 times".
_CLASSIC_REPEAT = re.compile(_CLASSIC_STAMP + r"(\S+) (last message repeated [0-9]+ times)\s*\Z")
# rsyslog keeps the repeated line's tag and replaces its text (action.c, ratelimit.c).
_REPEAT_PREFIXES = ("message repeated ", "last message repeated ")
_REPEAT = re.compile(r"(?:last )?message repeated [0-9]+ times(?:: \[.*\])?\Z", re.S)
_PRI = re.compile(r"<([0-9]{1,3})>")
# RFC 5424 HEADER after "<PRI>1 ": TIMESTAMP HOSTNAME APP-NAME PROCID MSGID (NILVALUE "-").
_RFC5424_HEAD = re.compile(
    r"(-|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})?) (\S{1,255}) (\S{1,48}) (\S{1,128}) \S{1,32} "
)
# STRUCTURED-DATA: "-" or [id param="value" ...]... where a value escapes '"', '\' and ']'.
_RFC5424_SD = re.compile(r'-|(?:\[[^ \]"=]+(?: [^ \]"=]+="(?:[^"\\]|\\.)*")*\])+', re.S)
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

    def stamp(self, mon: str, day: str, hh: str, mm: str, ss: str) -> datetime | None:
        """The aware time of a classic stamp, or None when its fields are no time of day.

        Callers pass ASCII text (the regular expressions say [0-9], the fast path checks
        ``isascii``), so ``int()`` can only refuse, never read '١٢' as 12; what it or
        ``datetime`` refuses makes a malformed line, not an exception.
        """
        key = (mon, day, hh, mm, ss)
        ts = self._cache.get(key)
        month = MONTHS[mon]
        if month < self._last_month and self._last_month - month >= 6:
            self.year += 1
            self._cache.clear()
            ts = None
        self._last_month = month
        if ts is None:
            try:
                ts = datetime(self.year, month, int(day), int(hh), int(mm), int(ss), tzinfo=self.tz)
            except ValueError:
                ts = self._odd(month, day, hh, mm, ss)
                if ts is None:
                    return None
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[key] = ts
        return ts

    def _odd(self, month: int, day: str, hh: str, mm: str, ss: str) -> datetime | None:
        """Feb 29 and second 60, which are real lines; anything else out of range is None.

        Feb 29 in a year that is not a leap year means the guessed year is wrong, not
        the line: it stays one day after Feb 28 (Mar 1), in order with its neighbours.
        A leap second :60 is read as :59 for the same reason.
        """
        if not (day + hh + mm + ss).isdecimal():
            return None
        d, s = int(day), int(ss)
        if month == 2 and d == 29 and not _is_leap(self.year):
            month, d = 3, 1
        try:
            return datetime(self.year, month, d, int(hh), int(mm), min(s, 59), tzinfo=self.tz)
        except ValueError:  # Feb 30, Apr 31 (no such day in any year), hour 25, a year past 9999
            return None


# One tzinfo object per UTC offset for the whole process. fromisoformat makes a new
# ``timezone`` for every stamp with a non-zero offset, and two aware datetimes whose tzinfo
# objects differ compare through a Python-level ``utcoffset()`` call on each side (with the
# same object they compare field by field). The report and the correlator compare every
# line's time a few times: on a "+01:00" log that was a fifth of a report's run time.
# ``timezone`` hashes and compares by its offset, so equal offsets find one object.
_ZONES: dict[tzinfo, tzinfo] = {}
_ZONES_MAX = 256  # offsets in use are few (two per zone with summer time); a bound all the same
_ANCHOR = "2000-01-01T00:00:00"  # a wall time; the stamp's offset is appended
_ANCHOR_WALL = datetime(2000, 1, 1)


def shared_zone(ts: datetime) -> datetime:
    """``ts`` on the process's one tzinfo object for its zone (the same instant, the same
    wall time and zone name). A ``timezone`` that carries a name of its own (fromisoformat
    makes none) equals the unnamed one of its offset but would print another ``tzname``:
    it keeps its object."""
    tz = ts.tzinfo
    if tz is None or tz is UTC:
        return ts
    known = _ZONES.get(tz)
    if known is None:
        if len(_ZONES) >= _ZONES_MAX:
            _ZONES.clear()
        _ZONES[tz] = tz
        return ts
    if known is tz or known.tzname(ts) != tz.tzname(ts):
        return ts
    return ts.replace(tzinfo=known)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


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
    ``<mail.info>`` prefixes, unpadded days, a missing pid, ``<PRI>``, RFC 5424 — falls
    back to the regular expressions, so odd lines cost more but still parse. The fast
    path may decline any line (the slow one then decides), so its checks need only be
    cheap and keep ``int()`` and ``datetime`` from raising.
    """

    __slots__ = ("_anchors", "_iso_stamp", "_iso_ts", "_stamps", "clock")

    def __init__(self, clock: ClassicClock) -> None:
        self.clock = clock
        self._stamps: dict[str, datetime] = {}
        # The last RFC 3339 stamp read and its time: lines come in bursts of one stamp.
        self._iso_stamp = ""
        self._iso_ts: datetime | None = None
        # _ANCHOR's time in each "+HH:MM" offset seen (None: not an offset fromisoformat
        # reads); a stream can mix hosts in several zones, or cross summer time.
        self._anchors: dict[str, datetime | None] = {}

    def _iso_time(self, stamp: str) -> datetime | None:
        """The time of an RFC 3339 stamp (None: not one), remembered for the next line.

        A stamp that ends in a ``+HH:MM`` offset is read without it, and its wall time is
        put on the offset's one shared tzinfo object (:func:`shared_zone`) by adding the
        difference to an anchor time in that zone: two subtractions instead of a
        ``replace()`` per line, which costs five times fromisoformat. Anything the short
        way cannot read goes to fromisoformat whole, so both ways accept and read exactly
        the same stamps.
        """
        ts: datetime | None = None
        # "+00:00" needs no short way: fromisoformat puts it on the one UTC object itself.
        if len(stamp) > 24 and stamp[-3] == ":" and stamp[-6] in "+-" and stamp[-5:] != "00:00":
            zone = stamp[-6:]
            anchors = self._anchors
            if zone in anchors:
                anchor = anchors[zone]
            else:
                if len(anchors) >= _ZONES_MAX:
                    anchors.clear()
                anchor = anchors[zone] = self._parse_iso(_ANCHOR + zone)
            if anchor is not None:
                try:
                    wall = datetime.fromisoformat(stamp[:-6])
                except ValueError:
                    pass
                else:
                    if wall.tzinfo is None:
                        ts = anchor + (wall - _ANCHOR_WALL)
        if ts is None:
            ts = self._parse_iso(stamp)
        self._iso_stamp, self._iso_ts = stamp, ts
        return ts

    def _parse_iso(self, stamp: str) -> datetime | None:
        """An RFC 3339 stamp; one without a zone is in the host's zone, like a classic one."""
        try:
            ts = datetime.fromisoformat(stamp)
        except ValueError:  # month 13, day 31 of February, year 0, hour 24 ...
            return None
        return shared_zone(ts) if ts.tzinfo is not None else ts.replace(tzinfo=self.clock.tz)

    def split(self, raw: str, seq: int) -> LogLine:
        """The envelope of ``raw``: an unreadable line is malformed (``ts`` None), not an error."""
        if raw[:1].isdigit():
            parts = raw.split(" ", 3)
            if len(parts) == 4:
                stamp, host, tag, msg = parts
                # The length keeps out what fromisoformat also takes: a bare date, 20261128T1200.
                if tag[-1:] == ":" and host[:1] != "<" and len(stamp) > 18:
                    ts = self._iso_ts if stamp == self._iso_stamp else self._iso_time(stamp)
                    if ts is not None:
                        line = _fast_line(seq, ts, host, tag, msg, raw)
                        if line is not None:
                            return line
        elif raw[15:16] == " " and raw[3:4] == " " and raw[9:10] == ":":
            parts = raw[16:].split(" ", 2)
            if len(parts) == 3:
                host, tag, msg = parts
                if tag[-1:] == ":" and host[:1] != "<":
                    stamp = raw[:15]
                    cts: datetime | None = self._stamps.get(stamp)
                    if cts is None:
                        mon = stamp[:3]
                        if mon in MONTHS and stamp.isascii():
                            cts = self.clock.stamp(
                                mon, stamp[4:6].lstrip(), stamp[7:9], stamp[10:12], stamp[13:15]
                            )
                            if cts is not None:
                                if len(self._stamps) > 4096 or self.clock.year != cts.year:
                                    self._stamps.clear()
                                self._stamps[stamp] = cts
                    if cts is not None:
                        line = _fast_line(seq, cts, host, tag, msg, raw)
                        if line is not None:
                            return line
        return self._slow(raw, seq)

    def _slow(self, raw: str, seq: int) -> LogLine:
        line = self._prefixed(raw, seq) if raw[:1] == "<" else self._plain(raw, seq, 0)
        return line if line is not None else LogLine(seq, None, "", "", None, raw, raw)

    def _prefixed(self, raw: str, seq: int) -> LogLine | None:
        """A line that starts with ``<PRI>``: RFC 5424, or a classic/RFC 3339 line behind it.

        The priority is dropped: ELSE files lines by program, not by facility. Behind a
        PRI the local socket format may lack the host (``<22>Nov 28 12:00:00
        postfix/qmgr[12]: ...``), which would otherwise read the tag as a host.
        """
        m = _PRI.match(raw)
        if m is None or int(m.group(1)) > 191:  # facility 23 (local7) * 8 + severity 7
            return None
        pos = m.end()
        if raw.startswith("1 ", pos):
            return self._rfc5424(raw, pos + 2, seq)
        if not raw[pos : pos + 1].isdigit():
            h = _CLASSIC_NO_HOST.match(raw, pos)
            if h is not None:
                mon, day, hh, mm, ss, prog, pid, msg = h.groups()
                ts = self._classic(mon, day, hh, mm, ss)
                if ts is not None:
                    return _line(seq, ts, "", prog, _pid(pid), msg, raw)
        return self._plain(raw, seq, pos)

    def _plain(self, raw: str, seq: int, pos: int) -> LogLine | None:
        """A classic or RFC 3339 line from ``pos`` on, by regular expression."""
        if raw[pos : pos + 1].isdigit():
            m = _RFC3339.match(raw, pos)
            if m is not None:
                stamp, host, prog, pid, msg = m.groups()
                ts = self._parse_iso(stamp)
                if ts is not None:
                    return _line(seq, ts, host, prog, _pid(pid), msg, raw)
            return None
        m = _CLASSIC.match(raw, pos)
        if m is not None:
            mon, day, hh, mm, ss, host, prog, pid, msg = m.groups()
            ts = self._classic(mon, day, hh, mm, ss)
            return None if ts is None else _line(seq, ts, host, prog, _pid(pid), msg, raw)
        m = _CLASSIC_REPEAT.match(raw, pos)
        if m is not None:
            mon, day, hh, mm, ss, host, msg = m.groups()
            ts = self._classic(mon, day, hh, mm, ss)
            return None if ts is None else LogLine(seq, ts, host, "", None, msg, raw)
        return None

    def _rfc5424(self, raw: str, pos: int, seq: int) -> LogLine | None:
        """An RFC 5424 line after ``<PRI>1 ``; NILVALUEs become "" (host, program) or None.

        rsyslog writes APP-NAME from ``programname``, which stops at "/" unless
        ``parser.permitSlashInProgramName`` is on: such lines say ``postfix``, not
        ``postfix/smtpd``, and nothing here can bring the daemon back.
        """
        m = _RFC5424_HEAD.match(raw, pos)
        if m is None:
            return None
        stamp, host, app, procid = m.groups()
        ts = self._parse_iso(stamp) if stamp != "-" else None
        if ts is None:
            return None
        pid = None
        if procid != "-":
            if len(procid) > 10 or not (procid.isascii() and procid.isdigit()):
                return None
            pid = int(procid)
            if pid > PID_MAX:
                return None
        sd = _RFC5424_SD.match(raw, m.end())
        if sd is None:
            return None
        msg = raw[sd.end() :]
        if msg:
            if msg[0] != " ":
                return None
            msg = msg[1:]
            if msg[:1] == "\ufeff":  # the BOM RFC 5424 puts before UTF-8 text
                msg = msg[1:]
            if msg[:1] == " ":  # rsyslog's %msg% keeps the space that followed the tag
                msg = msg[1:]
        return _line(seq, ts, "" if host == "-" else host, "" if app == "-" else app, pid, msg, raw)

    def _classic(self, mon: str, day: str, hh: str, mm: str, ss: str) -> datetime | None:
        """A classic stamp the regular expressions found (their month may be "Foo")."""
        if mon not in MONTHS:
            return None
        self._stamps.clear()  # the clock may roll over on a line the fast path never saw
        return self.clock.stamp(mon, day, hh, mm, ss)


def _fast_line(  # noqa: PLR0913 - the hot path passes the parts it has, no object per line
    seq: int, ts: datetime, host: str, tag: str, msg: str, raw: str
) -> LogLine | None:
    """Build a line from ``prog[pid]:`` and the message, or None if the tag is unusual."""
    i = tag.find("[")
    if i < 0:
        prog = tag[:-1]
        if not prog or "]" in prog:
            return None
        pid = None
    else:
        pid_text = tag[i + 1 : -2]
        # isdigit() alone passes '²' (int() refuses it) and 5000 digits (int() refuses).
        if (
            tag[-2] != "]"
            or i == 0
            or len(pid_text) > 10
            or not pid_text.isdigit()
            or not pid_text.isascii()
        ):
            return None
        prog, pid = tag[:i], int(pid_text)
        if pid > PID_MAX:
            return None
    head = msg[:4]  # one slice serves both rare cases; this runs once per line
    if head == "[ID ":
        m = _SOLARIS_ID.match(msg)
        if m is not None:
            msg = msg[m.end() :]
            head = msg[:4]
    if msg[-1:] == "\r":
        msg = msg.rstrip("\r")
    if head in {"mess", "last"} and _REPEAT.match(msg):  # see _line
        return LogLine(seq, ts, host, "", None, msg, raw)
    return LogLine(seq, ts, host, prog, pid, msg, raw)


def _line(  # noqa: PLR0913 - one argument per LogLine field
    seq: int, ts: datetime, host: str, prog: str, pid: int | None, msg: str, raw: str
) -> LogLine | None:
    """Build a line from the fields the regular expressions found (None: pid too large).

    A syslog daemon's "message repeated N times" summary keeps the repeated line's tag
    but is not that program's text: it gets no program, so it counts as a foreign line
    (the repeated text is still in ``message`` and ``raw``).
    """
    if msg.startswith("[ID "):
        m = _SOLARIS_ID.match(msg)
        if m is not None:
            msg = msg[m.end() :]
    if pid is not None and pid > PID_MAX:
        return None
    msg = msg.rstrip("\r\n")
    if msg.startswith(_REPEAT_PREFIXES) and _REPEAT.match(msg):
        return LogLine(seq, ts, host, "", None, msg, raw)
    return LogLine(seq, ts, host, prog, pid, msg, raw)


def _pid(digits: str | None) -> int | None:
    """The pid the regular expressions matched: 1-10 ASCII digits, so int() cannot fail."""
    return int(digits) if digits else None


def classic_month(raw: str) -> int | None:
    """The month of a classic stamp (behind a ``<PRI>`` too), or None when the line is not one."""
    pos = 0
    if raw[:1] == "<":
        p = _PRI.match(raw)
        pos = p.end() if p is not None else 0
    m = _CLASSIC.match(raw, pos) or _CLASSIC_NO_HOST.match(raw, pos)
    return MONTHS.get(m.group(1)) if m else None


def split_line(
    raw: str, seq: int = 0, year: int | None = None, tz: tzinfo | str | None = None
) -> LogLine:
    """Split one line on its own (tests, the API). Streams should use :class:`EnvelopeParser`."""
    zone = tz if isinstance(tz, tzinfo) else resolve_tz(tz)
    clock = ClassicClock(year or datetime.now(zone).year, zone)
    return EnvelopeParser(clock).split(raw, seq)
