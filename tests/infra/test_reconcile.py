"""Every line PFX logs reaches ELSE exactly once: reconciled line by line, under bursts.

Why: counting e-mails could not see lost lines (issue 11: journald dropped lines under a burst
and ELSE showed orphan e-mails). Here a burst of mail goes to PFX port 25 over 20 parallel
SMTP sessions, then PFX's own record of every mail line since the start (/var/log/mail.log,
checked against the journal's mail-facility entries) is compared with ELSE's raw_events for
that host, line by line: nothing missing, nothing twice; journald reported no dropped line;
every mail searchable as delivered. Then the same during an ELSE outage (its link cut for
45 s) and with rsyslog restarted on PFX in the middle of the burst.

Sizes: the plain burst is the issue's 2,000 mails; the drills send 500 each, to keep the
Molecule verify stage short (both drills together add about two minutes, most of it the
outage and RELP's reconnect). Figures go to test-artifacts/reliability.jsonl like the other
reliability tests'.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from tests.infra import reconcile as rc
from tests.infra.test_reliability import (
    CATCH_UP,
    MIN_OUTAGE,
    arrived,
    pfx_queue_drained,
    record,
    tag,
)

testinfra_hosts = ["ansible://pfx_servers"]

BURST = 2000
DRILL = 500
CONNECTIONS = 20


@contextmanager
def nothing_broken(ctx) -> Iterator[None]:
    yield


@contextmanager
def link_to_else_cut(ctx) -> Iterator[None]:
    """ELSE's link down while the burst is sent and delivered, for at least 45 s."""
    ctx.lab_link("else", "down")
    started = time.monotonic()
    try:
        yield
        wait_drained(ctx)
        time.sleep(max(0.0, MIN_OUTAGE - (time.monotonic() - started)))
    finally:
        ctx.lab_link("else", "up")


@contextmanager
def rsyslog_restarted_on_pfx(ctx) -> Iterator[None]:
    """rsyslog on PFX restarted while the burst is still coming in."""

    def restart() -> None:
        time.sleep(1)  # the burst takes 2-3 s: this is in its middle
        ctx.host.check_output("systemctl restart rsyslog.service")

    t = threading.Thread(target=restart)
    t.start()
    try:
        yield
    finally:
        t.join()


class Ctx:
    def __init__(self, host, lab_link, sender: str) -> None:
        self.host, self.lab_link, self.sender = host, lab_link, sender


def wait_drained(ctx: Ctx) -> None:
    """Until PFX has delivered (and so logged) every mail of the burst."""
    deadline = time.monotonic() + 300
    while not pfx_queue_drained(ctx.host, ctx.sender):
        assert time.monotonic() < deadline, "PFX did not deliver the burst within 300 s"
        time.sleep(2)


DRILLS: dict[str, tuple[Callable, int]] = {
    "burst": (nothing_broken, BURST),
    "burst_while_the_link_to_else_is_cut": (link_to_else_cut, DRILL),
    "burst_while_rsyslog_restarts_on_pfx": (rsyslog_restarted_on_pfx, DRILL),
}


@pytest.mark.parametrize("drill, mails", DRILLS.values(), ids=DRILLS.keys())
def test_every_mail_line_reaches_else_exactly_once(
    host, else_host, pfx, psql_as_postgres, lab_link, drill, mails
):
    on_pfx, on_else = rc.remote(host), rc.remote(else_host)
    hostname = host.check_output("hostname")
    prefix = f"rec-{tag()}"
    ctx = Ctx(host, lab_link, f"{prefix}@burst.invalid")
    offset = rc.mail_log_size(on_pfx)
    time.sleep(1.0 - time.time() % 1.0)  # the window starts on a whole second
    lo = time.time()
    started = time.monotonic()
    with drill(ctx):
        rc.send_burst(pfx.address, pfx.recipient, prefix, mails, CONNECTIONS)
        sent_s = time.monotonic() - started
    wait_drained(ctx)
    hi = time.time()
    time.sleep(3)  # rsyslog writes mail.log a moment after the journal has a line
    year = time.gmtime(lo).tm_year
    on_pfx_lines = rc.in_window(rc.pfx_lines(on_pfx, offset, year), lo, hi)
    journal = rc.journal_mail_entries(on_pfx, lo, hi)

    def settled() -> rc.Reconciliation:
        return rc.reconcile(on_pfx_lines, rc.else_lines(on_else, hostname, lo, hi))

    deadline = time.monotonic() + CATCH_UP
    result = settled()
    while result.missing and time.monotonic() < deadline:
        time.sleep(3)
        result = settled()
    caught_up_s = time.monotonic() - started
    time.sleep(5)  # a late duplicate would have come with the rest
    result = settled()
    got = arrived(psql_as_postgres, prefix)
    drops = rc.journald_drops(on_pfx, lo)
    record(
        f"reconcile_{drill.__name__}",
        mails=mails,
        connections=CONNECTIONS,
        send_s=round(sent_s, 1),
        caught_up_s=round(caught_up_s, 1),
        journal_mail_lines=journal,
        mail_log_lines=result.pfx_lines,
        else_lines=result.else_lines,
        missing=len(result.missing),
        duplicated=len(result.duplicated),
        journald_drops=len(drops),
    )
    # PFX's own record is complete: every mail line the journal took is in mail.log.
    assert result.pfx_lines == journal, f"mail.log {result.pfx_lines} lines, journal {journal}"
    assert not result.missing, result.summary()
    assert not result.duplicated, result.summary()
    assert not drops, drops
    assert (got.emails, got.delivered, got.sent_deliveries) == (mails, mails, mails), got


MODULE_START = time.time()


def test_else_shows_every_pfx_line_sent_as_received(host, else_host):
    """After the drills, `elsectl servers gaps` (the Servers page's numbers) has PFX complete."""
    hostname = host.check_output("hostname")
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(MODULE_START))
    # The heartbeat reports a minute 10 s after it ends, every 30 s.
    wanted = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() - 60))
    cmd = (
        "runuser -u else -- /opt/else/venv/bin/elsectl servers gaps --format json"
        f" --host {hostname} --since {since}"
    )
    deadline = time.monotonic() + 150
    while True:
        out = else_host.run(cmd).stdout.strip()
        gap = json.loads(out.splitlines()[-1]) if out else {}
        if (gap.get("covered_through") or "") >= wanted or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert gap.get("covered_through", "") >= wanted, gap
    assert gap["sent"] > 0 and (gap["missing"], gap["duplicated"]) == (0, 0), gap
    assert gap["journald_warnings"] == 0, gap
