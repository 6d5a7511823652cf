"""Helpers shared by the store tests: the throwaway cluster and its databases."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import psycopg

PG_BIN = Path("/usr/lib/postgresql/15/bin")
ROLES = ("else_owner", "else_rsyslog", "else_worker", "else_web")
CORPUS = Path(os.environ.get("ELSE_CORPUS", "/work/shared/corpus/public"))
if not CORPUS.is_dir():  # CI: shared/ sits beside the clone
    CORPUS = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "public"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    port: int
    sockdir: Path

    def dsn(self, dbname: str = "postgres", user: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} dbname={dbname} user={user}"

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.dsn(), autocommit=True)

    def create_db(self, template: str | None = None) -> str:
        name = "t_" + uuid.uuid4().hex[:12]
        with self.admin() as conn:
            if template:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" OWNER else_owner')
            else:
                conn.execute(f'CREATE DATABASE "{name}" OWNER else_owner')
        return name

    def drop_db(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _as_postgres(argv: list[str], **kw: object) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--", *argv]
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)


@dataclass
class Database:
    cluster: Cluster
    name: str

    def dsn(self, user: str = "else_owner") -> str:
        return self.cluster.dsn(self.name, user)

    def connect(self, user: str = "else_owner") -> psycopg.Connection:
        return psycopg.connect(self.dsn(user), autocommit=True)


INGEST_SQL = "SELECT else_ingest_line(%s, %s, %s, %s, %s, %s, %s, %s, %s)"


#: How much later ELSE receives a line RELP sends again: after a reconnect, seconds.
RESEND_DELAY = timedelta(seconds=5)


def rsyslog_rows(path: Path, year: int = 2026, duplicate_every: int = 0) -> list[tuple]:
    """A log file as the argument rows rsyslog's ompgsql template sends (msg keeps its
    leading space); every ``duplicate_every``-th line is sent again, as RELP does after a
    reconnect: the same line, received ``RESEND_DELAY`` later."""
    from else_core.envelope import split_line

    rows: list[tuple] = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for i, raw in enumerate(fh, 1):
            line = split_line(raw.rstrip("\n"), i, year=year, tz="UTC")
            if line.ts is None:
                continue
            stamp = line.ts.isoformat()
            row = (
                stamp,
                stamp,
                line.host,
                "198.18.0.10",
                line.program,
                str(line.pid) if line.pid is not None else "-",
                "2",
                "6",
                " " + line.message,
            )
            rows.append(row)
            if duplicate_every and i % duplicate_every == 0:
                rows.append(((line.ts + RESEND_DELAY).isoformat(), *row[1:]))
    return rows


def send_rows(conn: psycopg.Connection, rows: list[tuple], batch: int = 128) -> None:
    """Call the ingest function the way ompgsql does: one transaction per batch."""
    for start in range(0, len(rows), batch):
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(INGEST_SQL, rows[start : start + batch])


FAST = ("-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
        "-c shared_buffers=256MB -c max_connections=100")  # fmt: skip


def start_cluster(settings: str = FAST, prefix: str = "else-pg-") -> tuple[Cluster, int, Path]:
    """initdb + pg_ctl start as the postgres user; returns (cluster, postmaster pid, dir)."""
    base = Path(tempfile.mkdtemp(prefix=prefix))
    data, sockdir = base / "data", base / "sock"
    sockdir.mkdir()
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(base, pw.pw_uid, pw.pw_gid)
        os.chown(sockdir, pw.pw_uid, pw.pw_gid)
    os.chmod(base, 0o755)  # noqa: S103 - the postgres user must reach its data dir
    initdb = [str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-N"]
    _as_postgres([*initdb, "-E", "UTF8", "--locale", "C.UTF-8"])
    port = _free_port()
    opts = f"-p {port} -k {sockdir} -c listen_addresses=127.0.0.1 {settings}"
    log = str(base / "log")
    _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", opts, "-l", log, "-w", "start"])
    pid = int((data / "postmaster.pid").read_text().split()[0])
    return Cluster(port, sockdir), pid, base


def stop_cluster(pid: int, base: Path) -> None:
    """Fast shutdown of the postmaster we started (by its PID), then remove its files."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGINT)
    for _ in range(400):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    shutil.rmtree(base, ignore_errors=True)
