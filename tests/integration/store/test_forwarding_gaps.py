"""Sent vs received per PFX (else_core.forwarding): the admin's "is ELSE's answer complete?".

Rows go in through else_ingest_line, as rsyslog sends them; the heartbeat lines are the ones
roles/rsyslog/files/else-forward-heartbeat writes. Each case is one way a gap shows.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from store_pg import INGEST_SQL

from else_core.cli import main
from else_core.forwarding import parse_heartbeat, server_gaps

T0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=30)


def minute(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


def key(n: int) -> str:
    return minute(n).strftime("%Y-%m-%dT%H:%MZ")


def row(
    host: str, at: datetime, program: str, message: str, pid: str = "100", late: float = 0
) -> tuple:
    """A line reported at ``at`` and received ``late`` seconds after it."""
    received = at + timedelta(seconds=late)
    return (received.isoformat(), at.isoformat(), host, "", program, pid, "2", "6", message)


def heartbeat(host: str, since: int, through: int, counts: dict[int, int]) -> tuple:
    text = f"mail lines per minute since {key(since)} through {key(through)}: " + " ".join(
        f"{key(m)}={n}" for m, n in counts.items()
    )
    return row(host, minute(through + 1) + timedelta(seconds=15), "else-heartbeat", text)


def postfix_lines(host: str, m: int, n: int) -> list[tuple]:
    return [
        row(host, minute(m) + timedelta(seconds=i % 60), "postfix/smtpd", f"line {m}.{i}")
        for i in range(n)
    ]


def resent(lines: list[tuple], late: float) -> list[tuple]:
    """The same lines sent again, received ``late`` seconds after their time stamp."""
    return [row(r[2], datetime.fromisoformat(r[1]), r[4], r[8], r[5], late) for r in lines]


def store(db, rows: list[tuple]) -> None:
    with db.connect() as conn, conn.cursor() as cur:
        cur.executemany(INGEST_SQL, rows)


CASES = {
    "every line arrived once": (
        postfix_lines("pfx", 1, 5)
        + postfix_lines("pfx", 2, 3)
        + [heartbeat("pfx", 0, 2, {1: 5, 2: 3})],
        {"sent": 8, "received": 8, "missing": 0, "duplicated": 0, "complete": True},
    ),
    "two lines never arrived": (
        [*postfix_lines("pfx", 1, 3), heartbeat("pfx", 0, 2, {1: 5})],
        {"sent": 5, "received": 3, "missing": 2, "duplicated": 0, "complete": False},
    ),
    "one line arrived twice": (
        postfix_lines("pfx", 1, 2) + postfix_lines("pfx", 1, 1) + [heartbeat("pfx", 0, 1, {1: 2})],
        {"sent": 2, "received": 3, "missing": 0, "duplicated": 1, "complete": False},
    ),
    "lines of a minute the heartbeat has not covered yet are not a gap": (
        postfix_lines("pfx", 1, 2) + postfix_lines("pfx", 3, 7) + [heartbeat("pfx", 0, 1, {1: 2})],
        {"sent": 2, "received": 2, "missing": 0, "duplicated": 0, "complete": True},
    ),
    "a line RELP sent again after a reconnect is resent, not duplicated": (
        postfix_lines("pfx", 1, 2)
        + resent(postfix_lines("pfx", 1, 1), late=5)
        + [heartbeat("pfx", 0, 1, {1: 2})],
        {"sent": 2, "received": 2, "resent": 1, "duplicated": 0, "complete": True},
    ),
    "a line with an exact stamp sent again at once is resent": (
        [row("pfx", minute(1) + timedelta(microseconds=104233), "postfix/smtpd", "m")] * 2
        + [heartbeat("pfx", 0, 1, {1: 1})],
        {"sent": 1, "received": 1, "resent": 1, "duplicated": 0, "complete": True},
    ),
    "two real lines of one second, one of them resent": (
        postfix_lines("pfx", 1, 1) * 2
        + resent(postfix_lines("pfx", 1, 1), late=5)
        + [heartbeat("pfx", 0, 1, {1: 2})],
        {"sent": 2, "received": 2, "resent": 1, "missing": 0, "complete": True},
    ),
    "an unlisted minute means no line was logged then": (
        [*postfix_lines("pfx", 2, 1), heartbeat("pfx", 0, 3, {})],
        {"sent": 0, "received": 1, "missing": 0, "duplicated": 1, "complete": False},
    ),
}


@pytest.mark.parametrize("rows, expected", CASES.values(), ids=CASES.keys())
def test_sent_vs_received(db, rows, expected):
    store(db, rows)
    with db.connect() as conn:
        (gap,) = server_gaps(conn, T0 - timedelta(minutes=5))
    got = {k: getattr(gap, k) for k in expected}
    assert got == expected


def test_journald_drop_on_a_pfx_is_a_warning(db):
    store(
        db,
        [
            *postfix_lines("pfx", 1, 1),
            heartbeat("pfx", 0, 1, {1: 1}),
            row(
                "pfx",
                minute(2),
                "else-heartbeat",
                "journald warning: Forwarding to syslog missed 5 messages.",
            ),
        ],
    )
    with db.connect() as conn:
        (gap,) = server_gaps(conn, T0 - timedelta(minutes=5))
    assert (gap.journald_warnings, gap.complete) == (1, False)
    assert gap.last_journald_warning == "Forwarding to syslog missed 5 messages."


def test_each_host_is_compared_with_its_own_lines(db):
    store(
        db,
        postfix_lines("pfx", 1, 4)
        + postfix_lines("pfx2", 1, 1)
        + [heartbeat("pfx", 0, 1, {1: 4}), heartbeat("pfx2", 0, 1, {1: 2})],
    )
    with db.connect() as conn:
        gaps = {g.host: (g.sent, g.received, g.missing) for g in server_gaps(conn, T0)}
    assert gaps == {"pfx": (4, 4, 0), "pfx2": (2, 1, 1)}


@pytest.mark.parametrize(
    "message",
    [
        "RELP forwarder heartbeat",
        "mail lines per minute since 2026-13-01T00:00Z through 2026-13-01T00:01Z: ",
        "mail lines per minute since x through y: z",
        "",
    ],
)
def test_a_line_that_is_not_a_count_is_ignored(message):
    assert parse_heartbeat(message) is None


def test_a_period_that_starts_inside_a_minute_compares_from_the_next_whole_one(db):
    store(db, postfix_lines("pfx", 1, 3) + postfix_lines("pfx", 2, 2))
    store(db, [heartbeat("pfx", 0, 2, {1: 3, 2: 2})])
    with db.connect() as conn:
        (gap,) = server_gaps(conn, minute(1) + timedelta(seconds=30))
    assert (gap.sent, gap.received, gap.missing, gap.duplicated) == (2, 2, 0, 0)


@pytest.mark.parametrize(
    ("rows", "exit_code"),
    [
        ([*postfix_lines("pfx", 1, 2), heartbeat("pfx", 0, 1, {1: 2})], 0),
        ([*postfix_lines("pfx", 1, 1), heartbeat("pfx", 0, 1, {1: 2})], 1),
    ],
    ids=["complete", "a line missing"],
)
def test_elsectl_servers_gaps_exit_code_says_whether_every_server_is_complete(
    db, capsys, rows, exit_code
):
    store(db, rows)
    since = (T0 - timedelta(minutes=5)).isoformat()
    code = main(["servers", "gaps", "--dsn", db.dsn(), "--since", since, "--format", "json"])
    (gap,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (code, gap["host"], gap["missing"]) == (exit_code, "pfx", exit_code)


def test_elsectl_servers_gaps_says_a_resent_line_was_dropped(db, capsys):
    store(
        db,
        postfix_lines("pfx", 1, 2)
        + resent(postfix_lines("pfx", 1, 1), late=5)
        + [heartbeat("pfx", 0, 1, {1: 2})],
    )
    since = (T0 - timedelta(minutes=5)).isoformat()
    code = main(["servers", "gaps", "--dsn", db.dsn(), "--since", since])
    out = capsys.readouterr().out
    assert code == 0
    assert "pfx: complete: sent 2, received 2, missing 0, duplicated 0, resent 1" in out
