"""The alert tables: rules, alerts, their events and the deliveries owed for them.

Every state change of an alert writes its event, and the messages it owes, in the same
transaction: a crash or a relay that is down can delay a message, never drop it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from else_core.alerts.rules import Rule, validate
from else_core.alerts.signals import Reading
from else_core.alerts.state import Active, Decision
from else_core.errors import ElseError

STATES = ("open", "acknowledged", "resolved")
_RULE_COLUMNS = (
    "id, name, kind, threshold, resolve_threshold, window_minutes, clear_after,"
    " repeat_minutes, scope_kind, scope_value, params, enabled"
)
#: Fields ``set_rule`` may change.
EDITABLE = (
    "kind",
    "threshold",
    "resolve_threshold",
    "window_minutes",
    "clear_after",
    "repeat_minutes",
    "scope_kind",
    "scope_value",
    "params",
    "enabled",
)


def _rule(row: dict[str, Any]) -> Rule:
    return Rule(
        name=row["name"],
        kind=row["kind"],
        threshold=row["threshold"],
        resolve_threshold=row["resolve_threshold"],
        window_minutes=row["window_minutes"],
        clear_after=row["clear_after"],
        repeat_minutes=row["repeat_minutes"],
        scope_kind=row["scope_kind"],
        scope_value=row["scope_value"],
        params=dict(row["params"] or {}),
        enabled=row["enabled"],
        id=row["id"],
    )


def load_rules(conn: psycopg.Connection, enabled_only: bool = False) -> list[Rule]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"SELECT {_RULE_COLUMNS} FROM alert_rules"  # noqa: S608 - fixed column list
            " WHERE enabled OR NOT %s ORDER BY name",
            (enabled_only,),
        ).fetchall()
    return [_rule(r) for r in rows]


def rule_status(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Every rule with its last evaluation, error and number of unresolved alerts (for lists)."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"SELECT {_RULE_COLUMNS}, last_evaluated_at, last_error, updated_at, updated_by,"  # noqa: S608 - fixed column list
            " (SELECT count(*) FROM alerts a WHERE a.rule_id = r.id AND a.state <> 'resolved')"
            " AS active FROM alert_rules r ORDER BY name"
        ).fetchall()
    for r in rows:
        r["rule"] = _rule(r)
    return rows


def get_rule(conn: psycopg.Connection, name: str) -> Rule:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"SELECT {_RULE_COLUMNS} FROM alert_rules WHERE name = %s",  # noqa: S608 - fixed column list
            (name,),
        ).fetchone()
    if row is None:
        raise ElseError(f"no alert rule named {name!r}")
    return _rule(row)


def _audit(conn: psycopg.Connection, actor: str, action: str, target: str, detail: Any) -> None:
    conn.execute(
        "INSERT INTO audit_log (actor, action, target, result, detail)"
        " VALUES (%s, %s, %s, 'ok', %s)",
        (actor[:200], action, target[:500], Jsonb(detail)),
    )


def _rule_values(rule: Rule) -> tuple[Any, ...]:
    return (
        rule.kind,
        rule.threshold,
        rule.resolve_threshold,
        rule.window_minutes,
        rule.clear_after,
        rule.repeat_minutes,
        rule.scope_kind,
        rule.scope_value,
        Jsonb(rule.params),
        rule.enabled,
    )


def add_rule(conn: psycopg.Connection, rule: Rule, actor: str) -> Rule:
    rule = validate(rule)
    with conn.transaction():
        if conn.execute("SELECT 1 FROM alert_rules WHERE name = %s", (rule.name,)).fetchone():
            raise ElseError(f"an alert rule named {rule.name!r} exists already")
        row = conn.execute(
            "INSERT INTO alert_rules (kind, threshold, resolve_threshold, window_minutes,"
            " clear_after, repeat_minutes, scope_kind, scope_value, params, enabled, name,"
            " updated_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (*_rule_values(rule), rule.name, actor),
        ).fetchone()
        _audit(conn, actor, "alert rule add", rule.name, {"kind": rule.kind})
    assert row is not None
    return replace(rule, id=int(row[0]))


def set_rule(conn: psycopg.Connection, name: str, changes: dict[str, Any], actor: str) -> Rule:
    """Change some fields of a rule (validated as a whole); unknown fields are an error."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ElseError(f"cannot change {', '.join(unknown)} of a rule")
    with conn.transaction():
        rule = validate(replace(get_rule(conn, name), **changes))
        conn.execute(
            "UPDATE alert_rules SET kind = %s, threshold = %s, resolve_threshold = %s,"
            " window_minutes = %s, clear_after = %s, repeat_minutes = %s, scope_kind = %s,"
            " scope_value = %s, params = %s, enabled = %s, updated_at = now(), updated_by = %s,"
            " last_error = NULL WHERE name = %s",
            (*_rule_values(rule), actor, name),
        )
        _audit(conn, actor, "alert rule set", name, {k: str(v) for k, v in changes.items()})
    return rule


