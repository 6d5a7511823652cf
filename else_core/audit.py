"""Reading the audit log (who did what, when, with which result).

Rows are written where the action happens: :func:`else_core.accounts.audit` for account
and admin changes and log-ins, :mod:`else_core.snmp.audit` for queue control. This module
is the administrators' view of them.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from else_core.story import audit_window

PAGE = 200


def entries(
    conn: psycopg.Connection, actor: str = "", action: str = "", limit: int = PAGE
) -> list[dict[str, Any]]:
    """The newest rows, optionally of one actor and of actions starting with ``action``."""
    actor, action = actor.strip(), action.strip()
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT at, actor, action, target, result, detail FROM audit_log"
            " WHERE (%s = '' OR actor = %s) AND (%s = '' OR action LIKE %s)"
            " ORDER BY at DESC, id DESC LIMIT %s",
            (actor, actor, action, action.replace("%", r"\%") + "%", limit),
        ).fetchall()


def control_rows_for(
    conn: psycopg.Connection, events: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The queue-control rows that may have caused the e-mail story's admin ``events``
    (:func:`else_core.story.admin_events`): same ``server:queue ID`` target and action,
    in the window around them (one indexed query; :func:`else_core.story.match_audit`
    then picks each event's own row)."""
    window = audit_window(events)
    if window is None:
        return []
    targets, actions, since, until = window
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT at, actor, action, target, result FROM audit_log"
            " WHERE at BETWEEN %s AND %s AND target = ANY(%s) AND action = ANY(%s)"
            " ORDER BY at",
            (since, until, targets, actions),
        ).fetchall()
