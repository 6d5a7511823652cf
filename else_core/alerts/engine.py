"""One evaluation round (``elsectl alert run --once``) and the service loop (``else-alerts``).

A round measures every enabled rule, each in its own savepoint, so a rule that fails (a
group that was deleted, a DNS server that does not answer) is recorded on that rule and
the others go on; its alerts are left as they are, never resolved for lack of data. The
state changes are committed before any message is sent, and the messages owed are then
sent one by one, each with its own timeout: a slow relay or webhook delays messages, not
the evaluation.
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType

import psycopg

from else_core.alerts import deliver, signals, store
from else_core.alerts.state import decide
from else_core.config import Config
from else_core.db import connect

log = logging.getLogger("else.alerts")


@dataclass(slots=True)
class RoundResult:
    rules: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    opened: int = 0
    resolved: int = 0
    sent: int = 0
    failed: int = 0


def channels(config: Config) -> store.Channels:
    settings = config.alerts
    to = tuple(a.strip() for a in settings.mail_to.split(",") if a.strip())
    return store.Channels(to, settings.webhook_url)


def evaluate(conn: psycopg.Connection, config: Config, now: datetime) -> RoundResult:
    """Measure every enabled rule and write the decisions (committed on return)."""
    result = RoundResult()
    chans = channels(config)
    with conn.transaction():
        rules = store.load_rules(conn, enabled_only=True)
    for rule in rules:
        assert rule.id is not None
        result.rules += 1
        try:
            with conn.transaction():
                ctx = signals.Context(conn, config, now, signals.scope_hosts(conn, rule))
                readings = signals.MEASURES[rule.kind](ctx, rule)
                active = store.active_alerts(conn, rule.id)
                for subject in sorted(set(readings) | set(active)):
                    current = active.get(subject)
                    reading = readings.get(subject)
                    d = decide(
                        rule,
                        current[1] if current else None,
                        reading.value if reading else None,
                        now,
                    )
                    store.apply(conn, rule, subject, current, d, reading, now, chans)
                    result.opened += d.action == "open"
                    result.resolved += d.action == "resolve"
                    if d.action in ("open", "resolve"):
                        log.warning("%s %s: %s", rule.name, d.action, subject)
                store.record_evaluation(conn, rule.id, now, None)
        except Exception as exc:
            if isinstance(exc, psycopg.OperationalError):
                raise
            reason = " ".join(str(exc).split()) or type(exc).__name__
            result.errors[rule.name] = reason
            log.error("rule %s: %s", rule.name, reason)
            with conn.transaction():
                store.record_evaluation(conn, rule.id, now, reason[:1000])
    return result


def send_pending(conn: psycopg.Connection, config: Config, now: datetime) -> tuple[int, int]:
    """Send the messages that are due; (sent, failed attempts). Each result is committed
    as it happens, so a crash mid-way sends nothing twice but the one in flight."""
    settings = config.alerts
    base_url = config.web.base_url
    sent = failed = 0
    with conn.transaction():
        due = store.pending_deliveries(conn, now)
    for p in due:
        try:
            deliver.send(p, settings, base_url)
        except deliver.DeliveryError as exc:
            failed += 1
            with conn.transaction():
                retry = store.delivery_failed(
                    conn, p.id, str(exc), now, settings.retry_interval, settings.max_attempts
                )
            log.error(
                "alert %d %s by %s: %s (%s)",
                p.alert_id,
                p.event,
                p.channel,
                exc,
                "will retry" if retry else "giving up",
            )
            continue
        sent += 1
        with conn.transaction():
            store.delivered(conn, p.id, datetime.now(UTC))
    return sent, failed


def run_once(conn: psycopg.Connection, config: Config, now: datetime | None = None) -> RoundResult:
    now = now or datetime.now(UTC)
    result = evaluate(conn, config, now)
    result.sent, result.failed = send_pending(conn, config, now)
    return result


def serve(config: Config, dsn: str) -> int:
    """Evaluate every ``[alerts] interval`` seconds until SIGTERM/SIGINT. A lost database is
    logged and retried on the next round; it never ends the service."""
    stop = threading.Event()

    def on_signal(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    interval = config.alerts.interval
    conn: psycopg.Connection | None = None
    log.info("evaluating alert rules every %g s", interval)
    while not stop.is_set():
        try:
            if conn is None or conn.closed:
                conn = connect(dsn, autocommit=True)
            result = run_once(conn, config)
            if result.errors or result.opened or result.resolved or result.failed:
                log.info(
                    "round: %d rules, %d opened, %d resolved, %d sent, %d failed, %d errors",
                    result.rules,
                    result.opened,
                    result.resolved,
                    result.sent,
                    result.failed,
                    len(result.errors),
                )
        except (psycopg.Error, OSError) as exc:
            log.error("database: %s", " ".join(str(exc).split()))
            if conn is not None:
                conn.close()
            conn = None
        except Exception as exc:
            log.error("%s", exc)
        stop.wait(interval)
    if conn is not None:
        conn.close()
    return 0
