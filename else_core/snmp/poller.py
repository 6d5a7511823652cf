"""The SNMP poller (``elsectl snmp poll``, the ``else-snmp-poller`` service).

Every ``[snmp] poll_interval`` seconds it asks every configured PFX for its status, all
at once, and stores one ``snmp_samples`` row per server (the metrics as JSON, or the
error). ``servers`` keeps the running state the WUI shows: a server is marked down after
``[snmp] down_after`` consecutive failures and up again at the first good answer.
A database outage is logged and retried on the next round; it never stops the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from else_core.config import SNMP_DEFAULTS, Config
from else_core.errors import ConfigError, ElseError
from else_core.snmp.client import SnmpManager, SnmpTarget, targets_from_config
from else_core.snmp.model import HostStatus

log = logging.getLogger("else.snmp.poller")


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """One server's answer in one round: a status, or the error line."""

    target: SnmpTarget
    at: datetime
    status: HostStatus | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status is not None


@dataclass(frozen=True, slots=True)
class ServerState:
    name: str
    consecutive_failures: int
    down: bool


def poller_settings(config: Config) -> tuple[float, int]:
    snmp = config.section("snmp")
    try:
        interval = float(snmp.get("poll_interval", SNMP_DEFAULTS.poll_interval))
        down_after = int(snmp.get("down_after", SNMP_DEFAULTS.down_after))
    except (TypeError, ValueError):
        raise ConfigError("[snmp] poll_interval and down_after must be numbers") from None
    if interval <= 0 or down_after < 1:
        raise ConfigError("[snmp] poll_interval must be > 0 and down_after >= 1")
    return interval, down_after


async def poll_all(manager: SnmpManager, targets: list[SnmpTarget]) -> list[PollOutcome]:
    async def one(t: SnmpTarget) -> PollOutcome:
        at = datetime.now(UTC)
        try:
            return PollOutcome(t, at, await manager.status(t), None)
        except ElseError as exc:
            return PollOutcome(t, at, None, str(exc))

    return list(await asyncio.gather(*(one(t) for t in targets)))


def store(
    conn: psycopg.Connection[Any], config: Config, outcomes: list[PollOutcome], down_after: int
) -> list[ServerState]:
    """Write one round: upsert each server, add its sample, update its up/down state."""
    roles = {s.name: s.role for s in config.servers}
    states = []
    with conn.transaction():
        for o in outcomes:
            t = o.target
            conn.execute(
                "INSERT INTO servers (name, address, role) VALUES (%s, %s, %s)"
                " ON CONFLICT (name) DO UPDATE SET address = EXCLUDED.address,"
                " role = EXCLUDED.role",
                (t.name, t.address, roles.get(t.name, "mixed")),
            )
            conn.execute(
                "INSERT INTO snmp_samples (server, at, ok, error, metrics)"
                " VALUES (%s, %s, %s, %s, %s)",
                (t.name, o.at, o.ok, o.error, Jsonb(o.status.metrics()) if o.status else None),
            )
            if o.ok:
                row = conn.execute(
                    "UPDATE servers SET consecutive_failures = 0, down = false, last_poll = %s,"
                    " last_ok = %s, last_error = NULL WHERE name = %s"
                    " RETURNING consecutive_failures, down",
                    (o.at, o.at, t.name),
                ).fetchone()
            else:
                row = conn.execute(
                    "UPDATE servers SET consecutive_failures = consecutive_failures + 1,"
                    " down = (consecutive_failures + 1 >= %s), last_poll = %s, last_error = %s"
                    " WHERE name = %s RETURNING consecutive_failures, down",
                    (down_after, o.at, o.error, t.name),
                ).fetchone()
            assert row is not None
            states.append(ServerState(t.name, int(row[0]), bool(row[1])))
    return states


def enabled_targets(conn: psycopg.Connection[Any], targets: list[SnmpTarget]) -> list[SnmpTarget]:
    """Servers an administrator switched off (servers.snmp_enabled = false) are skipped."""
    off = {
        r[0] for r in conn.execute("SELECT name FROM servers WHERE snmp_enabled = false").fetchall()
    }
    conn.commit()
    return [t for t in targets if t.name not in off]


async def run(config: Config, *, once: bool = False, dsn: str | None = None) -> int:
    """Poll until SIGTERM/SIGINT (or one round with ``once``); exit code 0, or 3 when
    ``once`` could not reach the database."""
    interval, down_after = poller_settings(config)
    targets = targets_from_config(config)
    conninfo = config.dsn(dsn)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    conn: psycopg.Connection[Any] | None = None
    previous: dict[str, bool] = {}
    try:
        async with SnmpManager() as manager:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    if conn is None or conn.closed:
                        conn = psycopg.connect(conninfo, connect_timeout=10)
                    outcomes = await poll_all(manager, enabled_targets(conn, targets))
                    for state in store(conn, config, outcomes, down_after):
                        if previous.get(state.name) != state.down:
                            log.warning("%s is %s", state.name, "DOWN" if state.down else "up")
                        previous[state.name] = state.down
                    for o in outcomes:
                        if o.error:
                            log.info("%s: %s", o.target.name, o.error)
                except psycopg.Error as exc:
                    log.error("database: %s", " ".join(str(exc).split()))
                    if conn is not None:
                        conn.close()
                    conn = None
                    if once:
                        return 3
                if once:
                    break
                delay = max(0.0, interval - (time.monotonic() - started))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        if conn is not None:
            conn.close()
    return 0
