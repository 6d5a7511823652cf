"""The typed contract between parser and correlator: one TypedDict per event kind.

``Event.f`` (see :mod:`else_core.records`) holds the fields the parser read from one line;
the queue ID is ``Event.qid``, never a field. Each class below names the fields of one
``Event.kind``: plain keys are always present, ``NotRequired`` ones only when the line
has them (absent = missing key, never ``""``, except values that may legitimately be
empty such as the null sender). :data:`FIELDS` maps each kind to its class, so code and
tests can check an event against its kind (:func:`check`). A new event kind is a new
class here plus its entry in :data:`FIELDS`, then the parser rule that emits it.

``Event.f`` itself is typed :data:`Fields`: every field of every kind, each with its one
type, all optional. mypy cannot narrow ``Event.f`` by ``Event.kind`` (they are two
attributes), so a union of the per-kind classes would force a ``cast`` at each use in
the correlator; one dict of all fields lets ``mypy --strict`` reject a misspelt key
(``f["stauts"]``, a dict literal with ``"sizee"``) or a value of the wrong type
(``f["size"] = "12"``) anywhere. ``f.get("stauts")`` is legal to mypy (typed ``object``,
caught only where the value is used as a str), so tests/unit/test_events_contract.py also
checks every literal key the parser, correlator and report name. Which keys a kind
requires stays the job of :func:`check` (run on real logs by the same test file). A field
added to a per-kind class goes into :data:`Fields` too; a test fails until it does.
"""

# No ``from __future__ import annotations`` here: TypedDict reads NotRequired from the
# evaluated annotations to know which keys are required.
from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict, get_type_hints

# -- sessions (smtpd; postscreen where noted) ---------------------------------------------


class Connect(TypedDict):
    client_host: str
    client_ip: str
    client_port: NotRequired[int]


class Disconnect(TypedDict):
    client_host: str
    client_ip: str
    #: command name -> (accepted, total)
    counters: dict[str, tuple[int, int]]


class ConnError(TypedDict):
    #: "lost connection" | "timeout" | "too many errors" | "improper pipelining"
    error: str
    stage: str
    client_host: str
    client_ip: str


class Client(TypedDict):
    client_host: str
    client_ip: str
    client_port: NotRequired[int]
    sasl_method: NotRequired[str]
    sasl_username: NotRequired[str]
    sasl_sender: NotRequired[str]
    orig_queue_id: NotRequired[str]
    orig_client: NotRequired[str]


class Tls(TypedDict):
    direction: str  # "in" | "out"
    peer_host: str
    peer_ip: str
    protocol: str
    cipher: str
    #: Anonymous | Untrusted | Trusted | Verified (none before Postfix 2.5)
    level: NotRequired[str]


class SaslFail(TypedDict):
    client_host: str
    client_ip: str
    method: str
    reason: str
    sasl_username: NotRequired[str]


class Action(TypedDict):
    """An smtpd/cleanup/postscreen access or content decision (reject, hold, discard,
    milter-reject, proxy-reject ...) at a stage (RCPT, DATA, header, body ...). A
    before-queue filter's reply (proxy-accept/-reject) names no client."""

    action: str
    stage: str
    client_host: NotRequired[str]
    client_ip: NotRequired[str]
    client_port: NotRequired[int]
    code: NotRequired[str]
    dsn: NotRequired[str]
    reason: NotRequired[str]
    sender: NotRequired[str]
    recipient: NotRequired[str]
    proto: NotRequired[str]
    helo: NotRequired[str]
    detail: NotRequired[str]


class PsConnect(TypedDict):
    client_ip: str
    client_port: int


#: ``pass`` ("NEW" | "OLD") is a Python keyword, hence the functional form.
PsPass = TypedDict("PsPass", {"client_ip": str, "pass": str})


class PsEvent(TypedDict):
    #: PREGREET | HANGUP | DNSBL | COMMAND PIPELINING | BARE NEWLINE | WHITELISTED | ...
    event: str
    client_ip: str
    detail: NotRequired[str]
    rank: NotRequired[int]


class PsDisconnect(TypedDict):
    client_ip: str


class Dnsbl(TypedDict):
    client_ip: str
    domain: str
    result: str


class Anvil(TypedDict):
    stat: str
    value: str
    client: NotRequired[str]


# -- queue files ----------------------------------------------------------------------------


class Pickup(TypedDict):
    uid: int
    sender: str
    orig_id: NotRequired[str]


class MessageId(TypedDict):
    message_id: str  # "" when Postfix logs message-id=<>


class Subject(TypedDict):
    subject: str  # decoded from RFC 2047; logged by the postfix role's header_checks INFO rule


class QmgrFrom(TypedDict):
    sender: str
    size: int
    nrcpt: int


class Expired(TypedDict):
    sender: str


class Empty(TypedDict):
    """Kinds whose meaning is the kind itself (``removed``, ``skipped``, ``foreign`` ...)."""


class Delivery(TypedDict):
    to: str
    #: sent | deferred | bounced | expired | deliverable | undeliverable (or Postfix's word)
    status: str
    relay: str
    orig_to: NotRequired[str]
    relay_host: NotRequired[str]
    relay_ip: NotRequired[str]
    relay_port: NotRequired[int]
    conn_use: NotRequired[int]
    delay: NotRequired[float]
    delays: NotRequired[tuple[float, ...]]
    dsn: NotRequired[str]
    response: NotRequired[str]
    forwarded_as: NotRequired[str]
    queued_as: NotRequired[str]
    tls: NotRequired[str]
    soft_bounce: NotRequired[bool]


