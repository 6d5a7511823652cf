"""Fixtures: a throwaway Postfix, the role-configured snmpd, PostgreSQL (see snmp_env)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from snmp_env import (
    DB_ROLES,
    MASTER_CF,
    PG_BIN,
    Pg,
    Postfix,
    Snmpd,
    free_port,
    require_root,
    start_snmpd,
    wait_for,
)


@pytest.fixture(scope="session")
def postfix() -> Iterator[Postfix]:
    require_root()
    root = Path(tempfile.mkdtemp(prefix="else-snmp-pfx-"))
    root.chmod(0o755)  # Postfix daemons (user postfix) must reach the queue
    for d in ("etc", "spool", "data"):
        (root / d).mkdir()
    shutil.chown(root / "data", "postfix")
    closed = free_port(socket.SOCK_STREAM)  # nothing listens: every delivery is deferred
    main = {
        "compatibility_level": "3.6",
        "queue_directory": root / "spool",
        "data_directory": root / "data",
        "mail_owner": "postfix",
        "setgid_group": "postdrop",
        "myhostname": "pfx.test",
        "mydestination": "",
        "inet_interfaces": "127.0.0.1",
        "inet_protocols": "ipv4",
        "relayhost": f"[127.0.0.1]:{closed}",
        "smtp_dns_support_level": "disabled",
        "smtp_host_lookup": "native",
        "alias_maps": "",
        "alias_database": "",
        "maillog_file": root / "maillog",
        "maillog_file_prefixes": root,
        "queue_run_delay": "3600s",
        "minimal_backoff_time": "3600s",
        "maximal_backoff_time": "7200s",
        "delay_warning_time": "0h",
    }
    (root / "etc" / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in main.items()))
    (root / "etc" / "master.cf").write_text(MASTER_CF)
    pf = Postfix(root)
    pf.run("/usr/sbin/postfix", "start")
    wait_for((root / "spool" / "pid" / "master.pid").exists, 10, "Postfix master")
    pid = pf.master_pid
    try:
        yield pf
    finally:
        os.kill(pid, signal.SIGTERM)
        try:
            wait_for(lambda: not Path(f"/proc/{pid}").exists(), 10, "Postfix master to exit")
        finally:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def snmpd(postfix: Postfix) -> Iterator[Snmpd]:
    root = Path(tempfile.mkdtemp(prefix="else-snmpd-"))
    agent = start_snmpd(root, postfix)
    try:
        yield agent
    finally:
        if agent.proc is not None:
            agent.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg() -> Iterator[Pg]:
    """A throwaway PostgreSQL 15 with the contract's roles and the store's migrations
    (``servers``, ``snmp_samples`` and ``audit_log`` come from there, not from here)."""
    import psycopg

    from else_core.db import migrate

    require_root()
    if not (PG_BIN / "initdb").exists():
        pytest.fail("PostgreSQL 15 is missing: `make deps-test` installs it")
    base = Path(tempfile.mkdtemp(prefix="else-snmp-pg-"))
    base.chmod(0o755)
    shutil.chown(base, "postgres", "postgres")
    data = base / "data"
    as_pg = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*as_pg, str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    port = free_port(socket.SOCK_STREAM)
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [
            *as_pg,
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
        ],
        check=True,
        capture_output=True,
    )
    pid = int((data / "postmaster.pid").read_text().split()[0])
    try:
        cluster = Pg(port)
        with psycopg.connect(cluster.dsn("postgres", "postgres"), autocommit=True) as conn:
            for role in DB_ROLES:
                conn.execute(f"CREATE ROLE {role} LOGIN")
            conn.execute('CREATE DATABASE "else" OWNER else_owner')
        with psycopg.connect(cluster.dsn("else_owner")) as conn:
            migrate.upgrade(conn)
        yield cluster
    finally:
        os.kill(pid, signal.SIGQUIT)  # immediate shutdown: the cluster is thrown away
        try:
            wait_for(lambda: not Path(f"/proc/{pid}").exists(), 20, "PostgreSQL to stop")
        finally:
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def clean_db(pg: Pg) -> Pg:
    """Empty the SNMP tables between tests (as the owner)."""
    import psycopg

    with psycopg.connect(pg.dsn("else_owner"), autocommit=True) as conn:
        conn.execute("TRUNCATE servers, snmp_samples, audit_log")
    return pg
