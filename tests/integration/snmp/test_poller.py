"""The poller and the audited control path, against the real snmpd and PostgreSQL.

The tables are the store's (its migrations run in the fixture); every write here is made
as the contract's role that makes it in production: else_worker (poller, CLI) and
else_web (the WUI's control buttons).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from snmp_env import AUTH_PASS, PRIV_PASS, USER, Pg, Postfix, Snmpd, free_port, wait_for

from else_core.cli import main
from else_core.config import Config
from else_core.errors import ElseError
from else_core.snmp import SnmpManager, targets_from_config
from else_core.snmp.audit import control_with_audit
from else_core.snmp.poller import run as run_poller

pytestmark = [pytest.mark.root, pytest.mark.snmpd, pytest.mark.postgres]


def config(snmpd: Snmpd, pg: Pg, dead_port: int | None = None, down_after: int = 2) -> Config:
    servers = [{"name": "pfx", "address": "127.0.0.1", "role": "outgoing"}]
    if dead_port is not None:
        servers.append({"name": "pfx-dead", "address": "127.0.0.3", "role": "incoming"})
    return Config(
        Path("/nonexistent/else.toml"),
        {
            "database": {"dsn": pg.dsn("else_worker")},
            "snmp": {
                "user": USER,
                "auth_key": AUTH_PASS,
                "priv_key": PRIV_PASS,
                "port": snmpd.port,
                "timeout": 0.4,
                "retries": 0,
                "poll_interval": 1,
                "down_after": down_after,
            },
            "servers": servers,
        },
    )


def rows(pg: Pg, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(pg.dsn("else_owner")) as conn:
        return conn.execute(query, params).fetchall()


def test_poll_once_stores_samples_and_server_state(snmpd: Snmpd, clean_db: Pg) -> None:
    cfg = config(snmpd, clean_db, dead_port=free_port())
    assert asyncio.run(run_poller(cfg, once=True)) == 0

    samples = {
        r[0]: r[1:] for r in rows(clean_db, "SELECT server, ok, error, metrics FROM snmp_samples")
    }
    ok, error, metrics = samples["pfx"]
    assert ok and error is None
    assert set(metrics["queues"]) == {"maildrop", "incoming", "active", "deferred", "hold", "total"}
    assert metrics["master_running"] is True
    dead_ok, dead_error, dead_metrics = samples["pfx-dead"]
    assert not dead_ok and "no answer from pfx-dead" in dead_error and dead_metrics is None

    state = {
        r[0]: r[1:]
        for r in rows(
            clean_db,
            "SELECT name, role, consecutive_failures, down, last_ok IS NOT NULL FROM servers",
        )
    }
    assert state["pfx"] == ("outgoing", 0, False, True)
    assert state["pfx-dead"] == ("incoming", 1, False, False)


def test_server_goes_down_after_n_failures_and_up_at_the_first_answer(
    snmpd: Snmpd, clean_db: Pg
) -> None:
    cfg = config(snmpd, clean_db, dead_port=free_port(), down_after=2)
    down = []
    for _ in range(3):
        asyncio.run(run_poller(cfg, once=True))
        down.append(
            rows(
                clean_db, "SELECT consecutive_failures, down FROM servers WHERE name = 'pfx-dead'"
            )[0]
        )
    assert down == [(1, False), (2, True), (3, True)]

    cfg.data["servers"][1]["address"] = "127.0.0.1"  # the server answers again
    asyncio.run(run_poller(cfg, once=True))
    assert rows(
        clean_db,
        "SELECT consecutive_failures, down, last_error FROM servers WHERE name = 'pfx-dead'",
    ) == [(0, False, None)]


def test_disabled_server_is_not_polled(snmpd: Snmpd, clean_db: Pg) -> None:
    cfg = config(snmpd, clean_db)
    asyncio.run(run_poller(cfg, once=True))
    with psycopg.connect(clean_db.dsn("else_owner"), autocommit=True) as conn:
        conn.execute("UPDATE servers SET snmp_enabled = false WHERE name = 'pfx'")
    asyncio.run(run_poller(cfg, once=True))
    assert rows(clean_db, "SELECT count(*) FROM snmp_samples") == [(1,)]


def test_poll_without_database_exits_3(snmpd: Snmpd, clean_db: Pg) -> None:
    cfg = config(snmpd, clean_db)
    cfg.data["database"]["dsn"] = f"host=127.0.0.1 port={free_port()} dbname=else user=x"
    assert asyncio.run(run_poller(cfg, once=True)) == 3


@pytest.mark.parametrize("role", ["else_worker", "else_web"])
def test_control_is_audited_as_the_app_role(
    snmpd: Snmpd, postfix: Postfix, clean_db: Pg, role: str
) -> None:
    queue_id = postfix.submit(f"audit-{role}@example.test")
    target = targets_from_config(config(snmpd, clean_db), "pfx")[0]

    async def act(action: str, qid: str) -> Any:
        with psycopg.connect(clean_db.dsn(role)) as conn:
            async with SnmpManager() as manager:
                return await control_with_audit(
                    manager, target, action, qid, actor="admin", conn=conn
                )

    assert asyncio.run(act("hold", queue_id)).ok
    assert postfix.queue_of(queue_id) == "hold"
    with pytest.raises(ElseError, match="invalid queue ID"):
        asyncio.run(act("delete", "ALL"))
    assert not asyncio.run(act("release", "ABCDEF0123")).ok
    assert asyncio.run(act("release", queue_id)).ok

    log = rows(
        clean_db,
        "SELECT actor, action, target, result, detail->>'queue_id' FROM audit_log ORDER BY id",
    )
    assert log == [
        ("admin", "snmp.hold", f"pfx:{queue_id}", "ok", queue_id),
        ("admin", "snmp.delete", "pfx:ALL", "refused", "ALL"),
        ("admin", "snmp.release", "pfx:ABCDEF0123", "failed", "ABCDEF0123"),
        ("admin", "snmp.release", f"pfx:{queue_id}", "ok", queue_id),
    ]


def test_cli_control_writes_the_audit_log(
    snmpd: Snmpd, postfix: Postfix, clean_db: Pg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue_id = postfix.submit("cli-audit@example.test")
    toml = tmp_path / "else.toml"
    toml.write_text(
        f'[database]\ndsn = "{clean_db.dsn("else_worker")}"\n'
        f'[snmp]\nuser = "{USER}"\nauth_key = "{AUTH_PASS}"\npriv_key = "{PRIV_PASS}"\n'
        f"port = {snmpd.port}\ntimeout = 2.0\n"
        '[[servers]]\nname = "pfx"\naddress = "127.0.0.1"\n'
    )
    monkeypatch.setenv("ELSE_CONFIG", str(toml))
    monkeypatch.delenv("ELSE_DSN", raising=False)
    assert main(["snmp", "delete", queue_id]) == 0
    assert main(["snmp", "hold", "not-a-qid"]) == 2
    assert postfix.queue_of(queue_id) is None
    log = rows(clean_db, "SELECT actor LIKE 'cli:%%', action, result FROM audit_log ORDER BY id")
    assert log == [(True, "snmp.delete", "ok"), (True, "snmp.hold", "refused")]


def test_poller_service_loops_until_sigterm(snmpd: Snmpd, clean_db: Pg, tmp_path: Path) -> None:
    """`elsectl snmp poll` as systemd runs it: rounds every poll_interval, clean exit on TERM."""
    toml = tmp_path / "else.toml"
    toml.write_text(
        f'[database]\ndsn = "{clean_db.dsn("else_worker")}"\n'
        f'[snmp]\nuser = "{USER}"\nauth_key = "{AUTH_PASS}"\npriv_key = "{PRIV_PASS}"\n'
        f"port = {snmpd.port}\ntimeout = 1.0\npoll_interval = 0.3\n"
        '[[servers]]\nname = "pfx"\naddress = "127.0.0.1"\n'
    )
    env = {**os.environ, "ELSE_CONFIG": str(toml)}
    env.pop("ELSE_DSN", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "else_core", "snmp", "poll"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            lambda: rows(clean_db, "SELECT count(*) FROM snmp_samples")[0][0] >= 3, 15, "3 rounds"
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert rows(clean_db, "SELECT bool_and(ok) FROM snmp_samples") == [(True,)]
