"""Request parameters -> search queries: pure functions, tested without Bottle.

The search page, the exports and the API all read the same parameters: ``since`` /
``until``, one parameter per search field (with ``<field>_op``), the extended form's
``f`` / ``o`` / ``v`` rows, ``message_ids``, ``limit``, ``cursor`` and ``sort``. They
arrive here as a list of ``(name, value)`` pairs already decoded as text (see
:func:`webui.context.request_items`); where a name repeats, single values take the last.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from else_core.queueid import valid_queue_id
from else_core.search import (
    EMAIL_SORTS,
    YEAR_RANGE,
    Filter,
    Query,
    SearchError,
    check_year,
    parse_time,
)

ADDRESS = re.compile(r"<?([^\s<>@]+@[^\s<>@]+\.[^\s<>@]+)>?")
DOMAIN = re.compile(r"@?[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
OPERATOR_LABELS = {
    "equals": "is",
    "not": "is not",
    "contains": "contains",
    "not_contains": "does not contain",
    "starts": "starts with",
    "ends": "ends with",
    "matches": "matches (* ?)",
    "gt": ">",
    "lt": "<",
    "ge": ">=",
    "le": "<=",
}
#: Query parameters of the API and the search page that are not filters.
RESERVED = {"since", "until", "limit", "cursor", "sort", "q", "f", "o", "v", "tz", "format"}


class Params:
    """Request parameters as ``(name, value)`` pairs with the two look-ups queries need."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self.items = list(items)

    def get(self, name: str) -> str | None:
        """The last value of ``name`` (as a form or query string means it), or None."""
        found = None
        for k, v in self.items:
            if k == name:
                found = v
        return found

    def getall(self, name: str) -> list[str]:
        return [v for k, v in self.items if k == name]

    def names(self) -> set[str]:
        return {k for k, _ in self.items}


def parse_when(text: str, tz: ZoneInfo | None, end: bool = False) -> datetime:
    """API: ISO 8601, naive = UTC. Pages: a naive value is the user's local time.

    A year outside :data:`else_core.search.MIN_YEAR`..``MAX_YEAR`` is refused
    (``until=9999-12-31`` used to overflow into a 500)."""
    try:
        return check_year(_parse_when(text, tz, end), text.strip()[:40])
    except OverflowError:
        raise SearchError(f"time out of range {text.strip()[:40]!r}: {YEAR_RANGE}") from None


def _parse_when(text: str, tz: ZoneInfo | None, end: bool) -> datetime:
    text = text.strip()
    if tz is not None and len(text) > 10 and not re.search(r"(Z|[+-]\d\d:?\d\d)$", text):
        try:
            return datetime.fromisoformat(text).replace(tzinfo=tz)
        except ValueError:
            pass
    if tz is not None and len(text) == 10:
        try:
            day = datetime.fromisoformat(text).replace(tzinfo=tz)
        except ValueError:
            raise SearchError(f"invalid date {text!r}") from None
        return day + timedelta(days=1) if end else day
    return parse_time(text, end=end)


def build_query(params: Params, tz: ZoneInfo | None, fields: dict[str, Any]) -> Query:
    """A search :class:`Query` from request parameters (the API's and the pages')."""
    q = Query()
    if params.get("since"):
        q.since = parse_when(params.get("since") or "", tz)
    if params.get("until"):
        q.until = parse_when(params.get("until") or "", tz, end=True)
    for name in fields:
        for value in params.getall(name):
            if value.strip():
                op = params.get(f"{name}_op") or "equals"
                q.filters.append(Filter(name, value, op))
    # The extended form: rows of field/operator/value.
    fs, os_, vs = params.getall("f"), params.getall("o"), params.getall("v")
    for f, o, v in zip(fs, os_, vs, strict=False):
        if f and v.strip():
            q.filters.append(Filter(f, v, o or "equals"))
    ids = params.get("message_ids")
    if ids:
        q.message_ids = [m for m in re.split(r"[\s,]+", ids) if m.strip("<>")][:1000]
    try:
        q.limit = max(1, min(int(params.get("limit") or 50), 1000))
    except ValueError:
        raise SearchError("limit must be a number") from None
    q.after = params.get("cursor") or None
    sort = params.get("sort") or "-time"
    if sort.lstrip("-") in EMAIL_SORTS:
        q.sort = sort
    return q


