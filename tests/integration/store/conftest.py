"""A throwaway PostgreSQL 15 cluster for the store tests (one per test session).

initdb into a temp dir as the ``postgres`` OS user (PostgreSQL refuses to run as root),
listen on 127.0.0.1 at a free high port plus a private socket dir, create the four
contract roles, migrate one template database; each test that writes gets a fresh
copy of the template (CREATE DATABASE ... TEMPLATE is a file copy: milliseconds).
The postmaster is stopped by its PID at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from store_pg import CORPUS, PG_BIN, ROLES, Cluster, Database, start_cluster, stop_cluster

from else_core.db import migrate


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    if not (PG_BIN / "initdb").exists():
        pytest.fail("PostgreSQL 15 is not installed (make test installs the Debian package)")
    cluster, pid, base = start_cluster()
    try:
        with cluster.admin() as conn:
            for role in ROLES:
                conn.execute(f"CREATE ROLE {role} LOGIN")
        tpl = "else_template"
        with cluster.admin() as conn:
            conn.execute(f"CREATE DATABASE {tpl} OWNER else_owner")
        with psycopg.connect(cluster.dsn(tpl, "else_owner")) as conn:
            migrate.upgrade(conn)
        yield cluster
    finally:
        stop_cluster(pid, base)


@pytest.fixture
def db(pg_cluster: Cluster) -> Iterator[Database]:
    """A fresh, fully migrated database (a copy of the session's template)."""
    name = pg_cluster.create_db(template="else_template")
    yield Database(pg_cluster, name)
    pg_cluster.drop_db(name)


@pytest.fixture
def empty_db(pg_cluster: Cluster) -> Iterator[Database]:
    """A fresh database with no schema at all."""
    name = pg_cluster.create_db()
    yield Database(pg_cluster, name)
    pg_cluster.drop_db(name)


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.fail(f"corpus not found at {CORPUS}")
    return CORPUS
