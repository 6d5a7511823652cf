"""The postgresql role's replication settings, rendered by Ansible, run by real PostgreSQL.

The lab is not needed to know that what the role writes works: its ``50-else.conf`` and
``pg_hba.conf`` for a primary (``back``) and a standby (``front``) are rendered by
ansible-playbook (role_render.py) and two real clusters run with them on loopback. The
steps the role's tasks do on a host (the replication role, the slot, the passfile,
``pg_basebackup`` with the role's arguments, ``standby.signal``) are done here the same way.
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from pg_pair import Node, _tls
from store_pg import PG_BIN, _as_postgres, _free_port

pytestmark = pytest.mark.postgres

REPLICATOR_PASSWORD = "role-test-replicator-7"
WEB_PASSWORD = "role-test-web-3"


@dataclass
class Rendered:
    back: Node
    front: Node
    back_conf: Path
    front_conf: Path
    files: dict[str, dict[str, str]]


def _chown(*paths: Path) -> None:
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        for p in paths:
            os.chown(p, pw.pw_uid, pw.pw_gid)


def psql(node: Node, sql: str, db: str = "postgres") -> str:
    """Run SQL as the postgres OS user over the socket (the role's pg_hba: peer only)."""
    argv = [str(PG_BIN / "psql"), "-XAtq", "-h", str(node.sockdir), "-p", str(node.port)]
    return _as_postgres([*argv, "-d", db, "-c", sql]).stdout.strip()


def start(node: Node, conf_dir: Path) -> None:
    """Start a cluster whose only settings are the role's files (and a private socket)."""
    (node.data / "postgresql.conf").write_text(
        f"include '{conf_dir}/50-else.conf'\n"
        f"hba_file = '{conf_dir}/pg_hba.conf'\n"
        f"unix_socket_directories = '{node.sockdir}'\n"
    )
    pg_ctl = str(PG_BIN / "pg_ctl")
    _as_postgres([pg_ctl, "-D", str(node.data), "-l", str(node.base / "log"), "-w", "start"])
    node.pid = int((node.data / "postmaster.pid").read_text().split()[0])


@pytest.fixture(scope="module")
def rendered() -> Iterator[Rendered]:
    from role_render import render

    # Not under pytest's tmp dir: the postgres user must reach the data directories.
    root = Path(tempfile.mkdtemp(prefix="else-role-replication-"))
    root.chmod(0o755)
    back = Node(root / "back", _free_port())
    front = Node(root / "front", _free_port())
    confs = {}
    for name, node in (("back", back), ("front", front)):
        conf = root / f"{name}-etc"
        for d in (node.base, node.sockdir, conf):
            d.mkdir(parents=True)
        confs[name] = conf
    tls = root / "tls"
    tls.mkdir()
    _tls(tls)
    for conf in confs.values():
        for src, dest in (("host.pem", "else-host.pem"), ("host.key", "else-host.key"), ("ca.pem", "else-ca.pem")):  # fmt: skip
            shutil.copy(tls / src, conf / dest)
        (conf / "else-host.key").chmod(0o600)
    passfile = root / "front-replication.pgpass"
    files = render(
        root / "render",
        {
            "back": {
                "ansible_host": "127.0.0.1",
                "postgresql_port": back.port,
                "postgresql_replication_mode": "primary",
                "postgresql_config_dir": str(confs["back"]),
            },
            "front": {
                "ansible_host": "127.0.0.1",
                "postgresql_port": front.port,
                "postgresql_replication_mode": "standby",
                "postgresql_config_dir": str(confs["front"]),
                "postgresql_replication_passfile": str(passfile),
            },
        },
    )
    for name, conf in confs.items():
        for fname, text in files[name].items():
            (conf / fname).write_text(text)
    _chown(root, back.base, back.sockdir, front.base, front.sockdir, *confs.values())
    _chown(*(p for conf in confs.values() for p in conf.iterdir()))
    try:
        initdb = [str(PG_BIN / "initdb"), "-D", str(back.data), "-A", "trust", "-U", "postgres", "-N"]  # fmt: skip
        _as_postgres([*initdb, "-E", "UTF8", "--locale", "C.UTF-8"])
        start(back, confs["back"])
        # What replication_primary.yml and database.yml do on the backend.
        psql(
            back, f"CREATE ROLE else_replicator REPLICATION LOGIN PASSWORD '{REPLICATOR_PASSWORD}'"
        )
        psql(back, f"CREATE ROLE else_web LOGIN PASSWORD '{WEB_PASSWORD}'")
        psql(back, 'CREATE DATABASE "else"')
        psql(back, "SELECT pg_create_physical_replication_slot('front')")
        # What replication_standby.yml does on the frontend.
        passfile.write_text(f"127.0.0.1:{back.port}:replication:else_replicator:{REPLICATOR_PASSWORD}\n")  # fmt: skip
        passfile.chmod(0o600)
        _chown(passfile)
        conninfo = (
            f"host=127.0.0.1 port={back.port} user=else_replicator passfile={passfile}"
            f" sslmode=verify-full sslrootcert={confs['front']}/else-ca.pem"
        )
        _as_postgres(
            [
                str(PG_BIN / "pg_basebackup"),
                f"--pgdata={front.data}",
                f"--dbname={conninfo}",
                "--wal-method=stream",
                "--slot=front",
                "--checkpoint=fast",
                "--no-password",
            ]
        )
        (front.data / "standby.signal").write_text("")
        _chown(front.data / "standby.signal")
        start(front, confs["front"])
        yield Rendered(back, front, confs["back"], confs["front"], files)
    finally:
        front.stop()
        back.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_the_rendered_primary_streams_to_the_rendered_standby_over_tls(rendered):
    rows = psql(
        rendered.back,
        "SELECT r.usename, r.application_name, r.state, s.ssl FROM pg_stat_replication r"
        " JOIN pg_stat_ssl s USING (pid)",
    )
    assert rows == "else_replicator|front|streaming|t"


def test_the_rendered_standby_is_a_hot_standby_on_its_slot(rendered):
    standby = psql(rendered.front, "SELECT pg_is_in_recovery(), current_setting('hot_standby')")
    slot = psql(rendered.back, "SELECT slot_name, active FROM pg_replication_slots")
    assert (standby, slot) == ("t|on", "front|t")


def test_the_web_role_reads_on_the_standby_what_the_primary_wrote(rendered):
    psql(rendered.back, "CREATE TABLE probe (v text); INSERT INTO probe VALUES ('x')", "else")
    psql(rendered.back, "GRANT SELECT ON probe TO else_web", "else")
    lsn = psql(rendered.back, "SELECT pg_current_wal_lsn()")
    psql(
        rendered.front,
        "DO $$ BEGIN WHILE pg_last_wal_replay_lsn() < '" + lsn + "'::pg_lsn"
        " LOOP PERFORM pg_sleep(0.05); END LOOP; END $$",
    )
    dsn = f"host=127.0.0.1 port={rendered.front.port} dbname=else user=else_web"
    with psycopg.connect(dsn, password=WEB_PASSWORD) as conn:
        assert conn.execute("SELECT v FROM probe").fetchall() == [("x",)]


@pytest.mark.parametrize(
    ("sslmode", "accepted"),
    [("verify-full", True), ("disable", False)],
)
def test_the_primary_admits_replication_over_tls_only(rendered, sslmode, accepted):
    dsn = (
        f"host=127.0.0.1 port={rendered.back.port} user=else_replicator replication=true"
        f" sslmode={sslmode} sslrootcert={rendered.front_conf}/else-ca.pem"
    )
    try:
        with psycopg.connect(dsn, password=REPLICATOR_PASSWORD, autocommit=True):
            ok = True  # authenticated by a pg_hba line of the replication role
    except psycopg.OperationalError as exc:
        assert "no pg_hba.conf entry" in str(exc)
        ok = False
    assert ok is accepted
