"""A throwaway PostgreSQL 15 cluster for the store tests (one per test session).

initdb into a temp dir as the ``postgres`` OS user (PostgreSQL refuses to run as root),
listen on 127.0.0.1 at a free high port plus a private socket dir, create the four
contract roles, migrate one template database; each test that writes gets a fresh
copy of the template (CREATE DATABASE ... TEMPLATE is a file copy: milliseconds).
The postmaster is stopped by its PID at the end.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from store_pg import CORPUS, PG_BIN, ROLES, Cluster, Database, _as_postgres, _free_port

from else_core.db import migrate


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    if not (PG_BIN / "initdb").exists():
        pytest.fail("PostgreSQL 15 is not installed (make test installs the Debian package)")
    base = Path(tempfile.mkdtemp(prefix="else-pg-"))
    data, sockdir = base / "data", base / "sock"
    sockdir.mkdir()
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(base, pw.pw_uid, pw.pw_gid)
        os.chown(sockdir, pw.pw_uid, pw.pw_gid)
    os.chmod(base, 0o755)  # noqa: S103 - the postgres user must reach its data dir
    _as_postgres(
        [
            str(PG_BIN / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-N",
            "-E",
            "UTF8",
            "--locale",
            "C.UTF-8",
        ]
    )
    port = _free_port()
    opts = (
        f"-p {port} -k {sockdir} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c shared_buffers=256MB "
        "-c max_connections=100"
    )
    _as_postgres(
        [
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            opts,
            "-l",
            str(base / "log"),
            "-w",
            "-t",
            "60",
            "start",
        ]
    )
    pid = int((data / "postmaster.pid").read_text().split()[0])
    cluster = Cluster(port, sockdir)
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
        os.kill(pid, signal.SIGINT)  # fast shutdown of the postmaster we started
        for _ in range(200):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        shutil.rmtree(base, ignore_errors=True)


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
