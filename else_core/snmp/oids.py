"""Numeric OIDs ELSE reads and writes on a PFX (Debian ships no MIB files, so no names).

Everything here is served by the snmpd role's configuration (roles/snmpd/README.md).
"""

from __future__ import annotations

SYS_NAME = "1.3.6.1.2.1.1.5.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"  # TimeTicks, hundredths of a second

# UCD-SNMP-MIB
LA_LOAD = tuple(f"1.3.6.1.4.1.2021.10.1.3.{i}" for i in (1, 2, 3))  # "0.15" strings
MEM_TOTAL_SWAP = "1.3.6.1.4.1.2021.4.3.0"
MEM_AVAIL_SWAP = "1.3.6.1.4.1.2021.4.4.0"
MEM_TOTAL_REAL = "1.3.6.1.4.1.2021.4.5.0"
MEM_AVAIL_REAL = "1.3.6.1.4.1.2021.4.6.0"
MEM_BUFFER = "1.3.6.1.4.1.2021.4.14.0"
MEM_CACHED = "1.3.6.1.4.1.2021.4.15.0"
DSK_ENTRY = "1.3.6.1.4.1.2021.9.1"
# dskTable columns: path, percent, and the 64-bit-safe low/high halves (kB).
DSK_PATH, DSK_PERCENT = 2, 9
DSK_TOTAL_LOW, DSK_TOTAL_HIGH, DSK_AVAIL_LOW, DSK_AVAIL_HIGH, DSK_USED_LOW, DSK_USED_HIGH = (
    11,
    12,
    13,
    14,
    15,
    16,
)

# NET-SNMP-EXTEND-MIB nsExtendObjects; rows are indexed by the extend's name.
NS_EXTEND = "1.3.6.1.4.1.8072.1.3.2"
NS_EXTEND_OUTPUT_FULL = f"{NS_EXTEND}.3.1.2"
NS_EXTEND_RESULT = f"{NS_EXTEND}.3.1.4"
NS_EXTEND_OUT_LINE = f"{NS_EXTEND}.4.1.2"
EXTEND_STATS = "else-queue-stats"
EXTEND_LIST = "else-queue-list"

# The pass_persist control subtree (NET-SNMP-MIB netSnmpExperimental.25).
CONTROL = "1.3.6.1.4.1.8072.9999.25"
CONTROL_COLUMNS = {"flush": 1, "flush-id": 2, "hold": 3, "release": 4, "delete": 5, "requeue": 6}
LAST_RESULT = f"{CONTROL}.10.0"
LAST_STATUS = f"{CONTROL}.11.0"
ACTION_COUNT = f"{CONTROL}.12.0"


def extend_index(name: str) -> str:
    """The row index of an extend: its length, then one sub-identifier per character."""
    return ".".join(str(x) for x in (len(name), *name.encode("ascii")))


def extend_oid(column_oid: str, name: str) -> str:
    return f"{column_oid}.{extend_index(name)}"


def control_oid(action: str) -> str:
    return f"{CONTROL}.{CONTROL_COLUMNS[action]}.0"
