"""Bounded values for indexed columns, shared by the writer and the search.

A btree index entry holds at most ~2.7 kB (a third of a page), so one over-long
Message-ID, address, queue ID or host name (anyone can log one with ``logger``) used to
fail its whole batch. The writer stores such values cut to :data:`KEY_BYTES` of UTF-8 in
the indexed columns (the full value stays in ``emails.doc`` and the raw line), and the
search cuts the value it compares with the same way, so an exact search still finds it.
Every legitimate value is far shorter (an address is at most 254 characters, a header
line 998), so only abuse is ever cut.
"""

from __future__ import annotations

KEY_BYTES = 1000
#: host names are part of multi-column keys (the statistics rollups: host + value)
HOST_BYTES = 500


def index_key(value: str | None, limit: int = KEY_BYTES) -> str | None:
    """``value`` cut to at most ``limit`` bytes of UTF-8 at a character boundary.

    NUL is replaced by U+FFFD first, as COPY does later, so the bound holds for what
    PostgreSQL stores."""
    if value is None or len(value) <= limit >> 2:  # 4 bytes per character at most
        return value
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    data = value.encode("utf-8", "replace")
    if len(data) <= limit:
        return value
    return data[:limit].decode("utf-8", "ignore")


def host_key(value: str | None) -> str | None:
    return index_key(value, HOST_BYTES)
