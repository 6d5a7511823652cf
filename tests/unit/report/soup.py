"""Random but reproducible logs made of real Postfix messages, for differential tests.

Messages come from the corpus and the crafted logs; each gets a random program name
(the ones pflogsumm treats specially and ones it ignores), a random stamp (classic,
RFC 3339, and the variants pflogsumm skips), and queue IDs from a small pool so that
lines of different messages meet, as sizes, receipts and deferrals do in pflogsumm.
"""

from __future__ import annotations

import random
import re
from functools import cache
from pathlib import Path

from tests.unit.report import logs

_ENVELOPE = re.compile(r"^(?:\S+|\w{3} +\d+ [\d:.]+) \S+ (\S+?)(?:\[\d+\])?: (.*)$")
_HOT = re.compile(
    r"client=|status=|size=|uid=|sender=|reject|hold|discard|warning|header|body|END-OF"
)
_QID = re.compile(r"\b[0-9A-F]{8,12}\b|\b[0-9B-Zb-z]{12,15}\b")
PROGRAMS = (
    "postfix/smtpd",
    "postfix/10025/smtpd",
    "postfix-in/smtpd",
    "postfix/submission/smtpd",
    "postfix/smtps/smtpd",
    "postfix/postscreen",
    "postfix/cleanup",
    "postfix/sender-cleanup/cleanup",
    "postfix/qmgr",
    "postfix/smtp",
    "postfix/amavis/smtp",
    "postfix/lmtp",
    "postfix/pickup",
    "postfix/local",
    "postfix/virtual",
    "postfix/pipe",
    "postfix/error",
    "postfix/bounce",
    "postfix/master",
    "postfix",
    "postfix-script",
    "amavis",
)


@cache
def messages(corpus: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(every message, the ones that can move a Grand Total)."""
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted(corpus.glob("*.log"))]
    texts += list(logs.ALL.values())
    found = []
    for text in texts:
        for line in text.splitlines():
            m = _ENVELOPE.match(line.strip())
            if m is not None:
                found.append(m.group(2))
    return tuple(found), tuple(m for m in found if _HOT.search(m))


def _stamp(r: random.Random) -> str:
    k = r.random()
    day, hour, minute, sec = r.randint(1, 28), r.randint(0, 23), r.randint(0, 59), r.randint(0, 59)
    if k < 0.6:
        return f"Mar {day:2d} {hour:02d}:{minute:02d}:{sec:02d}"
    if k < 0.85:
        return f"2024-03-{day:02d}T{hour:02d}:{minute:02d}:{sec:02d}.{r.randrange(10**6):06d}+01:00"
    if k < 0.9:
        return f"2024-03-{day:02d}T{hour:02d}:{minute:02d}:{sec:02d}"  # no zone: pflogsumm skips
    if k < 0.95:
        return f"Mar {day:2d} {hour:02d}:{minute:02d}:{sec:02d}.5"  # fraction: pflogsumm skips
    return f"Mar {day} {hour:02d}:{minute:02d}:{sec:02d}"


def soup(corpus: Path, seed: int, lines: int = 3000) -> str:
    everything, hot = messages(corpus)
    r = random.Random(seed)
    pool = [f"{r.randrange(16**10):010X}" for _ in range(40)]
    out = []
    for _ in range(lines):
        msg = r.choice(hot if r.random() < 0.7 else everything)
        msg = _QID.sub(lambda _m: r.choice(pool), msg)
        if r.random() < 0.1:
            msg = msg.upper() if r.random() < 0.3 else msg.replace("@", "@X", 1)
        pid = "" if r.random() < 0.05 else f"[{r.randint(1, 99999)}]"
        out.append(f"{_stamp(r)} mx {r.choice(PROGRAMS)}{pid}: {msg}")
    return "\n".join(out) + "\n"
