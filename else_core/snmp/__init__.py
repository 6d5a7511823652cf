"""SNMP link between ELSE and its PFX hosts: status, queue listing, queue control, poller.

The PFX side (net-snmp snmpd, extends and the pass_persist control handler) is the
``snmpd`` Ansible role; docs/snmp.md describes both ends and the OID layout.
"""

from else_core.snmp.client import (
    SnmpAuthError,
    SnmpManager,
    SnmpRefused,
    SnmpTarget,
    SnmpTimeout,
    check_action,
    targets_from_config,
)
from else_core.snmp.model import (
    ACTIONS,
    QUEUE_ID_RE,
    ControlResult,
    DiskUsage,
    HostStatus,
    QueueEntry,
    QueueListing,
    QueueSizes,
    valid_queue_id,
)

__all__ = [
    "ACTIONS",
    "QUEUE_ID_RE",
    "ControlResult",
    "DiskUsage",
    "HostStatus",
    "QueueEntry",
    "QueueListing",
    "QueueSizes",
    "SnmpAuthError",
    "SnmpManager",
    "SnmpRefused",
    "SnmpTarget",
    "SnmpTimeout",
    "check_action",
    "targets_from_config",
    "valid_queue_id",
]
