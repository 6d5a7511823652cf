"""Control actions with an audit trail: the one path the CLI and the WUI both take.

Every control action sent to a PFX (flush, hold, release, delete, requeue) becomes one
``audit_log`` row: who, what, on which server and queue ID, and what the PFX answered,
including refusals and failures, so an administrator can later see every attempt.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from else_core.errors import ElseError
from else_core.snmp.client import SnmpManager, SnmpTarget
from else_core.snmp.model import ControlResult


def record_control(  # noqa: PLR0913 - keyword-only, one per audit row field
    conn: psycopg.Connection[Any],
    *,
    actor: str,
    server: str,
    action: str,
    queue_id: str | None,
    result: str,
    message: str,
) -> int:
    """Insert one audit row (``action`` = ``snmp.<action>``) and return its id.

    ``result`` is ``ok``, ``failed`` (the PFX ran the command and it failed), ``refused``
    (invalid input, access denied) or ``error`` (no answer, wrong credentials).
    """
    row = conn.execute(
        "INSERT INTO audit_log (actor, action, target, result, detail)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING id",
        (
            actor,
            f"snmp.{action}",
            f"{server}:{queue_id or '*'}",
            result,
            Jsonb({"server": server, "queue_id": queue_id, "message": message[:1000]}),
        ),
    ).fetchone()
    conn.commit()
    assert row is not None
    return int(row[0])


async def control_with_audit(  # noqa: PLR0913 - the control's 4 + who + where to audit
    manager: SnmpManager,
    target: SnmpTarget,
    action: str,
    queue_id: str | None,
    *,
    actor: str,
    conn: psycopg.Connection[Any] | None,
) -> ControlResult:
    """Send one control action and audit it, whatever happens; errors are re-raised."""
    try:
        result = await manager.control(target, action, queue_id)
    except ElseError as exc:
        if conn is not None:
            kind = "refused" if "refused" in type(exc).__name__.lower() else "error"
            if "invalid queue ID" in str(exc) or "unknown action" in str(exc):
                kind = "refused"
            record_control(
                conn,
                actor=actor,
                server=target.name,
                action=action,
                queue_id=queue_id,
                result=kind,
                message=str(exc),
            )
        raise
    if conn is not None:
        record_control(
            conn,
            actor=actor,
            server=target.name,
            action=result.action,
            queue_id=queue_id,
            result="ok" if result.ok else "failed",
            message=result.message,
        )
    return result


def recent_controls(
    conn: psycopg.Connection[Any], server: str, seconds: int
) -> list[tuple[str, str]]:
    """``(action, queue_id)`` of the control actions on ``server`` that succeeded in the
    last ``seconds``, oldest first: the WUI applies them to a queue listing the PFX's agent
    may have cached from before them."""
    rows = conn.execute(
        "SELECT action, detail->>'queue_id' FROM audit_log"
        " WHERE action LIKE 'snmp.%%' AND result = 'ok' AND detail->>'server' = %s"
        " AND detail->>'queue_id' IS NOT NULL AND at > now() - make_interval(secs => %s)"
        " ORDER BY id",
        (server, seconds),
    ).fetchall()
    return [(str(a).removeprefix("snmp."), str(q)) for a, q in rows]
