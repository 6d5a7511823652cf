"""Records the SNMP manager returns, and the queue-ID rule every control path shares.

The same queue-ID rule (:mod:`else_core.queueid`) is enforced three times on purpose:
here (before a SET is sent), in the PFX's pass_persist handler (before the wrapper is
called) and in the root wrapper (before postsuper runs). tests/unit/snmp checks that
the three agree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from else_core.queueid import QUEUE_ID_RE, valid_queue_id

__all__ = ["QUEUE_ID_RE", "valid_queue_id"]  # re-exported: the SNMP API's own names


QUEUES = ("maildrop", "incoming", "active", "deferred", "hold")

# Control actions, in the order of their OID column under the control subtree.
ACTIONS = ("flush", "flush-id", "hold", "release", "delete", "requeue")


@dataclass(frozen=True, slots=True)
class QueueSizes:
    """Messages per Postfix queue; None where the PFX could not tell."""

    maildrop: int | None = None
    incoming: int | None = None
    active: int | None = None
    deferred: int | None = None
    hold: int | None = None

    @property
    def total(self) -> int | None:
        values: list[int | None] = [getattr(self, q) for q in QUEUES]
        known = [v for v in values if v is not None]
        return sum(known) if len(known) == len(values) else None


@dataclass(frozen=True, slots=True)
class DiskUsage:
    """One UCD-SNMP-MIB dskTable row, in kilobytes."""

    path: str
    total_kb: int
    used_kb: int
    avail_kb: int
    percent: int


@dataclass(frozen=True, slots=True)
class HostStatus:
    """One poll of one PFX: Postfix queue figures and host figures."""

    server: str
    address: str
    at: datetime
    queues: QueueSizes
    oldest_deferred_age: int | None  # seconds; None when no message is deferred
    master_running: bool | None
    sys_name: str | None = None
    uptime_seconds: float | None = None
    load: tuple[float, float, float] | None = None
    mem_total_kb: int | None = None
    mem_free_kb: int | None = None
    mem_buffer_kb: int | None = None
    mem_cached_kb: int | None = None
    swap_total_kb: int | None = None
    swap_free_kb: int | None = None
    disks: tuple[DiskUsage, ...] = ()
    stats_error: str | None = None

    @property
    def mem_used_kb(self) -> int | None:
        parts = (self.mem_total_kb, self.mem_free_kb, self.mem_buffer_kb, self.mem_cached_kb)
        total, free, buffers, cached = parts
        if total is None or free is None or buffers is None or cached is None:
            return None
        return max(0, total - free - buffers - cached)

    def metrics(self) -> dict[str, Any]:
        """The JSON object stored in ``snmp_samples.metrics`` (stable keys for charts)."""
        out = asdict(self)
        out.pop("server")
        out.pop("address")
        out.pop("at")
        out["queues"] = {q: getattr(self.queues, q) for q in QUEUES}
        out["queues"]["total"] = self.queues.total
        out["mem_used_kb"] = self.mem_used_kb
        out["load"] = list(self.load) if self.load else None
        out["disks"] = [asdict(d) for d in self.disks]
        return out


@dataclass(frozen=True, slots=True)
class QueueRecipient:
    address: str
    delay_reason: str | None = None


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """One message in a Postfix queue, as ``postqueue -j`` describes it."""

    queue_name: str
    queue_id: str
    arrival: datetime | None
    size: int | None
    sender: str
    recipients: tuple[QueueRecipient, ...] = ()
    recipients_total: int | None = None

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> QueueEntry:
        arrival = obj.get("arrival_time")
        recipients = tuple(
            QueueRecipient(str(r.get("address", "")), r.get("delay_reason"))
            for r in obj.get("recipients") or []
            if isinstance(r, dict)
        )
        return cls(
            queue_name=str(obj.get("queue_name", "")),
            queue_id=str(obj.get("queue_id", "")),
            arrival=datetime.fromtimestamp(arrival, UTC)
            if isinstance(arrival, int | float)
            else None,
            size=obj.get("message_size") if isinstance(obj.get("message_size"), int) else None,
            sender=str(obj.get("sender", "")),
            recipients=recipients,
            recipients_total=obj.get("recipients_total"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "queue_name": self.queue_name,
            "queue_id": self.queue_id,
            "arrival": self.arrival.isoformat() if self.arrival else None,
            "size": self.size,
            "sender": self.sender,
            "recipients": [asdict(r) for r in self.recipients],
            "recipients_total": self.recipients_total or len(self.recipients),
        }


@dataclass(frozen=True, slots=True)
class QueueListing:
    server: str
    entries: tuple[QueueEntry, ...] = ()
    truncated: bool = False
    total: int = 0
    skipped_lines: int = 0


@dataclass(frozen=True, slots=True)
class ControlResult:
    """What the PFX said about one control action (its lastResult object)."""

    server: str
    action: str
    queue_id: str | None
    ok: bool
    message: str
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
