"""The backend/frontend split on real hosts: the frontend's hot standby, and each side away.

Why: the frontend reads its own hot standby of the backend's PostgreSQL and writes the backend's
primary (issue 17, part 2). What a mail administrator must be able to rely on, shown here on
the lab's four hosts with real mail:

- the standby streams from the primary over TLS and replays while mail flows (the lag is
  measured and printed, never asserted against a time);
- the backend's PostgreSQL stopped: the frontend still serves searches, with the read-only
  banner, and refuses writes with a clear 503;
- the frontend away (its link cut): ingest on the backend is unaffected, proven line by line
  (every line pfx-in and pfx-out logged is in raw_events once), and the standby catches up
  once the frontend is back (the time it takes is printed).

Figures go to test-artifacts/split.jsonl (molecule/split's verify shows them) for
docs/scale.md. Every test restores what it broke, in a ``finally``.
"""

from __future__ import annotations

import json
import math
import secrets
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.infra import reconcile as rc
from tests.infra_split.conftest import (
    BANNER,
    READ_ONLY,
    REPO,
    Layout,
    Web,
    emails,
    record,
    send,
    sql,
    wait_for,
)

# Mails of the burst the replay lag is sampled under (each crosses both PFX: 16 lines a mail),
# and of the burst sent while the frontend is away, which stays away at least AWAY seconds
# (longer than a burst takes, so the standby misses a stretch of WAL with no mail in it too).
LAG_BURST = 1000
BURST = 300
AWAY = 30
CONNECTIONS = 10
# Seconds the backend may take to ingest and correlate a burst, and the standby to catch up.
SETTLE = 300


def tag() -> str:
    return time.strftime("%H%M%S", time.gmtime()) + secrets.token_hex(3)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def caught_up(backend, frontend) -> float:
    """Seconds until the standby has replayed what the primary had written when asked."""
    target = sql(backend, "SELECT pg_current_wal_lsn()")

    def replayed() -> bool:
        at = sql(frontend, "SELECT pg_last_wal_replay_lsn()")
        diff = sql(
            backend, "SELECT pg_wal_lsn_diff(:'at', :'target')::bigint", at=at, target=target
        )
        return int(diff) >= 0

    return wait_for(replayed, SETTLE, 0.1)


# Runs on the backend as postgres: samples the standby's replay lag every 0.2 s until the stop
# file appears (pg_stat_replication's replay_lag is NULL while the standby has nothing to do).
_SAMPLER = """
import json, os, sys, time
import psycopg2
stop = sys.argv[1]
conn = psycopg2.connect(dbname="else")
conn.autocommit = True
cur = conn.cursor()
while not os.path.exists(stop):
    cur.execute(
        "SELECT extract(epoch FROM replay_lag), pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)"
        " FROM pg_stat_replication WHERE state = 'streaming'"
    )
    row = cur.fetchone() if cur.rowcount else None
    lag = float(row[0]) if row and row[0] is not None else None
    print(json.dumps([time.time(), lag, float(row[1]) if row else None]), flush=True)
    time.sleep(0.2)
"""


def lab_ssh(layout: Layout, host: str, command: str) -> list[str]:
    return [sys.executable, str(REPO / "lab/lab.py"), "-i", layout.instance, "ssh", host, command]


def burst_through_both(layout: Layout, pfx_in, pfx_out, prefix: str, count: int) -> float:
    """`count` mails from the internet to pfx-in for the world: each crosses to pfx-out. Returns
    the seconds until both PFX have delivered them all (and so logged every line)."""
    started = time.monotonic()
    rc.send_burst(layout.address[layout.pfx_in], f"{prefix}@sink.test", prefix, count, CONNECTIONS)
    sender = f"{prefix}@burst.invalid"

    def drained() -> bool:
        return all(
            not any(
                json.loads(x).get("sender") == sender
                for x in h.check_output("postqueue -j").splitlines()
            )
            for h in (pfx_in, pfx_out)
        )

    wait_for(drained, SETTLE, 1.0)
    return time.monotonic() - started


def delivered_count(backend, prefix: str) -> int:
    """E-mails of a burst the backend has correlated as delivered (on the primary)."""
    statement = (
        "SELECT count(*) FROM emails WHERE message_id LIKE :'prefix' || '.%@burst.test'"
        " AND status = 'delivered'"
    )
    return int(sql(backend, statement, prefix=prefix))


