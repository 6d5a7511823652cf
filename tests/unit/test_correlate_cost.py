"""The correlator's cost per log line stays flat as the log grows (counted, never timed).

A busy server's log holds e-mails that stay open for days (deferred mail, held mail,
queue files whose "removed" was lost), so the correlator always carries open state, and
that state grows with the log until the stale sweep ends it. Anything that walks the
whole state per line, per merge or per batch makes a long log quadratic (a real server's
day once took 20 minutes). These tests count the Python lines the correlator executes per
log line (``sys.settrace``), which is exact and repeatable on any machine, at 1x and 4x
the same traffic.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

import pytest

from else_core.compiled import is_compiled, load_pure
from else_core.envelope import ClassicClock, EnvelopeParser
from else_core.parser import parse
from else_core.records import Event, LogLine

START = datetime(2024, 6, 1, 0, 0, 0, tzinfo=UTC)

# The correlator as Python source, whichever build the rest of the process runs:
# sys.settrace sees only Python lines, and the compiled module (what ships) has none. Its
# algorithm is the same code, so the counts hold for both.
correlate_module = load_pure("else_core.correlate")
Correlator = correlate_module.Correlator


def _stamp(t: datetime) -> str:
    return t.strftime("%b %d %H:%M:%S").replace(" 0", "  ", 1)


def dense_log(mails: int) -> Iterator[str]:
    """``mails`` e-mails at 20 a second, ~15 lines each, like a relay with a content filter.

    Every 20th e-mail is deferred and never ends (it stays open as on a real queue); every
    third goes through a content filter that re-injects it (a merge by ``queued as`` and
    by Message-ID); one in ten sends a bounce notification (another merge).
    """
    for n in range(mails):
        t = START + timedelta(milliseconds=50 * n)
        s = _stamp(t)
        pid = 1000 + n % 50
        qid = f"{0xA00000 + n:X}"
        fqid = f"{0xF00000 + n:X}"
        bqid = f"{0xB00000 + n:X}"
        mid = f"<m{n}@client.example>"
        yield f"{s} mx postfix/smtpd[{pid}]: connect from c{n}.example[192.0.2.{n % 250 + 1}]"
        yield f"{s} mx postfix/smtpd[{pid}]: {qid}: client=c{n}.example[192.0.2.{n % 250 + 1}]"
        yield f"{s} mx postfix/cleanup[300]: {qid}: message-id={mid}"
        yield f"{s} mx postfix/qmgr[301]: {qid}: from=<s{n}@client.example>, size=1200, nrcpt=2 (queue active)"
        yield (
            f"{s} mx postfix/smtpd[{pid}]: disconnect from c{n}.example[192.0.2.{n % 250 + 1}]"
            " ehlo=1 mail=1 rcpt=2 data=1 quit=1 commands=6"
        )
        if n % 20 == 0:
            for rcpt in ("a", "b"):
                yield (
                    f"{s} mx postfix/smtp[400]: {qid}: to=<{rcpt}{n}@r.example>,"
                    " relay=mx.r.example[192.0.2.9]:25, delay=1, delays=0/0/0/1, dsn=4.2.0,"
                    " status=deferred (host mx.r.example[192.0.2.9] said: 450 4.2.0 busy"
                    " (in reply to RCPT TO command))"
                )
            continue
        if n % 3 == 0:
            yield (
                f"{s} mx postfix/smtp[401]: {qid}: to=<a{n}@r.example>, relay=127.0.0.1[127.0.0.1]:10024,"
                f" delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as {fqid})"
            )
            yield f"{s} mx postfix/smtpd[500]: connect from localhost[127.0.0.1]"
            yield f"{s} mx postfix/smtpd[500]: {fqid}: client=localhost[127.0.0.1], orig_queue_id={qid}, orig_client=c{n}.example[192.0.2.1]"
            yield f"{s} mx postfix/cleanup[300]: {fqid}: message-id={mid}"
            yield f"{s} mx postfix/qmgr[301]: {qid}: removed"
            yield f"{s} mx postfix/qmgr[301]: {fqid}: from=<s{n}@client.example>, size=1300, nrcpt=1 (queue active)"
            yield f"{s} mx postfix/smtpd[500]: disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5"
            qid = fqid
        for rcpt in ("a", "b"):
            status = "bounced" if n % 10 == 1 and rcpt == "b" else "sent"
            yield (
                f"{s} mx postfix/smtp[402]: {qid}: to=<{rcpt}{n}@r.example>,"
                " relay=mx.r.example[192.0.2.9]:25, delay=1, delays=0/0/0/1,"
                f" dsn={'5.1.1' if status == 'bounced' else '2.0.0'}, status={status}"
                f" ({'550 5.1.1 no such user' if status == 'bounced' else '250 2.0.0 Ok'})"
            )
        if n % 10 == 1:
            yield f"{s} mx postfix/cleanup[300]: {bqid}: message-id=<bounce{n}@mx.example>"
            yield f"{s} mx postfix/bounce[403]: {qid}: sender non-delivery notification: {bqid}"
            yield f"{s} mx postfix/qmgr[301]: {bqid}: from=<>, size=2000, nrcpt=1 (queue active)"
            yield (
                f"{s} mx postfix/smtp[402]: {bqid}: to=<s{n}@client.example>,"
                " relay=c.example[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=2.0.0,"
                " status=sent (250 ok)"
            )
            yield f"{s} mx postfix/qmgr[301]: {bqid}: removed"
        yield f"{s} mx postfix/qmgr[301]: {qid}: removed"


def test_the_counted_correlator_runs_as_python_lines() -> None:
    """Counting lines of a compiled module would count nothing and pass every bound."""
    assert not is_compiled(correlate_module)
    evs = events(20)
    assert count_lines(lambda: feed_all(Correlator(), evs), correlate_module) > len(evs)


def events(mails: int) -> list[Event]:
    env = EnvelopeParser(ClassicClock(2024, UTC))
    return [parse(env.split(raw, i)) for i, raw in enumerate(dense_log(mails), 1)]


def count_lines(work: Callable[[], Any], module: Any) -> int:
    """How many source lines of ``module`` ``work`` executes (comprehensions included)."""
    filename = module.__file__
    count = 0

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return local

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        return local if frame.f_code.co_filename == filename else None

    sys.settrace(tracer)
    try:
        work()
    finally:
        sys.settrace(None)
    return count


def per_line_cost(mails: int, drive: Callable[[Correlator, list[Event]], None]) -> float:
    evs = events(mails)
    corr = Correlator()
    return count_lines(lambda: drive(corr, evs), correlate_module) / len(evs)


def feed_all(corr: Correlator, evs: list[Event]) -> None:
    """`elsectl parse`/`report`/`import`: feed and drain, then finish."""
    for ev in evs:
        corr.feed(ev)
        corr.drain()
    corr.finish()


def feed_like_the_worker(corr: Correlator, evs: list[Event]) -> None:
    """Live ingest: after every batch of 50 lines, the open e-mails that changed."""
    for i, ev in enumerate(evs, 1):
        corr.feed(ev)
        if i % 50 == 0:
            corr.drain()
            corr.open_snapshots()
    corr.finish()


@pytest.mark.parametrize("drive", [feed_all, feed_like_the_worker], ids=["files", "live"])
def test_cost_per_line_is_flat_as_the_log_grows(drive: Callable[..., None]) -> None:
    small = per_line_cost(400, drive)
    large = per_line_cost(1600, drive)
    assert large <= small * 1.10, f"{small:.1f} -> {large:.1f} correlator lines per log line"


def wide_mail(recipients: int) -> list[Event]:
    """One e-mail to ``recipients`` addresses (a mailing list), each delivered once."""
    s = "Jun  1 10:00:00"
    lines = [
        f"{s} mx postfix/pickup[1]: ABC123: uid=1000 from=<list@mx.example>",
        f"{s} mx postfix/cleanup[2]: ABC123: message-id=<wide@mx.example>",
        f"{s} mx postfix/qmgr[3]: ABC123: from=<list@mx.example>, size=900, nrcpt={recipients} (queue active)",
    ]
    lines += [
        f"{s} mx postfix/smtp[4]: ABC123: to=<m{i}@r.example>, relay=mx.r.example[192.0.2.9]:25,"
        " delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 Ok)"
        for i in range(recipients)
    ]
    lines.append(f"{s} mx postfix/qmgr[3]: ABC123: removed")
    env = EnvelopeParser(ClassicClock(2024, UTC))
    return [parse(env.split(raw, i)) for i, raw in enumerate(lines, 1)]


def test_cost_per_recipient_is_flat_for_wide_mail() -> None:
    """Building an e-mail resolves each recipient once: not once per other recipient."""

    def cost(recipients: int) -> float:
        evs = wide_mail(recipients)
        corr = Correlator()
        return count_lines(lambda: feed_all(corr, evs), correlate_module) / recipients

    small, large = cost(250), cost(1000)
    assert large <= small * 1.10, f"{small:.1f} -> {large:.1f} correlator lines per recipient"


@pytest.mark.parametrize("snapshots", [False, True], ids=["files", "live"])
def test_memory_holds_only_what_is_open(snapshots: bool) -> None:
    """After the run only the queue files that never ended are held, however long the log."""
    corr = Correlator()
    evs = events(1600)
    for i, ev in enumerate(evs, 1):  # without finish(): what a long run carries along
        corr.feed(ev)
        corr.drain()
        if snapshots and i % 50 == 0:
            corr.open_snapshots()
    corr.feed(tick(START + timedelta(hours=1), len(evs) + 1))  # lingering e-mails go out
    held = {
        name: len(getattr(corr, name))
        for name in ("_known", "_group", "_by_msgid", "_dirty", "_done", "_sessions")
    }
    still_open = corr.open_transactions
    assert still_open == 1600 // 20
    assert all(n <= still_open for n in held.values()), held


def test_the_workload_keeps_state_open() -> None:
    """The cost test above means something only if open state grows with the log."""
    corr = Correlator()
    for ev in events(1600):
        corr.feed(ev)
    assert corr.open_transactions >= 1600 // 20


def test_stale_sweep_looks_only_at_what_falls_due() -> None:
    """Hourly sweeps over many open queue files cost what they close, not what is open."""
    corr = Correlator(stale_after=3 * 3600)
    for ev in events(2000):  # 100 s of traffic, 100 queue files that stay open
        corr.feed(ev)
    corr.feed(tick(START + timedelta(hours=1), 1))  # the finished e-mails go out
    opened = corr.open_transactions
    # Two hours in, nothing is due yet: the hourly sweep must cost about nothing.
    cost = count_lines(
        lambda: corr.feed(tick(START + timedelta(hours=2, seconds=1), 2)), correlate_module
    )
    assert corr.open_transactions == opened
    assert cost < 100, f"a sweep with nothing due executed {cost} lines"
    corr.feed(tick(START + timedelta(hours=4), 3))
    assert corr.open_transactions == 0


def tick(at: datetime, n: int) -> Event:
    """A line that carries only time (anvil statistics): it moves the clock, nothing else."""
    return parse(LogLine(n, at, "mx", "postfix/anvil", 1, "statistics: tick", "tick"))