def check_api_params(
    params: Params, fields: dict[str, Any], sorts: Iterable[str] = EMAIL_SORTS
) -> None:
    """The API refuses a parameter it does not know (a typo must not widen a search),
    and a sort it does not offer (the pages fall back to the newest first instead)."""
    sort = params.get("sort")
    if sort and sort.removeprefix("-") not in sorts:
        raise SearchError(f"unknown sort {sort[:40]!r}: use one of {', '.join(sorts)}")
    known = {"since", "until", "limit", "cursor", "sort", "message_ids"}
    known |= set(fields) | {f"{name}_op" for name in fields}
    unknown = sorted(params.names() - known)
    if unknown:
        raise SearchError(f"unknown parameter {unknown[0]!r}")


def classify_quick(text: str) -> tuple[str, str] | None:
    """What the quick box was given: a Message-ID, a queue ID, an address or a domain."""
    t = text.strip()
    if not t:
        return None
    if t.startswith("<") and t.endswith(">") and "@" in t:
        return ("message_id", t.strip("<>"))
    if valid_queue_id(t):
        return ("queue_id", t)
    m = ADDRESS.fullmatch(t)
    if m:
        return ("address", m.group(1))
    if DOMAIN.fullmatch(t):
        return ("domain", t.lstrip("@"))
    if "@" in t:
        return ("message_id", t.strip("<>"))
    try:
        ipaddress.ip_address(t)
        return ("client", t)
    except ValueError:
        pass
    return ("message_id_part", t)


