"""Line-by-line reconciliation of a PFX's mail log with ELSE's raw_events, and SMTP bursts.

Why a module of its own: the burst test (tests/infra/test_reconcile.py) and the sustained-rate
benchmark (bench/logpath_rate) both need "push N mails through PFX over C parallel SMTP
sessions" and "which lines does PFX have that ELSE lacks, or has twice". Counting e-mails hid
lost lines before (issue 11); comparing the lines themselves cannot.

Both sides are reduced to the same key per line: (time stamp in microseconds, host, program,
pid, message); Debian 12's rsyslog writes mail.log with microseconds, as ELSE stores them. PFX's record is /var/log/mail.log (rsyslog writes it from the same inputs it
forwards); ELSE's is raw_events. They are compared as multisets, so a line Postfix really
logged twice in one second is expected twice, and a line RELP resent shows as a duplicate.
The remote sides are reached through callables (testinfra hosts in the tests, `lab.py ssh`
in the benchmark), so this module needs neither.
"""

from __future__ import annotations

import json
import re
import shlex
import smtplib
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

Key = tuple[int, str, str, str, str]
# Runs a shell command on a host and returns its stdout (raises on failure).
Remote = Callable[[str], str]


def remote(host: Any) -> Remote:
    """A testinfra host as a :data:`Remote`: a command's output, or an assertion naming it."""

    def run(cmd: str) -> str:
        done = host.run(cmd)
        assert done.rc == 0, f"{cmd}: {done.stderr}"
        return str(done.stdout)

    return run


MAIL_LOG = "/var/log/mail.log"
# Debian 12's rsyslog writes RSYSLOG_FileFormat ("2026-12-06T05:58:01.123456+00:00 pfx
# postfix/smtpd[123]: text"); the classic "Dec  6 05:58:01 pfx ..." is read too.
_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\dT\S+|\w{3} [ \d]\d \d\d:\d\d:\d\d) (\S+) ([^\s\[:]+)(?:\[(\d+)\])?: ?(.*)$"
)
JOURNALD_DROPS = re.compile(r"missed \d+ messages|Suppressed \d+ messages")


def send_burst(
    address: str,
    recipient: str,
    prefix: str,
    count: int,
    connections: int = 20,
    port: int = 25,
) -> dict[str, float]:
    """`count` mails over `connections` parallel SMTP sessions; {Message-ID: accepted at}."""
    accepted: dict[str, float] = {}
    lock = threading.Lock()

    def session(worker: int) -> None:
        numbers = range(worker, count, connections)
        with smtplib.SMTP(address, port, local_hostname="burst.test", timeout=120) as smtp:
            for n in numbers:
                msg = EmailMessage()
                msg["From"] = f"{prefix}@burst.invalid"
                msg["To"] = recipient
                msg["Subject"] = f"burst {prefix} #{n}"
                msg["Message-ID"] = f"<{prefix}.{n}@burst.test>"
                msg.set_content(f"Mail {n} of the burst {prefix}.\n")
                smtp.send_message(msg)
                with lock:
                    accepted[f"{prefix}.{n}@burst.test"] = time.time()

    with ThreadPoolExecutor(max_workers=connections) as pool:
        for f in [pool.submit(session, w) for w in range(min(connections, count))]:
            f.result()
    return accepted


def mail_log_size(pfx: Remote) -> int:
    """Where mail.log ends now: reconciliation reads from here on."""
    return int(pfx(f"stat -c %s {MAIL_LOG}").strip() or 0)


def _epoch_us(stamp: str, year: int) -> int:
    """Microseconds since the epoch of a line's stamp (a classic one is taken as UTC)."""
    if stamp[0].isdigit():
        at = datetime.fromisoformat(stamp)
    else:
        at = datetime.strptime(f"{year} {stamp}", "%Y %b %d %H:%M:%S").replace(tzinfo=UTC)
    return round(at.timestamp() * 1_000_000)