class SmtpError(TypedDict):
    error: str
    peer_host: NotRequired[str]
    peer_ip: NotRequired[str]


class Bounce(TypedDict):
    notify: str  # non-delivery | delivery | delay | success
    to: str  # sender | postmaster
    new_qid: str


class Postsuper(TypedDict):
    op: str  # removed | requeued | hold | released | expired


class PostsuperSummary(TypedDict):
    op: str
    count: int


class Amavis(TypedDict):
    result: str  # Passed | Blocked
    category: str
    message_id: NotRequired[str]
    queued_as: NotRequired[list[str]]
    sender: NotRequired[str]
    recipients: NotRequired[list[str]]
    client_ip: NotRequired[str]
    hits: NotRequired[str]
    size: NotRequired[int]


# -- everything else ----------------------------------------------------------------------


class Warning_(TypedDict):
    level: str  # warning | error | fatal | panic
    text: str


class Text(TypedDict):
    """``master`` (daemon start/reload/stop) and ``info`` (a recognised line with no
    bearing on mail)."""

    text: str


#: The static type of ``Event.f``: the union of the fields above, by name. Functional form
#: because ``pass`` is a keyword. ``queued_as`` is a delivery's next-hop QID (str) or the
#: list amavis logs, the only name two kinds give different types.
Fields = TypedDict(
    "Fields",
    {
        # sessions
        "client_host": str,
        "client_ip": str,
        "client_port": int,
        "counters": dict[str, tuple[int, int]],
        "error": str,
        "stage": str,
        "sasl_method": str,
        "sasl_username": str,
        "sasl_sender": str,
        "orig_queue_id": str,
        "orig_client": str,
        "direction": str,
        "peer_host": str,
        "peer_ip": str,
        "protocol": str,
        "cipher": str,
        "level": str,
        "method": str,
        "reason": str,
        "action": str,
        "code": str,
        "dsn": str,
        "sender": str,
        "recipient": str,
        "proto": str,
        "helo": str,
        "detail": str,
        "pass": str,
        "event": str,
        "rank": int,
        "domain": str,
        "result": str,
        "stat": str,
        "value": str,
        "client": str,
        # queue files
        "uid": int,
        "orig_id": str,
        "message_id": str,
        "subject": str,
        "size": int,
        "nrcpt": int,
        "to": str,
        "status": str,
        "relay": str,
        "orig_to": str,
        "relay_host": str,
        "relay_ip": str,
        "relay_port": int,
        "conn_use": int,
        "delay": float,
        "delays": tuple[float, ...],
        "response": str,
        "forwarded_as": str,
        "queued_as": str | list[str],
        "tls": str,
        "soft_bounce": bool,
        "notify": str,
        "new_qid": str,
        "op": str,
        "count": int,
        "category": str,
        "recipients": list[str],
        "hits": str,
        # everything else
        "text": str,
    },
    total=False,
)


#: Every event kind the parser emits -> the TypedDict of its ``Event.f``.
FIELDS: dict[str, type[Any]] = {
    "connect": Connect,
    "disconnect": Disconnect,
    "conn_error": ConnError,
    "client": Client,
    "tls": Tls,
    "sasl_fail": SaslFail,
    "action": Action,
    "ps_connect": PsConnect,
    "ps_pass": PsPass,
    "ps_event": PsEvent,
    "ps_disconnect": PsDisconnect,
    "dnsbl": Dnsbl,
    "anvil": Anvil,
    "pickup": Pickup,
    "message_id": MessageId,
    "resent_message_id": MessageId,
    "subject": Subject,
    "qmgr_from": QmgrFrom,
    "expired": Expired,
    "removed": Empty,
    "skipped": Empty,
    "delivery": Delivery,
    "smtp_error": SmtpError,
    "bounce": Bounce,
    "postsuper": Postsuper,
    "postsuper_summary": PostsuperSummary,
    "amavis": Amavis,
    "warning": Warning_,
    "master": Text,
    "info": Text,
    "other": Empty,
    "foreign": Empty,
    "malformed": Empty,
}


def _base(tp: Any) -> type[Any]:
    """The runtime class a field's annotation asks for (``list[str]`` -> ``list``)."""
    origin = getattr(tp, "__origin__", None)
    if origin is NotRequired:  # pragma: no cover - get_type_hints strips it
        return _base(tp.__args__[0])
    base = origin or tp
    assert isinstance(base, type)
    return base


def check(kind: str, fields: Mapping[str, Any]) -> list[str]:
    """What is wrong with ``fields`` as the ``Event.f`` of ``kind`` (empty: nothing)."""
    cls = FIELDS.get(kind)
    if cls is None:
        return [f"unknown event kind {kind!r}"]
    hints = get_type_hints(cls)
    required: frozenset[str] = cls.__required_keys__
    problems = [f"{kind}: missing {k!r}" for k in sorted(required - fields.keys())]
    for key, value in fields.items():
        if key not in hints:
            problems.append(f"{kind}: unexpected {key!r}")
            continue
        want = _base(hints[key])
        ok = isinstance(value, want) or (want is float and isinstance(value, int))
        if not ok:
            problems.append(f"{kind}: {key!r} is {type(value).__name__}, not {want.__name__}")
    return problems
