"""The e-mail story's events besides delivery attempts: admin actions and earlier refusals.

An administrator's ``postsuper`` (hold, release, requeue, delete, expire) changes what
becomes of a message as much as any delivery attempt, and a temporary refusal the client
retried explains why the message arrived late; the story shows both in time order. When the
action came from ELSE's own queue control, its ``audit_log`` row says who asked for it: the
row names the same server and queue ID and the same action, a little before Postfix logged
it. Everything here is plain data in, data out (the stored ``Email.to_dict(detail=True)``
document); the audit rows come from :func:`else_core.audit.control_rows_for`, and the WUI
view calls :func:`add_events` with them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

#: ``Transaction.actions`` entry -> the queue-control action of the same effect.
ADMIN_ACTIONS = {
    "postsuper hold": "hold",
    "postsuper released": "release",
    "postsuper requeued": "requeue",
    "postsuper removed": "delete",
    "postsuper expired": "expire",
}

ADMIN_WORDS = {
    "hold": "put on hold by an administrator (postsuper -h): not tried until released",
    "release": "released from hold by an administrator (postsuper -H)",
    "requeue": "requeued by an administrator (postsuper -r): it goes on under a new queue ID",
    "delete": "deleted from the queue by an administrator (postsuper -d): it will not be delivered",
    "expire": "expired by an administrator (postsuper -e): returned to the sender",
}

#: What a final status means when the last answer (a 4xx) no longer tells the truth.
STATUS_WORDS = {
    "deleted": "Deleted from the queue by an administrator: Postfix stopped trying; the "
    "message was neither delivered nor returned.",
    "expired": "Postfix gave up after the maximal queue lifetime and returned the message "
    "to the sender.",
    "held": "In the hold queue: Postfix does not try it until an administrator releases it.",
}

_STILL_TRYING = "Postfix keeps trying"
_TRIED_AGAIN = "Postfix was to try again"

#: How long before Postfix's log line an audited control action may have been sent, and
#: how far the two clocks may disagree the other way.
AUDIT_BEFORE = timedelta(minutes=10)
AUDIT_AFTER = timedelta(minutes=2)


def _ts(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def admin_events(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every admin action on the e-mail's queue files, in time order."""
    out = []
    for t in doc.get("transactions") or []:
        for a in t.get("actions") or []:
            action = ADMIN_ACTIONS.get(str(a.get("action", "")))
            if action is None:
                continue
            out.append(
                {
                    "event": "admin",
                    "action": action,
                    "at": a.get("at"),
                    "host": t.get("host"),
                    "queue_id": t.get("queue_id"),
                    "inferred": bool(a.get("inferred")),
                    "words": ADMIN_WORDS[action],
                    "audit": None,
                }
            )
    out.sort(key=lambda e: e["at"] or "")
    return out


def match_audit(events: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    """Attach to each admin event the audit row of the control action that caused it:
    same server and queue ID, same action, result ok, sent at most :data:`AUDIT_BEFORE`
    before the log line (or :data:`AUDIT_AFTER` after it); the closest one, each row once."""
    used: set[int] = set()
    for ev in events:
        at = _ts(ev.get("at"))
        if ev.get("event") != "admin" or at is None:
            continue
        best: tuple[timedelta, int, dict[str, Any], datetime] | None = None
        for i, row in enumerate(rows):
            row_at = _ts(row.get("at"))
            if i in used or row_at is None or row.get("result") != "ok":
                continue
            if row.get("action") != f"snmp.{ev['action']}":
                continue
            if row.get("target") != f"{ev['host']}:{ev['queue_id']}":
                continue
            if not (at - AUDIT_BEFORE <= row_at <= at + AUDIT_AFTER):
                continue
            gap = abs(at - row_at)
            if best is None or gap < best[0]:
                best = (gap, i, row, row_at)
        if best is not None:
            _, i, row, row_at = best
            used.add(i)
            ev["audit"] = {"actor": row.get("actor"), "at": row_at.isoformat()}


def audit_window(
    events: list[dict[str, Any]],
) -> tuple[list[str], list[str], datetime, datetime] | None:
    """What to read from the audit log for ``events``: the ``server:queue ID`` targets, the
    ``snmp.<action>`` actions and the time window; None when there is nothing to look for."""
    admin = [e for e in events if e.get("event") == "admin" and _ts(e.get("at")) is not None]
    if not admin:
        return None
    stamps = [_ts(e["at"]) for e in admin]
    known = [at for at in stamps if at is not None]
    targets = sorted({f"{e['host']}:{e['queue_id']}" for e in admin})
    actions = sorted({f"snmp.{e['action']}" for e in admin})
    return targets, actions, min(known) - AUDIT_BEFORE, max(known) + AUDIT_AFTER


def path_of(doc: dict[str, Any], recipient: dict[str, Any]) -> set[tuple[str, str]]:
    """The queue files that carried ``recipient``: where it was tried or ended, and the
    files those came from (requeue, filter, forward), so an action on any of them counts."""
    names = {x.lower() for x in (recipient.get("address"), recipient.get("orig_address")) if x}
    txs = doc.get("transactions") or []
    keys: set[tuple[str, str]] = set()
    for t in txs:
        for a in t.get("attempts") or []:
            if (a.get("to") or "").lower() in names or (a.get("orig_to") or "").lower() in names:
                keys.add((t.get("host"), t.get("queue_id")))
    if recipient.get("queue_id"):
        keys.add((str(recipient.get("host")), str(recipient["queue_id"])))
    by_key = {(t.get("host"), t.get("queue_id")): t for t in txs}
    todo = list(keys)
    while todo:
        t = by_key.get(todo.pop())
        if t is None or not t.get("parent"):
            continue
        parent = (t.get("parent_host") or t.get("host"), t["parent"])
        if parent in by_key and parent not in keys:
            keys.add(parent)
            todo.append(parent)
    return keys


def earlier_events(recipient: dict[str, Any]) -> list[dict[str, Any]]:
    """The recipient's superseded outcomes (a 4xx refusal the client retried)."""
    return [
        {
            "event": "earlier",
            "at": x.get("at"),
            "host": x.get("host"),
            "queue_id": x.get("queue_id"),
            "status": x.get("status"),
            "dsn": x.get("dsn"),
            "response": x.get("response"),
            "words": "refused for now (a temporary failure): the client sent it again later",
        }
        for x in recipient.get("earlier") or []
    ]


def add_events(
    story: dict[str, Any], doc: dict[str, Any], audit_rows: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Put admin actions and earlier refusals into each recipient's timeline of ``story``
    (``{"recipients": [{"r": ..., "attempts": [...], "words": ...}]}``), in time order,
    and say what a final status means when the last answer would tell otherwise."""
    events = admin_events(doc)
    match_audit(events, audit_rows or [])
    story["admin"] = events
    for item in story.get("recipients") or []:
        r = item.get("r") or {}
        path = path_of(doc, r)
        mine = [e for e in events if (e["host"], e["queue_id"]) in path]
        timeline = [*item.get("attempts", []), *earlier_events(r), *mine]
        timeline.sort(key=lambda a: a.get("at") or "")
        item["attempts"] = timeline
        words = STATUS_WORDS.get(str(r.get("status")))
        if words:
            item["words"] = words
        if r.get("status") not in ("deferred", "queued"):
            # A 4xx attempt's "Postfix keeps trying" was true then; it ended since.
            for a in timeline:
                if isinstance(a.get("words"), str):
                    a["words"] = a["words"].replace(_STILL_TRYING, _TRIED_AGAIN)
    return story