def delete_rule(conn: psycopg.Connection, name: str, actor: str) -> None:
    with conn.transaction():
        if conn.execute("DELETE FROM alert_rules WHERE name = %s", (name,)).rowcount != 1:
            raise ElseError(f"no alert rule named {name!r}")
        _audit(conn, actor, "alert rule delete", name, {})


def record_evaluation(
    conn: psycopg.Connection, rule_id: int, now: datetime, error: str | None
) -> None:
    conn.execute(
        "UPDATE alert_rules SET last_evaluated_at = %s, last_error = %s WHERE id = %s",
        (now, error, rule_id),
    )


def active_alerts(conn: psycopg.Connection, rule_id: int) -> dict[str, tuple[int, Active]]:
    """The rule's unresolved alerts by subject: (alert id, state for :func:`decide`)."""
    rows = conn.execute(
        "SELECT subject, id, state, clear_count, last_notified_at FROM alerts"
        " WHERE rule_id = %s AND state <> 'resolved'",
        (rule_id,),
    ).fetchall()
    return {r[0]: (int(r[1]), Active(r[2], int(r[3]), r[4])) for r in rows}


@dataclass(frozen=True, slots=True)
class Channels:
    """Where the messages of new events go (from ``[alerts]``)."""

    mail_to: tuple[str, ...] = ()
    webhook_url: str = ""

    def targets(self) -> list[tuple[str, str]]:
        out = [("email", a) for a in self.mail_to]
        if self.webhook_url:
            out.append(("webhook", self.webhook_url))
        return out


def _event(  # noqa: PLR0913 - an event and the channels it notifies
    conn: psycopg.Connection,
    alert_id: int,
    kind: str,
    now: datetime,
    value: float | None,
    detail: str,
    channels: Channels | None,
    actor: str | None = None,
) -> int:
    row = conn.execute(
        "INSERT INTO alert_events (alert_id, at, kind, actor, value, detail)"
        " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (alert_id, now, kind, actor, value, detail),
    ).fetchone()
    assert row is not None
    event_id = int(row[0])
    for channel, target in channels.targets() if channels else []:
        conn.execute(
            "INSERT INTO alert_deliveries (event_id, channel, target, next_attempt_at)"
            " VALUES (%s, %s, %s, %s)",
            (event_id, channel, target, now),
        )
    return event_id


def apply(  # noqa: PLR0913 - the decision and everything it is about
    conn: psycopg.Connection,
    rule: Rule,
    subject: str,
    current: tuple[int, Active] | None,
    decision: Decision,
    reading: Reading | None,
    now: datetime,
    channels: Channels,
) -> None:
    """Write one decision of :func:`else_core.alerts.state.decide`."""
    value = reading.value if reading else None
    summary = reading.summary if reading else f"{subject}: no longer measured"
    if decision.action == "none":
        return
    if decision.action == "open":
        row = conn.execute(
            "INSERT INTO alerts (rule_id, subject, state, value, summary, opened_at,"
            " last_seen_at, last_notified_at) VALUES (%s, %s, 'open', %s, %s, %s, %s, %s)"
            " RETURNING id",
            (rule.id, subject, value, summary, now, now, now),
        ).fetchone()
        assert row is not None
        _event(conn, int(row[0]), "opened", now, value, summary, channels)
        return
    assert current is not None
    alert_id = current[0]
    if decision.action == "resolve":
        conn.execute(
            "UPDATE alerts SET state = 'resolved', resolved_at = %s, clear_count = %s,"
            " value = COALESCE(%s, value), last_notified_at = %s WHERE id = %s",
            (now, decision.clear_count, value, now, alert_id),
        )
        _event(conn, alert_id, "resolved", now, value, summary, channels)
        return
    if reading is not None:
        conn.execute(
            "UPDATE alerts SET value = %s, summary = %s, last_seen_at = %s, clear_count = %s"
            " WHERE id = %s",
            (value, summary, now, decision.clear_count, alert_id),
        )
    else:
        conn.execute(
            "UPDATE alerts SET clear_count = %s WHERE id = %s", (decision.clear_count, alert_id)
        )
    if decision.action == "remind":
        conn.execute("UPDATE alerts SET last_notified_at = %s WHERE id = %s", (now, alert_id))
        _event(conn, alert_id, "reminder", now, value, summary, channels)


def acknowledge(conn: psycopg.Connection, alert_id: int, actor: str) -> None:
    """Mark an open alert acknowledged by ``actor`` (no more reminders; still resolves)."""
    with conn.transaction():
        row = conn.execute(
            "UPDATE alerts SET state = 'acknowledged', acknowledged_at = now(),"
            " acknowledged_by = %s WHERE id = %s AND state = 'open' RETURNING value",
            (actor[:200], alert_id),
        ).fetchone()
        if row is None:
            state = conn.execute("SELECT state FROM alerts WHERE id = %s", (alert_id,)).fetchone()
            if state is None:
                raise ElseError(f"no alert {alert_id}")
            raise ElseError(f"alert {alert_id} is {state[0]}, not open")
        _event(conn, alert_id, "acknowledged", _now(conn), row[0], f"by {actor}", None, actor)
        _audit(conn, actor, "alert ack", str(alert_id), {})