def test_the_standby_streams_from_the_primary_over_tls(backend):
    row = sql(
        backend,
        "SELECT r.state, s.ssl, r.sync_state FROM pg_stat_replication r"
        " JOIN pg_stat_ssl s USING (pid)",
    )
    assert row.split("|") == ["streaming", "t", "async"]


def test_the_standby_replays_while_mail_flows(
    layout, backend, frontend, pfx_in, pfx_out, wui: Web, api_token
):
    stop = f"/tmp/else-split-sampler-{tag()}"
    script = "runuser -u postgres -- python3 -c " + " ".join(
        shlex.quote(a) for a in (_SAMPLER, stop)
    )
    sampler = subprocess.Popen(
        lab_ssh(layout, layout.backend, script), stdout=subprocess.PIPE, text=True
    )
    prefix = f"lag-{tag()}"
    try:
        time.sleep(1)
        delivered_s = burst_through_both(layout, pfx_in, pfx_out, prefix, LAG_BURST)
        ingested_s = wait_for(lambda: delivered_count(backend, prefix) == LAG_BURST, SETTLE, 1.0)
        after_s = caught_up(backend, frontend)
    finally:
        backend.run(f"touch {stop}")
        out, _ = sampler.communicate(timeout=60)
        backend.run(f"rm -f {stop}")
    samples = [json.loads(line) for line in out.splitlines() if line.startswith("[")]
    lags = [s[1] * 1000 for s in samples if s[1] is not None]
    behind = [s[2] for s in samples if s[2] is not None]
    # The frontend's API (reading its standby) finds the burst's mail, each one once.
    found = wui.api("/api/v1/search", api_token, sender=f"{prefix}@burst.invalid")
    record(
        "replica_lag_while_mail_flows",
        mails=LAG_BURST,
        samples=len(samples),
        lag_samples=len(lags),
        lag_ms_p50=round(percentile(lags, 0.5), 1) if lags else None,
        lag_ms_p95=round(percentile(lags, 0.95), 1) if lags else None,
        lag_ms_max=round(max(lags), 1) if lags else None,
        behind_bytes_p95=percentile(behind, 0.95) if behind else None,
        behind_bytes_max=max(behind) if behind else None,
        pfx_delivered_s=round(delivered_s, 1),
        ingested_after_s=round(ingested_s, 1),
        standby_caught_up_after_s=round(after_s, 2),
    )
    got = found.json().get("total") if found.status == 200 else found.text[:300]
    assert (len(lags) > 0, got) == (True, LAG_BURST)


# Debian's postgresql.service only stands for the clusters: stopping it returns while the cluster
# unit is still shutting down, so the cluster units are named too (systemctl then waits).
# `systemctl start` waits for postgresql.service's own job only, not for the cluster unit's
# start job it pulls in: the server may accept connections while that job still runs, and a
# stop issued then cancels it ("Job for postgresql@15-main.service canceled."). Starting is
# done when the server answers and systemd holds no job for any postgresql unit.
STOP_DB = "systemctl stop postgresql.service 'postgresql@*.service'"
START_DB = (
    "systemctl start postgresql.service"
    " && timeout 60 sh -c 'until pg_isready -q"
    " && ! systemctl list-jobs --no-legend | grep -q postgresql; do sleep 0.2; done'"
)


@pytest.fixture
def backend_db_stopped(backend) -> Iterator[None]:
    """The backend's PostgreSQL stopped for the test, started again after it."""
    backend.check_output(STOP_DB)
    try:
        yield
    finally:
        backend.check_output(START_DB)


@pytest.fixture(scope="module")
def known_mail(layout: Layout, backend, frontend) -> str:
    """A delivered mail the standby has replayed: what the searches below look for."""
    message_id = f"known-{tag()}@split.test"
    send(
        layout.address[layout.pfx_in],
        "known@sink.test",
        f"labuser@{layout.domain(layout.pfx_in)}",
        message_id,
    )
    wait_for(
        lambda: any(
            r["status"] == "delivered" for e in emails(backend, message_id) for r in e["recipients"]
        ),
        120,
        1.0,
    )
    caught_up(backend, frontend)
    return message_id


