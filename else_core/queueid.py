"""The Postfix queue-ID grammar, defined once.

Short IDs are upper-case hex (the time in microseconds plus the inode number); long IDs
(``enable_long_queue_ids = yes``) use Postfix's base-52 alphabet without vowels. The
bounds are generous for both forms and finite, so words like ``ALL``, ``-`` or an option
never pass as an ID.

Users: the SNMP manager (before a control SET), the WUI's quick search and the parser's
queue-ID prefix. The PFX-side scripts (pass_persist handler and root wrapper) run
without else_core and carry a copy of :data:`PATTERN`; tests/unit/snmp proves the copies
accept and refuse the same IDs.
"""

from __future__ import annotations

import re

SHORT = r"[0-9A-F]{6,20}"
LONG = r"[0-9BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz]{10,32}"
#: The grammar as a regular expression (no anchors, no groups), to embed in others.
PATTERN = f"(?:{SHORT}|{LONG})"
QUEUE_ID_RE = re.compile(PATTERN)


def valid_queue_id(text: str) -> bool:
    """True when ``text`` is a Postfix queue ID (short or long form) and nothing else."""
    return QUEUE_ID_RE.fullmatch(text) is not None
