"""Apply the versioned migrations and the role grants.

``upgrade()`` is idempotent: each migration runs once, in its own transaction, recorded
in ``schema_migrations``; an advisory lock keeps two concurrent upgrades from racing.
The grants are re-applied on every run (they are cheap and idempotent), so a role the
PostgreSQL playbook creates after the first upgrade still gets its privileges.
"""

from __future__ import annotations

import hashlib
import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any, LiteralString

import psycopg
from psycopg import sql

from else_core.db import migrations

LOCK_KEY = 0x454C5345  # "ELSE"

ROLES = ("else_owner", "else_rsyslog", "else_worker", "else_web")

INGEST_SIGNATURE = "else_ingest_line(text, text, text, text, text, text, text, text, text)"
DEFINER_FUNCTIONS = (
    INGEST_SIGNATURE,
    "else_raw_partition(date)",
    "else_raw_partitions_ahead(integer)",
    "else_prune(timestamptz)",
)

SEARCH_TABLES = ("emails", "transactions", "email_recipients", "deliveries", "rejects")
WEB_TABLES = (
    "users",
    "groups",
    "group_members",
    "group_servers",
    "group_domains",
    "group_addresses",
    "api_tokens",
    "search_history",
    "saved_searches",
    "login_throttle",
    "group_networks",
)

ALERT_TABLES = (
    "alert_rules",
    "alerts",
    "alert_events",
    "alert_deliveries",
    "alert_line_seen",
    "alert_cursor",
)

#: (role, privileges, objects); objects are table names unless marked.
GRANTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("else_worker", "SELECT, INSERT", ("raw_events",)),
    ("else_worker", "SELECT", ("raw_rejects", "links", "ingest_lag")),
    ("else_worker", "SELECT, INSERT, UPDATE, DELETE", (*SEARCH_TABLES, "ingest_state")),
    ("else_worker", "SELECT, INSERT, UPDATE", ("import_files", "servers")),
    ("else_worker", "SELECT, INSERT", ("snmp_samples", "audit_log")),
    ("else_web", "SELECT", (*SEARCH_TABLES, "raw_events", "links", "ingest_lag", "servers")),
    ("else_web", "SELECT", ("snmp_samples", "import_files", "raw_rejects")),
    ("else_web", "SELECT, INSERT", ("audit_log",)),
    ("else_worker", "SELECT", ("schema_migrations",)),
    ("else_worker", "SELECT, INSERT, UPDATE, DELETE", ("stats_hourly", "stats_daily")),
    ("else_web", "SELECT", ("stats_hourly", "stats_daily")),
    # m0011: an import's rollup counts, folded into the rollups before it commits
    ("else_worker", "SELECT, INSERT, DELETE", ("stats_hourly_pending", "stats_daily_pending")),
    ("else_web", "SELECT", ("schema_migrations",)),
    ("else_worker", "SELECT, INSERT", ("store_rejects",)),
    ("else_web", "SELECT", ("store_rejects",)),
    ("else_web", "SELECT, INSERT, UPDATE, DELETE", WEB_TABLES),
    # Alerts (m0010): the evaluator (worker role) keeps them; the WUI acknowledges and
    # administers rules; group scopes read the groups.
    ("else_worker", "SELECT, INSERT, UPDATE, DELETE", ALERT_TABLES),
    ("else_worker", "SELECT", ("groups", "group_servers")),
    ("else_web", "SELECT, INSERT, UPDATE, DELETE", ALERT_TABLES),
)
SEQUENCE_GRANTS = (
    ("else_worker", ("raw_events_id_seq", "import_files_id_seq", "snmp_samples_id_seq")),
    ("else_worker", ("audit_log_id_seq", "store_rejects_id_seq")),
    ("else_web", ("audit_log_id_seq", *(f"{t}_id_seq" for t in ("users", "groups")))),
    ("else_web", ("api_tokens_id_seq", "search_history_id_seq", "saved_searches_id_seq")),
    *(
        (role, tuple(f"{t}_id_seq" for t in ALERT_TABLES[:4]))
        for role in ("else_worker", "else_web")
    ),
)
FUNCTION_GRANTS = (
    ("else_rsyslog", (INGEST_SIGNATURE,)),
    ("else_worker", ("else_raw_partition(date)", "else_raw_partitions_ahead(integer)")),
    ("else_worker", ("else_prune(timestamptz)",)),
)


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available() -> list[Migration]:
    """Every migration shipped with this release, in version order."""
    out = []
    for info in pkgutil.iter_modules(migrations.__path__):
        if not info.name.startswith("m"):
            continue
        number, _, name = info.name[1:].partition("_")
        module = importlib.import_module(f"{migrations.__name__}.{info.name}")
        out.append(Migration(int(number), name, module.SQL))
    out.sort(key=lambda m: m.version)
    versions = [m.version for m in out]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration versions: {versions}")
    return out