def pfx_lines(pfx: Remote, offset: int, year: int) -> Counter[Key]:
    """The lines mail.log got after `offset`, keyed (time in µs since the epoch)."""
    text = pfx(f"tail -c +{offset + 1} {MAIL_LOG}")
    keys: Counter[Key] = Counter()
    for line in text.splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        epoch = _epoch_us(m.group(1), year)
        keys[(epoch, m.group(2), m.group(3), m.group(4) or "", m.group(5).strip())] += 1
    return keys


# Runs on ELSE as postgres (Debian's psycopg2 is there for the roles' own use).
_ELSE_LINES = """
import json, sys
import psycopg2
host, lo, hi = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
conn = psycopg2.connect(dbname="else")
cur = conn.cursor()
cur.execute(
    "SELECT round(extract(epoch FROM reported_at) * 1000000)::bigint, host, program,"
    " coalesce(pid::text, ''), message FROM raw_events"
    " WHERE host = %s AND import_id IS NULL AND received_at >= to_timestamp(%s) - interval '10 min'"
    " AND reported_at >= to_timestamp(%s) AND reported_at < to_timestamp(%s)",
    (host, lo, lo, hi),
)
for row in cur:
    sys.stdout.write(json.dumps(row) + "\\n")
"""


def else_lines(else_: Remote, host: str, lo: float, hi: float) -> Counter[Key]:
    """ELSE's raw lines from `host` reported in [lo, hi) (epoch seconds; keys in µs)."""
    cmd = "runuser -u postgres -- python3 -c " + " ".join(
        shlex.quote(a) for a in (_ELSE_LINES, host, str(lo), str(hi))
    )
    keys: Counter[Key] = Counter()
    for line in else_(cmd).splitlines():
        epoch, h, program, pid, message = json.loads(line)
        keys[(int(epoch), h, program, pid, message.strip())] += 1
    return keys


@dataclass(frozen=True)
class Reconciliation:
    pfx_lines: int
    else_lines: int
    missing: list[Key]
    duplicated: list[Key]

    def summary(self) -> str:
        return (
            f"PFX {self.pfx_lines} lines, ELSE {self.else_lines}: {len(self.missing)} missing"
            f" (first: {self.missing[:3]}), {len(self.duplicated)} duplicated"
            f" (first: {self.duplicated[:3]})"
        )


def reconcile(pfx: Counter[Key], else_: Counter[Key]) -> Reconciliation:
    """Multiset difference both ways: lines ELSE lacks, lines ELSE has more often."""
    return Reconciliation(
        sum(pfx.values()),
        sum(else_.values()),
        sorted((pfx - else_).elements()),
        sorted((else_ - pfx).elements()),
    )


def journald_drops(pfx: Remote, since: float) -> list[str]:
    """journald's "missed"/"Suppressed" lines on PFX since `since` (epoch seconds)."""
    out = pfx(f"journalctl -q -o cat --since=@{int(since)} -t systemd-journald || true")
    return [line for line in out.splitlines() if JOURNALD_DROPS.search(line)]


def in_window(keys: Counter[Key], lo: float, hi: float) -> Counter[Key]:
    """Only the lines stamped in [lo, hi) (epoch seconds)."""
    a, b = round(lo * 1_000_000), round(hi * 1_000_000)
    return Counter({k: n for k, n in keys.items() if a <= k[0] < b})


def journal_mail_entries(pfx: Remote, lo: float, hi: float) -> int:
    """Mail-facility entries PFX's journal holds, stamped in [lo, hi): the lines Postfix (and
    every other mail program) handed to the system logger."""
    out = pfx(
        "journalctl -q --facility=mail -o json --output-fields=SYSLOG_FACILITY"
        f" --since=@{int(lo)} --until=@{int(hi) + 1}"
    )
    a, b = round(lo * 1_000_000), round(hi * 1_000_000)
    return sum(
        1 for line in out.splitlines() if a <= int(json.loads(line)["__REALTIME_TIMESTAMP"]) < b
    )
