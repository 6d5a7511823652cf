"""Sent vs received per PFX: is ELSE's answer for a server complete?

Every PFX runs a heartbeat (roles/rsyslog, ``else-forward-heartbeat``) that counts the
mail-facility entries of its journal (what rsyslog reads with imjournal and forwards) per
minute of their time stamp and logs the finished minutes, through the same forwarder, as a
line of program ``else-heartbeat``::

    mail lines per minute since 2026-12-06T05:58Z through 2026-12-06T06:03Z: \
2026-12-06T06:02Z=12 2026-12-06T06:03Z=7

Minutes from ``since`` through ``through`` that the line does not list had no Postfix line.
It also relays journald's own complaints (``journald warning: ... missed 5 messages``): lines
journald dropped before anything could forward them.

:func:`server_gaps` sets those counts against the raw lines ELSE holds for the same host and
minutes (every line of that host: PFX forwards only mail.*, the heartbeats included). Copies
that RELP sent again after a reconnect (:mod:`else_core.resend`; the ingest worker drops
them) are counted as ``resent``, not as lines received: fewer received than sent means
lines are missing (still on their way, or lost); more means duplicates.
The minutes still unreported (the current one, or a heartbeat not yet
arrived) are left out of both sides, so a busy server shows no false gap.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from else_core import resend

HEARTBEAT_PROGRAM = "else-heartbeat"
_COUNTS = re.compile(
    r"^mail lines per minute since (\d{4}-\d\d-\d\dT\d\d:\d\dZ) "
    r"through (\d{4}-\d\d-\d\dT\d\d:\d\dZ):(.*)$"
)
_ENTRY = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\dZ)=(\d+)")
_WARNING = "journald warning: "
# raw_events is partitioned by received_at: a line is never received before it was reported,
# except by the clock skew between PFX and ELSE, which this allows for.
_SKEW = timedelta(minutes=10)


def _minute(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)


@dataclass(frozen=True)
class HeartbeatCounts:
    """One parsed heartbeat count line."""

    since: datetime
    through: datetime
    per_minute: dict[datetime, int]


def parse_heartbeat(message: str) -> HeartbeatCounts | None:
    """The counts in a heartbeat line, None for any other line (never raises)."""
    m = _COUNTS.match(message.strip())
    if not m:
        return None
    try:
        per_minute = {_minute(k): int(v) for k, v in _ENTRY.findall(m.group(3))}
        return HeartbeatCounts(_minute(m.group(1)), _minute(m.group(2)), per_minute)
    except ValueError:
        return None


@dataclass
class ServerGap:
    """Sent vs received for one host over the minutes its heartbeats covered."""

    host: str
    sent: int = 0
    #: Lines received, RELP resends not counted (those are in ``resent``).
    received: int = 0
    missing: int = 0
    duplicated: int = 0
    #: Extra copies RELP sent after a reconnect: expected, dropped by the ingest worker.
    resent: int = 0
    covered_from: datetime | None = None
    covered_through: datetime | None = None
    last_heartbeat: datetime | None = None
    journald_warnings: int = 0
    last_journald_warning: str | None = None
    # Minutes with a difference, oldest first: (minute, sent, received without resends).
    minutes: list[tuple[datetime, int, int]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """True when every line the heartbeats counted is in ELSE, once, and journald lost none."""
        return (
            self.covered_through is not None
            and self.missing == 0
            and self.duplicated == 0
            and self.journald_warnings == 0
        )

    def as_dict(self) -> dict[str, object]:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t else None

        return {
            "host": self.host,
            "sent": self.sent,
            "received": self.received,
            "missing": self.missing,
            "duplicated": self.duplicated,
            "resent": self.resent,
            "complete": self.complete,
            "covered_from": iso(self.covered_from),
            "covered_through": iso(self.covered_through),
            "last_heartbeat": iso(self.last_heartbeat),
            "journald_warnings": self.journald_warnings,
            "last_journald_warning": self.last_journald_warning,
            "minutes": [[iso(m), s, r] for m, s, r in self.minutes],
        }


def server_gaps(
    conn: psycopg.Connection,
    since: datetime,
    until: datetime | None = None,
    hosts: Sequence[str] = (),
) -> list[ServerGap]:
    """Per host that sent heartbeats in [since, until): sent vs received, journald warnings.

    One query reads the heartbeat lines, one counts the raw Postfix lines per host and minute
    over the covered minutes; live lines only (imported files have no heartbeat)."""
    until = until or datetime.now(UTC)
    # Only whole minutes compare: the heartbeat counts by minute.
    first = since.astimezone(UTC).replace(second=0, microsecond=0)
    if first < since:
        first += timedelta(minutes=1)
    host_filter = list(hosts) or None
    # The program is a literal, not a parameter: the planner must see it to use the partial
    # index on heartbeat lines (migration 12) in a generic plan too.
    rows = conn.execute(
        sql.SQL(
            "SELECT host, received_at, message FROM raw_events"
            " WHERE program = {} AND import_id IS NULL"
            " AND received_at >= %s AND reported_at >= %s AND reported_at < %s"
            " AND (%s::text[] IS NULL OR host = ANY(%s::text[]))"
            " ORDER BY received_at, id"
        ).format(sql.Literal(HEARTBEAT_PROGRAM)),
        (since - _SKEW, since, until, host_filter, host_filter),
    ).fetchall()
    gaps: dict[str, ServerGap] = {}
    sent: dict[str, dict[datetime, int]] = {}
    for host, received_at, message in rows:
        gap = gaps.setdefault(host, ServerGap(host))
        gap.last_heartbeat = received_at
        text = message.strip()
        if text.startswith(_WARNING):
            gap.journald_warnings += 1
            gap.last_journald_warning = text[len(_WARNING) :]
            continue
        counts = parse_heartbeat(text)
        if counts is None:
            continue
        start = max(counts.since, first)
        if counts.through < start:
            continue
        per_host = sent.setdefault(host, {})
        for minute, n in counts.per_minute.items():
            if start <= minute <= counts.through:
                per_host[minute] = n  # a minute reported twice (state lost) counts once
        if gap.covered_from is None or start < gap.covered_from:
            gap.covered_from = start
        if gap.covered_through is None or counts.through > gap.covered_through:
            gap.covered_through = counts.through
    covered = [g for g in gaps.values() if g.covered_through is not None]
    received: dict[tuple[str, datetime], int] = {}
    resent: dict[tuple[str, datetime], int] = {}
    if covered:
        span = (
            [g.host for g in covered],
            [g.covered_from for g in covered],
            [
                g.covered_through + timedelta(minutes=1)
                for g in covered
                if g.covered_through is not None  # always: see covered
            ],
            since - _SKEW,
        )
        # Per minute: the lines, and how many share their reported time with another (a
        # resend always does; with exact stamps hardly anything else).
        got = conn.execute(
            "SELECT r.host, date_trunc('minute', r.reported_at) AS m, count(*),"
            " count(*) - count(DISTINCT r.reported_at)"
            " FROM raw_events r"
            " JOIN unnest(%s::text[], %s::timestamptz[], %s::timestamptz[]) AS c(host, lo, hi)"
            "   ON r.host = c.host AND r.reported_at >= c.lo AND r.reported_at < c.hi"
            " WHERE r.import_id IS NULL AND r.received_at >= %s"
            " GROUP BY 1, 2",
            span,
        ).fetchall()
        received = {(h, m.astimezone(UTC)): n for h, m, n, _ in got}
        shared = [(h, m) for h, m, _, k in got if k]
        # In those minutes, the receive times of each line that came more than once.
        repeated: list[tuple[Any, ...]] = []
        if shared:
            repeated = conn.execute(
                "SELECT r.host, r.reported_at,"
                " array_agg(r.received_at ORDER BY r.received_at, r.id)"
                " FROM raw_events r"
                " JOIN unnest(%s::text[], %s::timestamptz[]) AS d(host, m)"
                "   ON r.host = d.host AND date_trunc('minute', r.reported_at) = d.m"
                " WHERE r.import_id IS NULL AND r.received_at >= %s"
                " GROUP BY r.host, r.reported_at, r.program, r.pid, r.message"
                " HAVING count(*) > 1",
                ([h for h, _ in shared], [m for _, m in shared], since - _SKEW),
            ).fetchall()
        for h, stamp, copies in repeated:
            key = (h, stamp.astimezone(UTC).replace(second=0, microsecond=0))
            resent[key] = resent.get(key, 0) + resend.resent(stamp, copies)
    for gap in covered:
        per_host = sent.get(gap.host, {})
        minutes = sorted(set(per_host) | {m for h, m in received if h == gap.host})
        for minute in minutes:
            x = resent.get((gap.host, minute), 0)
            s, r = per_host.get(minute, 0), received.get((gap.host, minute), 0) - x
            gap.sent += s
            gap.received += r
            gap.resent += x
            gap.missing += max(0, s - r)
            gap.duplicated += max(0, r - s)
            if s != r:
                gap.minutes.append((minute, s, r))
    return [gaps[h] for h in sorted(gaps)]
