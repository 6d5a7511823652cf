#!/usr/bin/env python3
"""Make a big, realistic Postfix log by replicating a real one (deterministic, a few seconds).

The benchmarks need about a million lines of real-world traffic. Copying one real log N
times would make every queue ID and Message-ID repeat N times, which no correlator or
report sees in practice (and pflogsumm would double-count sizes), so each replica k gets:

* its time shifted by k whole spans of days (replicas follow each other; lines stay in
  time order, per-hour and per-day shapes stay real);
* queue IDs rewritten and unique: a long ID (``enable_long_queue_ids``) gets its seconds
  field re-encoded for the shifted time, so it stays a valid long ID of that instant; a
  short hex ID gets an offset in its inode part, so it stays valid hex;
* Message-IDs made unique by an ``rK.`` prefix on the local part (replica 0 is the
  original log, unchanged).

``--classic`` writes classic ``Mmm dd HH:MM:SS`` stamps (the line's own wall-clock time,
no year, no zone) instead of RFC 3339. The output goes to ``bench/out/`` (git-ignored).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = Path("/work/shared/corpus/public/pixelpark-postfix-logsums-mail.log")
DEFAULT_LINES = 1_000_000

# Postfix's "safe" alphabet for long queue IDs (mail_queue.h): base 52 for the time fields,
# base 51 (no 'z', the separator) for the inode field.
SAFE = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"
_SAFE_VALUE = {c: i for i, c in enumerate(SAFE)}
_LONG = "[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]"
_INODE = "[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-y]"
QID_CANDIDATE = re.compile(rf"\b(?:{_LONG}{{10,}}z{_INODE}+|[0-9A-F]{{6,}})\b")
# Places where a token is known to be a queue ID (first pass), beyond "prog[pid]: QID: ".
QID_PLACES = re.compile(
    r"(?:\]: |queued as |queued_as: |Queue-ID: |orig_queue_id=|notification: |forwarded as "
    r"|orig_id=)([0-9A-Za-z]{6,})\b"
)
MESSAGE_ID = re.compile(r"((?:message-id=|Message-ID: )<)[^>@<]+@")
RFC3339 = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d) ")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def safe_decode(s: str) -> int:
    n = 0
    for c in s:
        n = n * 52 + _SAFE_VALUE[c]
    return n


def safe_encode(n: int, pad: int) -> str:
    out = []
    while n:
        n, r = divmod(n, 52)
        out.append(SAFE[r])
    return "".join(reversed(out)).rjust(pad, "0")


def shift_qid(qid: str, replica: int, shift_s: int) -> str:
    """``qid`` as Postfix would have named the same file ``replica * shift_s`` seconds later."""
    if replica == 0:
        return qid
    if not re.fullmatch("[0-9A-F]+", qid):  # long: <seconds><4 usec>z<inode>
        cut = qid.rindex("z")
        seconds = safe_decode(qid[: cut - 4]) + replica * shift_s
        return safe_encode(seconds, 6) + qid[cut - 4 :]
    # short: 5 hex digits of microseconds, then the inode: move the inode out of the way
    return qid[:5] + format(int(qid[5:], 16) + replica * 0x10000000, "X")


def known_queue_ids(lines: list[str]) -> set[str]:
    """Tokens the log uses as queue IDs (so a hex word elsewhere is never rewritten)."""
    known: set[str] = set()
    for line in lines:
        for m in QID_PLACES.finditer(line):
            tok = m.group(1)
            if QID_CANDIDATE.fullmatch(tok):
                known.add(tok)
    return known


LITERAL, QUEUE_ID, TAG = 0, 1, 2


class Template:
    """One source line, split once so each replica costs a join, not a parse."""

    __slots__ = ("epoch", "frac", "offset", "offset_s", "parts")

    def __init__(
        self, epoch: int, frac: str, offset: str, offset_s: int, parts: list[tuple[int, str]]
    ):
        self.epoch = epoch
        self.frac = frac
        self.offset = offset
        self.offset_s = offset_s
        # (LITERAL, text) | (QUEUE_ID, original id) | (TAG, "") where a Message-ID's local
        # part starts.
        self.parts = parts


def _split(rest: str, known: set[str]) -> list[tuple[int, str]]:
    cuts: list[tuple[int, int, int, str]] = [
        (m.end(1), m.end(1), TAG, "") for m in MESSAGE_ID.finditer(rest)
    ]
    cuts += [
        (q.start(), q.end(), QUEUE_ID, q.group(0))
        for q in QID_CANDIDATE.finditer(rest)
        if q.group(0) in known
    ]
    parts: list[tuple[int, str]] = []
    last = 0
    for start, end, kind, text in sorted(cuts):
        parts += [(LITERAL, rest[last:start]), (kind, text)]
        last = end
    parts.append((LITERAL, rest[last:]))
    return [p for p in parts if p != (LITERAL, "")]


def build_templates(lines: list[str]) -> tuple[list[Template], int, int]:
    known = known_queue_ids(lines)
    templates = []
    for n, line in enumerate(lines, 1):
        m = RFC3339.match(line)
        if m is None:
            raise SystemExit(f"make_log: line {n} has no RFC 3339 stamp: {line[:80]!r}")
        y, mo, d, hh, mi, ss, frac, off = m.groups()
        offset_s = (
            0
            if off == "Z"
            else (1 if off[0] == "+" else -1) * (int(off[1:3]) * 3600 + int(off[4:6]) * 60)
        )
        wall = datetime(int(y), int(mo), int(d), int(hh), int(mi), int(ss))
        epoch = int((wall - datetime(1970, 1, 1)).total_seconds()) - offset_s
        parts = _split(line[m.end() :], known)
        templates.append(Template(epoch, frac or "", off, offset_s, parts))
    first = templates[0].epoch + templates[0].offset_s
    last_t = templates[-1].epoch + templates[-1].offset_s
    days = max(1, math.ceil((last_t - (first - first % 86400) + 1) / 86400))
    return templates, days * 86400, len(known)


def stamp(t: Template, shift: int, classic: bool, cache: dict[int, str]) -> str:
    key = t.epoch + shift + t.offset_s  # local wall-clock seconds
    prefix = cache.get(key)
    if prefix is None:
        g = time.gmtime(key)
        if classic:
            prefix = (
                f"{MONTHS[g.tm_mon - 1]} {g.tm_mday:2d} "
                f"{g.tm_hour:02d}:{g.tm_min:02d}:{g.tm_sec:02d}"
            )
        else:
            prefix = (
                f"{g.tm_year:04d}-{g.tm_mon:02d}-{g.tm_mday:02d}"
                f"T{g.tm_hour:02d}:{g.tm_min:02d}:{g.tm_sec:02d}"
            )
        cache[key] = prefix
    if classic:
        return prefix + " "
    return f"{prefix}{t.frac}{t.offset} "


def replicate(
    templates: list[Template], shift_s: int, replicas: int, classic: bool
) -> Iterator[str]:
    for k in range(replicas):
        shift = k * shift_s
        qmap: dict[str, str] = {}
        tag = f"r{k}." if k else ""
        cache: dict[int, str] = {}
        for t in templates:
            out = [stamp(t, shift, classic, cache)]
            for kind, text in t.parts:
                if kind == LITERAL:
                    out.append(text)
                elif kind == QUEUE_ID:
                    new = qmap.get(text)
                    if new is None:
                        new = qmap[text] = shift_qid(text, k, shift_s)
                    out.append(new)
                else:
                    out.append(tag)
            yield "".join(out)


def write_replicas(
    out: Path, templates: list[Template], shift_s: int, replicas: int, classic: bool
) -> None:
    """Write the replicated log to ``out`` (through a temporary file: never half a log)."""
    tmp = out.with_suffix(out.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8", errors="surrogateescape", newline="\n") as fh:
        for line in replicate(templates, shift_s, replicas, classic):
            fh.write(line)
            fh.write("\n")
    tmp.replace(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="a real RFC 3339 log")
    ap.add_argument(
        "--lines", type=int, default=DEFAULT_LINES, help="about this many lines (whole replicas)"
    )
    ap.add_argument("--classic", action="store_true", help="classic Mmm dd HH:MM:SS stamps")
    ap.add_argument("-o", "--output", type=Path, help="default: bench/out/")
    ap.add_argument("--force", action="store_true", help="rewrite an existing output")
    args = ap.parse_args(argv)

    started = time.monotonic()
    lines = args.source.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
    templates, shift_s, n_qids = build_templates(lines)
    replicas = max(1, math.ceil(args.lines / len(templates)))
    out = args.output or HERE / "out" / (
        f"{args.source.stem}-x{replicas}{'.classic' if args.classic else ''}.log"
    )
    if out.exists() and not args.force:
        print(out)
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    write_replicas(out, templates, shift_s, replicas, args.classic)
    took = time.monotonic() - started
    print(
        f"make_log: {len(templates) * replicas} lines ({replicas} x {len(templates)}, "
        f"{n_qids} queue IDs per replica, shift {shift_s // 86400} days) in {took:.1f}s",
        file=sys.stderr,
    )
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
