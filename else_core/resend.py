"""How a RELP resend shows in ``raw_events``, for the ingest worker (which drops it) and the
forwarding check (which counts it apart from real duplicates).

RELP is at-least-once: after a session breaks, librelp sends its unacknowledged window again
when it reconnects, and imjournal re-reads up to its persist interval after a crash. Such a
copy is the same message: same host, reported time, program, pid and text. Two *real* lines
can be just as equal, though, when the sender's time stamps have whole seconds (postlogd,
another syslog daemon, a relay): one smtpd process logging ``lost connection after CONNECT
from unknown[192.0.2.1]`` twice in a second. What rsyslog ships tells them apart:

* a reported time with a fraction of a second (RFC 3339 microseconds, what imjournal and
  imuxsock give on PFX) names one journal entry: an equal line is a copy of it;
* copies of a whole-second line that arrive together (``received_at``, ELSE's clock, less
  than :data:`RESEND_PAUSE` apart) are separate lines that travelled back to back; a copy
  that comes after a pause is a new *transmission*, as a resend needs a broken session and
  a reconnect (omrelp's ack timeout, its resume interval, an rsyslog restart: seconds).

Each transmission of a line carries some of its copies; the sender logged as many as the
largest transmission held, and every copy beyond that is a resend (:func:`resent`). The
worker applies the same rule one copy at a time (``store.worker.Dedupe``).

What this cannot tell apart: a whole-second line logged twice with a broken session between
the two copies (the second then counts as a resend), and a resend that follows its original
within :data:`RESEND_PAUSE` (it counts as a real line).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

#: Copies of a whole-second line received closer together than this are separate lines.
RESEND_PAUSE = timedelta(seconds=1)


def exact(stamp: datetime) -> bool:
    """True when the reported time names one message (it has a fraction of a second)."""
    return stamp.microsecond != 0


def new_transmission(stamp: datetime, received: datetime, previous: datetime | None) -> bool:
    """Whether a copy received at ``received`` starts a transmission of its own, after the
    previous copy of the same line was received at ``previous`` (None: it is the first)."""
    return previous is None or exact(stamp) or abs(received - previous) >= RESEND_PAUSE


def transmissions(stamp: datetime, received: Sequence[datetime]) -> list[int]:
    """How many copies each transmission of one line brought, given every copy's
    receive time in order."""
    out: list[int] = []
    previous: datetime | None = None
    for at in received:
        if new_transmission(stamp, at, previous):
            out.append(0)
        out[-1] += 1
        previous = at
    return out


def resent(stamp: datetime, received: Sequence[datetime]) -> int:
    """How many of one line's copies are resends (0 for a line received once)."""
    counts = transmissions(stamp, received)
    return len(received) - max(counts, default=0)