def _now(conn: psycopg.Connection) -> datetime:
    row = conn.execute("SELECT now()").fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]  # now() is a timestamptz


_ALERT_SELECT = (
    "SELECT a.id, a.subject, a.state, a.value, a.summary, a.opened_at, a.last_seen_at,"
    " a.acknowledged_at, a.acknowledged_by, a.resolved_at, r.name AS rule, r.kind,"
    " r.threshold FROM alerts a JOIN alert_rules r ON r.id = a.rule_id"
)


def list_alerts(
    conn: psycopg.Connection, states: tuple[str, ...] = STATES, limit: int = 200
) -> list[dict[str, Any]]:
    """Alerts in ``states``, unresolved first, newest first."""
    bad = sorted(set(states) - set(STATES))
    if bad:
        raise ElseError(f"unknown alert state {bad[0]!r} (known: {', '.join(STATES)})")
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            _ALERT_SELECT + " WHERE a.state = ANY(%s)"
            " ORDER BY a.state = 'resolved', a.opened_at DESC, a.id DESC LIMIT %s",
            (list(states), limit),
        ).fetchall()


def alert_detail(conn: psycopg.Connection, alert_id: int) -> dict[str, Any]:
    """One alert with its events (history) and each event's deliveries."""
    with conn.cursor(row_factory=dict_row) as cur:
        alert = cur.execute(_ALERT_SELECT + " WHERE a.id = %s", (alert_id,)).fetchone()
        if alert is None:
            raise ElseError(f"no alert {alert_id}")
        alert["events"] = cur.execute(
            "SELECT id, at, kind, actor, value, detail FROM alert_events WHERE alert_id = %s"
            " ORDER BY at, id",
            (alert_id,),
        ).fetchall()
        alert["deliveries"] = cur.execute(
            "SELECT d.id, d.event_id, e.kind AS event, d.channel, d.target, d.state, d.attempts,"
            " d.last_error, d.sent_at FROM alert_deliveries d JOIN alert_events e"
            " ON e.id = d.event_id WHERE e.alert_id = %s ORDER BY d.id",
            (alert_id,),
        ).fetchall()
    return alert


def unresolved_count(conn: psycopg.Connection) -> tuple[int, int] | None:
    """(open, acknowledged) alerts: the WUI's banner. None when they cannot be counted (a
    database without the alert tables yet, a lost connection): the page still renders."""
    try:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE state = 'open'),"
            " count(*) FILTER (WHERE state = 'acknowledged') FROM alerts"
            " WHERE state <> 'resolved'"
        ).fetchone()
    except psycopg.Error:
        return None
    return (int(row[0]), int(row[1])) if row else (0, 0)


@dataclass(frozen=True, slots=True)
class Pending:
    """A message still owed, with what the message says."""

    id: int
    channel: str
    target: str
    attempts: int
    event: str
    at: datetime
    alert_id: int
    subject: str
    state: str
    value: float | None
    detail: str
    rule: str
    kind: str
    threshold: float


def pending_deliveries(conn: psycopg.Connection, now: datetime, limit: int = 100) -> list[Pending]:
    rows = conn.execute(
        "SELECT d.id, d.channel, d.target, d.attempts, e.kind, e.at, a.id, a.subject, a.state,"
        " e.value, e.detail, r.name, r.kind, r.threshold FROM alert_deliveries d"
        " JOIN alert_events e ON e.id = d.event_id JOIN alerts a ON a.id = e.alert_id"
        " JOIN alert_rules r ON r.id = a.rule_id"
        " WHERE d.state = 'pending' AND d.next_attempt_at <= %s ORDER BY d.id LIMIT %s",
        (now, limit),
    ).fetchall()
    return [Pending(*r) for r in rows]


def delivered(conn: psycopg.Connection, delivery_id: int, now: datetime) -> None:
    conn.execute(
        "UPDATE alert_deliveries SET state = 'sent', attempts = attempts + 1, sent_at = %s,"
        " last_error = NULL WHERE id = %s",
        (now, delivery_id),
    )


def delivery_failed(  # noqa: PLR0913 - the failure and the retry policy
    conn: psycopg.Connection,
    delivery_id: int,
    error: str,
    now: datetime,
    retry_interval: float,
    max_attempts: int,
) -> bool:
    """Record a failed attempt; retry later with a doubling delay (at most an hour) until
    ``max_attempts``, then mark the delivery failed (kept, shown). True when it will retry."""
    row = conn.execute(
        "SELECT attempts FROM alert_deliveries WHERE id = %s", (delivery_id,)
    ).fetchone()
    attempts = (int(row[0]) if row else 0) + 1
    retry = attempts < max_attempts
    delay = min(retry_interval * 2 ** (attempts - 1), 3600.0)
    conn.execute(
        "UPDATE alert_deliveries SET attempts = %s, last_error = %s, state = %s,"
        " next_attempt_at = %s WHERE id = %s",
        (
            attempts,
            error[:1000],
            "pending" if retry else "failed",
            now + timedelta(seconds=delay),
            delivery_id,
        ),
    )
    return retry
