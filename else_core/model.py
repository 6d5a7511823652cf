"""What the correlator produces: e-mails, their transactions and deliveries, and rejects.

These are ELSE's data model (DESIGN.md): an e-mail groups the queue files
(transactions) that carried one message across content filters, forwards, bounces
and requeues; each recipient has one final status from :data:`STATUSES`. ``to_dict``
gives the JSON objects of the CLI/API contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from else_core.records import field_values

#: Per-recipient final status vocabulary, most final first (used for the e-mail summary).
STATUSES = (
    "delivered",
    "bounced",
    "expired",
    "rejected",
    "discarded",
    "deleted",
    "held",
    "deferred",
    "queued",
)

#: An e-mail's status: one of :data:`STATUSES`, or ``mixed`` when its recipients differ
#: (what the search's status filter and the WUI's status choices offer).
EMAIL_STATUSES = (*STATUSES, "mixed")

#: How a transaction came to be.
ORIGINS = ("smtpd", "pickup", "bounce", "forward", "filter", "requeue", "relay", "unknown")


#: Recent times and their ISO 8601 text. A log's records share few distinct times (one a
#: second, or one a line), and ``isoformat`` costs about 1 µs: an e-mail's document and
#: rows format ~18 times each, which was 8% of an import's client time. The key keeps
#: ``tzinfo`` and ``fold`` because equal instants can print differently (another offset)
#: and same-zone times compare by wall clock, ignoring ``fold``.
_ISO: dict[tuple[datetime, object, int], str] = {}
_ISO_MAX = 4096


def iso(ts: datetime | None) -> str | None:
    if ts is None:
        return None
    key = (ts, ts.tzinfo, ts.fold)
    text = _ISO.get(key)
    if text is None:
        if len(_ISO) >= _ISO_MAX:
            _ISO.clear()
        text = _ISO[key] = ts.isoformat()
    return text


@dataclass(slots=True, init=False)
class Attempt:
    """One delivery attempt for one recipient (one ``to=`` line)."""

    at: datetime | None
    host: str
    queue_id: str
    to: str
    status: str  # Postfix's own: sent|deferred|bounced|expired|deliverable|undeliverable
    relay: str | None = None
    orig_to: str | None = None
    dsn: str | None = None
    response: str | None = None
    delay: float | None = None
    delays: tuple[float, ...] | None = None
    conn_use: int | None = None
    daemon: str = ""
    seq: int = 0

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), field_values(self))  # see records.field_values

    # Written out (init=False): mypyc compiles it; a dataclass's generated one is interpreted.
    def __init__(  # noqa: PLR0913 - one argument per field
        self,
        at: datetime | None,
        host: str,
        queue_id: str,
        to: str,
        status: str,
        relay: str | None = None,
        orig_to: str | None = None,
        dsn: str | None = None,
        response: str | None = None,
        delay: float | None = None,
        delays: tuple[float, ...] | None = None,
        conn_use: int | None = None,
        daemon: str = "",
        seq: int = 0,
    ) -> None:
        self.at = at
        self.host = host
        self.queue_id = queue_id
        self.to = to
        self.status = status
        self.relay = relay
        self.orig_to = orig_to
        self.dsn = dsn
        self.response = response
        self.delay = delay
        self.delays = delays
        self.conn_use = conn_use
        self.daemon = daemon
        self.seq = seq

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": iso(self.at),
            "host": self.host,
            "queue_id": self.queue_id,
            "to": self.to,
            "orig_to": self.orig_to,
            "status": self.status,
            "relay": self.relay,
            "dsn": self.dsn,
            "response": self.response,
            "delay": self.delay,
            "delays": list(self.delays) if self.delays else None,
            "conn_use": self.conn_use,
            "daemon": self.daemon,
        }


@dataclass(slots=True, init=False)
class Reject:
    """A refusal by smtpd, postscreen, cleanup or a milter (NOQUEUE or with a queue ID)."""

    at: datetime | None
    host: str
    queue_id: str | None
    stage: str | None
    action: str
    code: str | None = None
    dsn: str | None = None
    reason: str | None = None
    client: str | None = None
    client_ip: str | None = None
    sender: str | None = None
    recipient: str | None = None
    helo: str | None = None
    proto: str | None = None
    daemon: str = ""
    seq: int = 0

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), field_values(self))  # see records.field_values

    # Written out (init=False): mypyc compiles it; a dataclass's generated one is interpreted.
    def __init__(  # noqa: PLR0913 - one argument per field
        self,
        at: datetime | None,
        host: str,
        queue_id: str | None,
        stage: str | None,
        action: str,
        code: str | None = None,
        dsn: str | None = None,
        reason: str | None = None,
        client: str | None = None,
        client_ip: str | None = None,
        sender: str | None = None,
        recipient: str | None = None,
        helo: str | None = None,
        proto: str | None = None,
        daemon: str = "",
        seq: int = 0,
    ) -> None:
        self.at = at
        self.host = host
        self.queue_id = queue_id
        self.stage = stage
        self.action = action
        self.code = code
        self.dsn = dsn
        self.reason = reason
        self.client = client
        self.client_ip = client_ip
        self.sender = sender
        self.recipient = recipient
        self.helo = helo
        self.proto = proto
        self.daemon = daemon
        self.seq = seq

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "reject",
            "at": iso(self.at),
            "host": self.host,
            "queue_id": self.queue_id,
            "daemon": self.daemon,
            "action": self.action,
            "stage": self.stage,
            "client": self.client,
            "client_ip": self.client_ip,
            "sender": self.sender,
            "recipient": self.recipient,
            "helo": self.helo,
            "proto": self.proto,
            "code": self.code,
            "dsn": self.dsn,
            "reason": self.reason,
        }


@dataclass(slots=True, init=False)
class Transaction:
    """One queue file on one host, from its first line to ``removed``."""

    host: str
    queue_id: str
    first_seen: datetime | None
    last_seen: datetime | None = None
    origin: str = "unknown"
    parent: str | None = None  # parent queue ID (on parent_host)
    parent_host: str | None = None
    sender: str | None = None
    size: int | None = None
    nrcpt: int | None = None
    message_id: str | None = None
    subject: str | None = None  # only when the postfix role logs it (header_checks INFO)
    client: str | None = None
    client_ip: str | None = None
    helo: str | None = None
    sasl_username: str | None = None
    tls: str | None = None
    orig_client: str | None = None
    uid: int | None = None
    program: str = ""
    serial: int = 0  # the correlator's handle; unique within one correlator's life
    # Life cycle: open -> removed | deleted | requeued; flags for what happened on the way.
    state: str = "open"
    held: bool = False
    discarded: bool = False
    expired: bool = False
    attempts: list[Attempt] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), field_values(self))  # see records.field_values

    # Written out (init=False): mypyc compiles it; a dataclass's generated one is interpreted.
    def __init__(  # noqa: PLR0913 - one argument per field
        self,
        host: str,
        queue_id: str,
        first_seen: datetime | None,
        last_seen: datetime | None = None,
        origin: str = "unknown",
        parent: str | None = None,
        parent_host: str | None = None,
        sender: str | None = None,
        size: int | None = None,
        nrcpt: int | None = None,
        message_id: str | None = None,
        subject: str | None = None,
        client: str | None = None,
        client_ip: str | None = None,
        helo: str | None = None,
        sasl_username: str | None = None,
        tls: str | None = None,
        orig_client: str | None = None,
        uid: int | None = None,
        program: str = "",
        serial: int = 0,
        state: str = "open",
        held: bool = False,
        discarded: bool = False,
        expired: bool = False,
        attempts: list[Attempt] | None = None,
        rejects: list[Reject] | None = None,
        actions: list[dict[str, Any]] | None = None,
        notifications: list[dict[str, Any]] | None = None,
        seqs: list[int] | None = None,
    ) -> None:
        self.host = host
        self.queue_id = queue_id
        self.first_seen = first_seen
        self.last_seen = last_seen
        self.origin = origin
        self.parent = parent
        self.parent_host = parent_host
        self.sender = sender
        self.size = size
        self.nrcpt = nrcpt
        self.message_id = message_id
        self.subject = subject
        self.client = client
        self.client_ip = client_ip
        self.helo = helo
        self.sasl_username = sasl_username
        self.tls = tls
        self.orig_client = orig_client
        self.uid = uid
        self.program = program
        self.serial = serial
        self.state = state
        self.held = held
        self.discarded = discarded
        self.expired = expired
        self.attempts = [] if attempts is None else attempts
        self.rejects = [] if rejects is None else rejects
        self.actions = [] if actions is None else actions
        self.notifications = [] if notifications is None else notifications
        self.seqs = [] if seqs is None else seqs

    @property
    def closed(self) -> bool:
        return self.state != "open"

    def to_dict(self, detail: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "host": self.host,
            "queue_id": self.queue_id,
            "origin": self.origin,
            "parent": self.parent,
            "parent_host": self.parent_host,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "sender": self.sender,
            "size": self.size,
            "nrcpt": self.nrcpt,
            "message_id": self.message_id,
            "client": self.client,
            "client_ip": self.client_ip,
            "state": self.state,
        }
        if self.subject is not None:  # only logged when the postfix role is told to
            out["subject"] = self.subject
        if detail:
            out.update(
                helo=self.helo,
                sasl_username=self.sasl_username,
                tls=self.tls,
                orig_client=self.orig_client,
                uid=self.uid,
                program=self.program,
                held=self.held,
                discarded=self.discarded,
                expired=self.expired,
                attempts=[a.to_dict() for a in self.attempts],
                rejects=[r.to_dict() for r in self.rejects],
                actions=self.actions,
                notifications=self.notifications,
                lines=self.seqs,
            )
        return out


@dataclass(slots=True, init=False)
class Recipient:
    """One recipient of an e-mail with its final status across every hop."""

    address: str
    orig_address: str | None
    status: str
    relay: str | None = None
    dsn: str | None = None
    response: str | None = None
    attempts: int = 0
    at: datetime | None = None
    host: str | None = None
    queue_id: str | None = None
    delay: float | None = None
    # Outcomes a later one superseded: a temporary refusal (4xx from a milter or policy
    # service) of a submission the client then retried. Not final, but part of the story.
    earlier: list[dict[str, Any]] = field(default_factory=list)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), field_values(self))  # see records.field_values

    # Written out (init=False): mypyc compiles it; a dataclass's generated one is interpreted.
    def __init__(  # noqa: PLR0913 - one argument per field
        self,
        address: str,
        orig_address: str | None,
        status: str,
        relay: str | None = None,
        dsn: str | None = None,
        response: str | None = None,
        attempts: int = 0,
        at: datetime | None = None,
        host: str | None = None,
        queue_id: str | None = None,
        delay: float | None = None,
        earlier: list[dict[str, Any]] | None = None,
    ) -> None:
        self.address = address
        self.orig_address = orig_address
        self.status = status
        self.relay = relay
        self.dsn = dsn
        self.response = response
        self.attempts = attempts
        self.at = at
        self.host = host
        self.queue_id = queue_id
        self.delay = delay
        self.earlier = [] if earlier is None else earlier

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "address": self.address,
            "orig_address": self.orig_address,
            "status": self.status,
            "relay": self.relay,
            "dsn": self.dsn,
            "response": self.response,
            "attempts": self.attempts,
            "at": iso(self.at),
            "host": self.host,
            "queue_id": self.queue_id,
            "delay": self.delay,
        }
        if self.earlier:
            out["earlier"] = self.earlier
        return out


@dataclass(slots=True, init=False)
class Email:
    """A message as users think of it: every transaction that carried it, every recipient."""

    id: str
    message_id: str | None
    host: str
    sender: str | None
    size: int | None
    client: str | None
    client_ip: str | None
    helo: str | None
    sasl_username: str | None
    first_seen: datetime | None
    last_seen: datetime | None
    status: str
    complete: bool
    transactions: list[Transaction]
    recipients: list[Recipient]
    rejects: list[Reject] = field(default_factory=list)
    merged_ids: list[str] = field(default_factory=list)
    subject: str | None = None  # only when the postfix role logs it (header_checks INFO)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), field_values(self))  # see records.field_values

    # Written out (init=False): mypyc compiles it; a dataclass's generated one is interpreted.
    def __init__(  # noqa: PLR0913 - one argument per field
        self,
        id: str,
        message_id: str | None,
        host: str,
        sender: str | None,
        size: int | None,
        client: str | None,
        client_ip: str | None,
        helo: str | None,
        sasl_username: str | None,
        first_seen: datetime | None,
        last_seen: datetime | None,
        status: str,
        complete: bool,
        transactions: list[Transaction],
        recipients: list[Recipient],
        rejects: list[Reject] | None = None,
        merged_ids: list[str] | None = None,
        subject: str | None = None,
    ) -> None:
        self.id = id
        self.message_id = message_id
        self.host = host
        self.sender = sender
        self.size = size
        self.client = client
        self.client_ip = client_ip
        self.helo = helo
        self.sasl_username = sasl_username
        self.first_seen = first_seen
        self.last_seen = last_seen
        self.status = status
        self.complete = complete
        self.transactions = transactions
        self.recipients = recipients
        self.rejects = [] if rejects is None else rejects
        self.merged_ids = [] if merged_ids is None else merged_ids
        self.subject = subject

    def to_dict(self, detail: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "email",
            "id": self.id,
            "message_id": self.message_id,
            "host": self.host,
            "sender": self.sender,
            "size": self.size,
            "client": self.client,
            "client_ip": self.client_ip,
            "helo": self.helo,
            "sasl_username": self.sasl_username,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "status": self.status,
            "complete": self.complete,
            "transactions": [t.to_dict(detail) for t in self.transactions],
            "recipients": [r.to_dict() for r in self.recipients],
            "rejects": [r.to_dict() for r in self.rejects],
        }
        if self.merged_ids:
            out["merged_ids"] = self.merged_ids
        if self.subject is not None:  # only logged when the postfix role is told to
            out["subject"] = self.subject
        return out
