"""The PFX servers as the database knows them: health from the SNMP poller and samples.

The poller (:mod:`else_core.snmp.poller`) keeps ``servers`` and ``snmp_samples``; the
WUI's Servers page reads them here. Servers named in the configuration but never polled
yet are listed too, so a new server shows up before its first sample.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from else_core.config import Config


def names(conn: psycopg.Connection) -> set[str]:
    """Every server name the database has seen."""
    return {r[0] for r in conn.execute("SELECT name FROM servers").fetchall()}


def known_names(conn: psycopg.Connection, config: Config) -> list[str]:
    """Configured and seen servers, sorted (the choices of a server field)."""
    return sorted({s.name for s in config.servers} | names(conn))


def health(conn: psycopg.Connection, config: Config) -> list[dict[str, Any]]:
    """One row per server (configured or seen) with its poll state and latest metrics."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT s.name, s.address, s.role, s.snmp_enabled, s.down, s.last_poll,"
            " s.last_ok, s.last_error, s.consecutive_failures,"
            " (SELECT metrics FROM snmp_samples x WHERE x.server = s.name AND x.ok"
            "  ORDER BY x.at DESC LIMIT 1) AS metrics FROM servers s ORDER BY s.name"
        ).fetchall()
    by_name = {r["name"]: r for r in rows}
    for s in config.servers:
        by_name.setdefault(
            s.name,
            {
                "name": s.name,
                "address": s.address,
                "role": s.role,
                "snmp_enabled": True,
                "down": None,
                "last_poll": None,
                "last_ok": None,
                "last_error": None,
                "consecutive_failures": 0,
                "metrics": None,
            },
        )
    return [by_name[k] for k in sorted(by_name)]


def register(conn: psycopg.Connection, config: Config) -> list[str]:
    """Write each configured server's address and role into ``servers``; the names of
    those that were missing or different (none: nothing changed, as Ansible asks).

    Reports group mail by the role of the servers it crossed, in SQL, so the roles must be
    in the database (and, in the split layout, replicated to the frontend's standby) even
    for a server the SNMP poller does not reach. Poll state is left as it is.
    """
    changed = []
    with conn.transaction():
        for s in config.servers:
            cur = conn.execute(
                "INSERT INTO servers (name, address, role) VALUES (%s, %s, %s)"
                " ON CONFLICT (name) DO UPDATE SET address = EXCLUDED.address,"
                " role = EXCLUDED.role WHERE servers.address IS DISTINCT FROM EXCLUDED.address"
                " OR servers.role IS DISTINCT FROM EXCLUDED.role",
                (s.name, s.address, s.role),
            )
            if cur.rowcount:
                changed.append(s.name)
    return changed


def roles(conn: psycopg.Connection, config: Config) -> dict[str, str]:
    """Each known server's role: the configuration's, else the database's."""
    out = {str(r[0]): str(r[1]) for r in conn.execute("SELECT name, role FROM servers")}
    out.update({s.name: s.role for s in config.servers})
    return out


def samples(
    conn: psycopg.Connection, name: str, since: datetime
) -> list[tuple[datetime, dict[str, Any] | None]]:
    """The server's successful samples since ``since``, oldest first: (at, metrics)."""
    rows = conn.execute(
        "SELECT at, metrics FROM snmp_samples WHERE server = %s AND at >= %s AND ok ORDER BY at",
        (name, since),
    ).fetchall()
    return [(r[0], r[1]) for r in rows]