#: How the quick box names what it searched (field names as people say them).
FIELD_WORDS = {
    "message_id": "Message-ID",
    "subject": "subject",
    "queue_id": "queue ID",
    "response": "reply text",
    "client_host": "client name",
    "client": "client",
    "sender_domain": "sender domain",
    "recipient_domain": "recipient domain",
    "reason": "reason",
}
KIND_WORDS = {
    "message_id": "a Message-ID",
    "queue_id": "a queue ID (ours or a remote one)",
    "address": "an address",
    "domain": "a domain or host name",
    "client": "a client IP address",
    "wildcard": "a pattern with wildcards",
    "text": "a subject or reply text",
    "part": "part of an address, name or ID",
}
HEADER_PREFIX = re.compile(r"^\s*message-id\s*:\s*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class QuickPlan:
    """What the quick box runs for a text: e-mails matching any of ``emails``, and the
    refusals (rejects) matching any of ``rejects``. ``kind`` is what the text was taken
    for; :meth:`described` says it in words on the result page."""

    kind: str
    text: str
    emails: list[Filter] = field(default_factory=list)
    rejects: list[Filter] = field(default_factory=list)

    def described(self) -> list[str]:
        """``sender contains “defer1”`` for each e-mail alternative, in order."""
        return [describe(f) for f in self.emails]

    def extended_items(self) -> list[tuple[str, str]]:
        """The extended form's first row filled in with the first alternative: offered
        when nothing matched, so the user can change the field or the operator."""
        if not self.emails:
            return []
        first = self.emails[0]
        return [("f", first.field), ("o", first.op), ("v", str(first.value))]


def describe(f: Filter) -> str:
    word = FIELD_WORDS.get(f.field, f.field.replace("_", " "))
    return f"{word} {OPERATOR_LABELS.get(f.op, f.op)} “{f.value}”"


def quick_plan(text: str) -> QuickPlan | None:
    """The quick box's search for ``text``: every field a helpdesk would mean by it.

    A full address is looked up exactly (sender, recipient, Message-ID); a domain as the
    sender's or recipient's domain and as the client's host name; ``*``/``?`` make a
    wildcard search; text with blanks is searched in the remote servers' answers and the
    reasons of refusals; any other word is taken as a part of an address, a Message-ID,
    a client name, or a remote queue ID (``250 ... queued as X``)."""
    t = HEADER_PREFIX.sub("", text).strip()
    bracketed = t.startswith("<") and t.endswith(">")
    if ("*" in t or "?" in t) and not bracketed and not re.search(r"\s", t):
        w = t.lower()
        emails = [Filter("sender", w, "matches"), Filter("recipient", w, "matches")]
        if "@" not in w:
            emails += [Filter("client_host", w, "matches"), Filter("message_id", t, "matches")]
        rejects = [Filter("sender", w, "matches"), Filter("recipient", w, "matches")]
        return QuickPlan("wildcard", t, emails, rejects)
    kind = classify_quick(t)
    if kind is None:
        return None
    name, v = kind
    if name == "message_id" and bracketed:
        return QuickPlan("message_id", v, [Filter("message_id", v)])
    if name == "message_id":  # user@host without a dot in the domain, or a partial address
        w = v.lower()
        return QuickPlan(
            "part",
            v,
            [
                Filter("message_id", v),
                Filter("sender", w, "contains"),
                Filter("recipient", w, "contains"),
            ],
            [Filter("sender", w, "contains"), Filter("recipient", w, "contains")],
        )
    if name == "queue_id":
        return QuickPlan(
            "queue_id",
            v,
            [Filter("queue_id", v), Filter("response", f"queued as {v}", "contains")],
            [Filter("queue_id", v)],
        )
    if name == "address":
        return QuickPlan(
            "address",
            v,
            [Filter("sender", v), Filter("recipient", v), Filter("message_id", v)],
            [Filter("sender", v.lower()), Filter("recipient", v.lower())],
        )
    if name == "domain":
        d = v.lower()
        return QuickPlan(
            "domain",
            d,
            [
                Filter("sender_domain", d),
                Filter("recipient_domain", d),
                Filter("client_host", d),
                Filter("client_host", f".{d}", "ends"),
            ],
            [
                Filter("sender", f"@{d}", "ends"),
                Filter("recipient", f"@{d}", "ends"),
                Filter("client", d),
            ],
        )
    if name == "client":
        return QuickPlan("client", v, [Filter("client", v)], [Filter("client", v)])
    if re.search(r"\s", t):
        return QuickPlan(
            "text",
            t,
            [Filter("subject", t, "contains"), Filter("response", t, "contains")],
            [Filter("reason", t, "contains")],
        )
    w = t.lower()
    return QuickPlan(
        "part",
        t,
        [
            Filter("sender", w, "contains"),
            Filter("recipient", w, "contains"),
            Filter("message_id", t, "contains"),
            Filter("client_host", w, "contains"),
            Filter("response", f"queued as {t}", "contains"),
            Filter("subject", t, "contains"),
        ],
        [
            Filter("sender", w, "contains"),
            Filter("recipient", w, "contains"),
            Filter("client", w, "contains"),
        ],
    )


def message_ids(text: str) -> list[str]:
    """Message-IDs pasted in a box: split on blanks and commas, brackets dropped; pasted
    header names (``Message-ID:``, ``References:``) are not IDs."""
    return [
        m.strip("<>")
        for m in re.split(r"[\s,]+", text)
        if m.strip("<>") and not re.fullmatch(r"[A-Za-z-]+:", m)
    ][:1000]


def describe_search(items: Iterable[tuple[str, str]]) -> str:
    """A stored search in words for "My searches": ``“defer1”``, ``sender contains “x”``,
    ``status is bounced``, ``from 2026-03-14``; not its raw parameters."""
    pairs_ = [(k, v) for k, v in items if v]
    words: list[str] = []
    ops = {k[:-3]: v for k, v in pairs_ if k.endswith("_op")}
    fs = [v for k, v in pairs_ if k == "f"]
    os_ = [v for k, v in pairs_ if k == "o"]
    vs = [v for k, v in pairs_ if k == "v"]
    for k, v in pairs_:
        if k == "q":
            words.append(f"“{v}”")
        elif k == "message_ids":
            n = len(message_ids(v))
            words.append(f"{n} Message-ID{'' if n == 1 else 's'}")
        elif k == "since":
            words.append(f"from {v.replace('T', ' ')}")
        elif k == "until":
            words.append(f"until {v.replace('T', ' ')}")
        elif k in ("f", "o", "v", "limit", "sort", "cursor", "tz") or k.endswith("_op"):
            continue
        else:
            words.append(describe(Filter(k, v, ops.get(k, "equals"))))
    for f_, o, v in zip(fs, os_, vs, strict=False):
        if f_ and v:
            words.append(describe(Filter(f_, v, o or "equals")))
    return ", ".join(words) or "everything"


def pairs(query: Any) -> list[tuple[str, str]]:
    """A stored search (a list of [name, value] pairs; repeated names are kept)."""
    if isinstance(query, dict):
        query = list(query.items())
    return [(str(p[0]), str(p[1])) for p in query if isinstance(p, list | tuple) and len(p) == 2]


def filter_rows(items: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """The extended form's rows (field, operator, value): the request's, padded to four."""
    fs = [v for k, v in items if k == "f"]
    os_ = [v for k, v in items if k == "o"]
    vs = [v for k, v in items if k == "v"]
    rows = list(zip(fs, os_, vs, strict=False))
    while len(rows) < 4:
        rows.append(("", "", ""))
    return rows[:8]


# -- the queue page ---------------------------------------------------------------------------

#: How long after a control action the page applies it to the listing itself: the PFX's
#: agent caches ``postqueue -j`` (``snmpd_queue_list_cache_time``, 30 s by default), so
#: a listing fetched right after "hold" may still say "deferred".
RECENT_ACTIONS_SECONDS = 45

ACTION_DONE = {
    "hold": "is on hold: Postfix will not try to deliver it until it is released",
    "release": "is released from hold and goes back to the queue for delivery",
    "delete": "is deleted from the queue",
    "requeue": "is requeued: Postfix will try to deliver it again now",
}
GONE = re.compile(
    r"no such|not found|does not exist|unknown queue|no message \S+ in a queue", re.IGNORECASE
)
ALREADY = {"hold": "on hold", "release": "released", "requeue": "requeued"}


def control_words(action: str, queue_id: str | None, server: str, ok: bool, message: str) -> str:
    """A control action's answer in plain words ("Message X is on hold: ..."), not the
    PFX's terse status line."""
    if action == "flush":
        if ok:
            return f"Postfix on {server} is trying every deferred message again now."
        return f"Postfix on {server} could not be asked to retry the queue: {message}"
    if ok:
        return f"Message {queue_id} on {server} {ACTION_DONE.get(action, 'was changed')}."
    if GONE.search(message) and action in ALREADY:
        return (
            f"Message {queue_id} on {server}: nothing to {action}; it is not in a queue where"
            f" {action} applies (already {ALREADY[action]}, or no longer queued)."
        )
    if GONE.search(message):
        return (
            f"Message {queue_id} is no longer in the queue of {server}"
            " (already delivered, returned or deleted): nothing to do."
        )
    return f"Could not {action} message {queue_id} on {server}: {message}"


def queue_view(
    entries: Iterable[Any],
    recent: Iterable[tuple[str, str]],
    sender: str = "",
    recipient: str = "",
    status: str = "",
) -> list[dict[str, Any]]:
    """The queue listing as the page shows it: the actions that succeeded since the
    agent's listing may have been cached (``recent``: ``(action, queue_id)``, oldest
    first) applied to it, then filtered by sender / recipient part and queue name.

    Applying an action twice is harmless (a fresh listing already shows it), so the page
    shows the queue as it is now whether the listing was cached or not."""
    state: dict[str, str] = {}
    for action, qid in recent:
        if action in ("hold", "delete"):
            state[qid] = action
        elif action == "release" and state.get(qid) != "delete":
            state[qid] = "release"
    out = []
    s, r, st = sender.strip().lower(), recipient.strip().lower(), status.strip().lower()
    for e in entries:
        name = e.queue_name
        change = state.get(e.queue_id)
        if change == "delete":
            continue
        if change == "hold":
            name = "hold"
        elif change == "release" and name == "hold":
            name = "deferred"
        rcpts = [x.address for x in e.recipients]
        if s and s not in (e.sender or "").lower():
            continue
        if r and not any(r in a.lower() for a in rcpts):
            continue
        if st and name != st:
            continue
        out.append({"entry": e, "queue_name": name, "changed": change is not None})
    return out


def queue_counts(view: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Messages per queue in the (unfiltered) view, for the health box."""
    counts: dict[str, int] = {}
    for row in view:
        counts[row["queue_name"]] = counts.get(row["queue_name"], 0) + 1
    return counts