def test_searches_are_served_with_the_banner_while_the_backend_database_is_down(
    known_mail, wui: Web, backend_db_stopped
):
    page = wui.get("/search", q=f"<{known_mail}>")
    assert (page.status, known_mail in page.text, BANNER in page.text) == (200, True, True)


def test_the_api_answers_while_the_backend_database_is_down(
    known_mail, wui: Web, api_token, backend_db_stopped
):
    res = wui.api("/api/v1/search", api_token, message_id=known_mail)
    assert (res.status, [e["message_id"] for e in res.json()["emails"]]) == (200, [known_mail])


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/searches/save", {"name": "while-down", "query": "q=x"}),
        ("/admin/groups", {"name": "downgroup"}),
        ("/account/tz", {"tz": "Europe/Paris"}),
    ],
)
def test_a_write_while_the_backend_database_is_down_is_refused_clearly(
    wui: Web, backend_db_stopped, path, form
):
    res = wui.post(path, form)
    assert (res.status, READ_ONLY in res.text) == (503, True)


def test_writes_resume_when_the_backend_database_is_back(wui: Web, backend, frontend):
    name = f"after-{tag()}"
    backend.check_output(STOP_DB)
    try:
        refused = wui.post("/searches/save", {"name": name, "query": "q=x"}).status
    finally:
        backend.check_output(START_DB)
    # The WUI waits RECHECK_SECONDS (10 s) before it tries a primary it found down again.
    wait_for(
        lambda: wui.post("/searches/save", {"name": name, "query": "q=x"}).status == 303, 60, 2.0
    )
    caught_up(backend, frontend)
    on_standby = sql(
        frontend, "SELECT count(*) FROM saved_searches WHERE name = :'name'", name=name
    )
    assert (refused, on_standby) == (503, "1")


def test_ingest_is_unaffected_while_the_frontend_is_away_and_it_catches_up(
    layout, backend, frontend, pfx_in, pfx_out, lab_link
):
    prefix = f"away-{tag()}"
    offsets = {
        h: rc.mail_log_size(rc.remote(x))
        for h, x in ((layout.pfx_in, pfx_in), (layout.pfx_out, pfx_out))
    }
    time.sleep(1.0 - time.time() % 1.0)
    lo = time.time()
    lab_link(layout.frontend, "down")
    away = time.monotonic()
    try:
        delivered_s = burst_through_both(layout, pfx_in, pfx_out, prefix, BURST)
        ingested_s = wait_for(lambda: delivered_count(backend, prefix) == BURST, SETTLE, 1.0)
        hi = time.time()
        time.sleep(3)  # rsyslog writes mail.log a moment after the journal has a line
        year = time.gmtime(lo).tm_year
        results: dict[str, rc.Reconciliation] = {}
        for name, host in ((layout.pfx_in, pfx_in), (layout.pfx_out, pfx_out)):
            mine = rc.in_window(rc.pfx_lines(rc.remote(host), offsets[name], year), lo, hi)
            results[name] = rc.reconcile(mine, rc.else_lines(rc.remote(backend), name, lo, hi))
        time.sleep(max(0.0, AWAY - (time.monotonic() - away)))
        behind = slot_behind(backend)
    finally:
        lab_link(layout.frontend, "up")
    away_s = time.monotonic() - away
    catch_up_s = caught_up(backend, frontend)
    record(
        "frontend_away",
        mails=BURST,
        away_s=round(away_s, 1),
        pfx_delivered_s=round(delivered_s, 1),
        ingested_after_s=round(ingested_s, 1),
        lines={
            n: [r.pfx_lines, r.else_lines, len(r.missing), len(r.duplicated)]
            for n, r in results.items()
        },
        wal_behind_bytes=behind,
        standby_caught_up_after_s=round(catch_up_s, 2),
    )
    summary = {n: (len(r.missing), len(r.duplicated), r.pfx_lines > 0) for n, r in results.items()}
    assert summary == dict.fromkeys(results, (0, 0, True)), {
        n: r.summary() for n, r in results.items()
    }


def slot_behind(backend) -> Any:
    """What the primary knows of its standby while the frontend is away (its slot's lag)."""
    return sql(
        backend,
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint FROM pg_replication_slots",
    )