def applied(conn: psycopg.Connection) -> set[int]:
    row = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
    if row is None or row[0] is None:
        return set()
    return {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}


def upgrade(conn: psycopg.Connection, target: int | None = None) -> int:
    """Apply pending migrations (up to ``target``), then the grants; returns how many ran."""
    conn.autocommit = False
    count = 0
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = applied(conn)
        for mig in available():
            if mig.version in done or (target is not None and mig.version > target):
                continue
            with conn.transaction():
                conn.execute(mig.sql)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (mig.version, mig.name, mig.checksum),
                )
            count += 1
        apply_grants(conn)
        # Keep day partitions ahead of time (the ingest function creates any it still misses).
        if 1 in applied(conn):
            conn.execute("SELECT else_raw_partitions_ahead(7)")
    return count


def _existing(conn: psycopg.Connection, names: tuple[str, ...], kind: str) -> list[str]:
    if kind == "function":
        return [n for n in names if _one(conn, "SELECT to_regprocedure(%s)", n) is not None]
    return [n for n in names if _one(conn, "SELECT to_regclass(%s)", n) is not None]


def _one(conn: psycopg.Connection, query: LiteralString, value: str) -> Any:
    """The single value a catalogue look-up returns (None: no such object)."""
    row = conn.execute(query, (value,)).fetchone()
    return None if row is None else row[0]


def apply_grants(conn: psycopg.Connection) -> None:
    """Least privilege for the roles that exist; objects not yet created are skipped."""
    roles = {
        r[0]
        for r in conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (list(ROLES),)
        )
    }
    for fn in _existing(conn, DEFINER_FUNCTIONS, "function"):
        conn.execute(sql.SQL("REVOKE ALL ON FUNCTION {} FROM PUBLIC").format(sql.SQL(fn)))
    for role in roles - {"else_owner"}:
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(sql.Identifier(role)))
    for role, privs, tables in GRANTS:
        if role not in roles:
            continue
        for table in _existing(conn, tables, "table"):
            conn.execute(
                sql.SQL("GRANT {} ON TABLE {} TO {}").format(
                    sql.SQL(privs), sql.Identifier(table), sql.Identifier(role)
                )
            )
    for role, seqs in SEQUENCE_GRANTS:
        if role not in roles:
            continue
        for seq in _existing(conn, seqs, "table"):
            conn.execute(
                sql.SQL("GRANT USAGE, SELECT ON SEQUENCE {} TO {}").format(
                    sql.Identifier(seq), sql.Identifier(role)
                )
            )
    if "else_worker" in roles and _existing(conn, ("raw_import_id_seq",), "table"):
        # setval: an import reserves a block of ids at once (else_core.store.importer)
        conn.execute("GRANT USAGE, SELECT, UPDATE ON SEQUENCE raw_import_id_seq TO else_worker")
    for role, fns in FUNCTION_GRANTS:
        if role not in roles:
            continue
        for fn in _existing(conn, fns, "function"):
            # fn is one of the fixed signatures above, never user input.
            conn.execute(
                sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(
                    sql.SQL(fn), sql.Identifier(role)
                )
            )
