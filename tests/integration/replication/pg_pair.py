"""Two real PostgreSQL 15 clusters on loopback: a primary and its hot standby.

The primary gets what the postgresql role sets up in the split layout (docs/scale.md): a
REPLICATION role with a password, a ``hostssl replication`` pg_hba entry for it (TLS with
a certificate from a CA made here, password checked with SCRAM), ``wal_level = replica``
and a slot. The standby is made the way the role makes it: ``pg_basebackup`` as that role
with ``sslmode=verify-full`` and a libpq passfile, ``-R`` writing ``standby.signal`` and
``primary_conninfo``, then started as a hot standby. Both postmasters are stopped by PID.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from store_pg import FAST, PG_BIN, _as_postgres, _free_port

REPLICATOR = "else_replicator"
REPLICATOR_PASSWORD = "replica-secret-9f2c"
HBA = f"""\
local all all trust
hostssl replication {REPLICATOR} 127.0.0.1/32 scram-sha-256
host all all 127.0.0.1/32 trust
"""


@dataclass
class Node:
    """One postmaster: its data directory, options and (while it runs) its PID."""

    base: Path
    port: int
    pid: int | None = None

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def sockdir(self) -> Path:
        return self.base / "sock"

    def dsn(self, dbname: str = "postgres", user: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} dbname={dbname} user={user}"

    def admin(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(self.dsn(dbname), autocommit=True)

    def start(self) -> None:
        tls = self.base / "tls"
        opts = (
            f"-p {self.port} -k {self.sockdir} -c listen_addresses=127.0.0.1 {FAST}"
            " -c wal_level=replica -c max_wal_senders=4 -c hot_standby=on"
            " -c password_encryption=scram-sha-256 -c synchronous_commit=on"
            f" -c ssl=on -c ssl_cert_file={tls}/host.pem -c ssl_key_file={tls}/host.key"
        )
        pg_ctl = str(PG_BIN / "pg_ctl")
        _as_postgres([pg_ctl, "-D", str(self.data), "-o", opts, "-l", str(self.base / "log"), "-w", "start"])  # fmt: skip
        self.pid = int((self.data / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        """Fast shutdown by PID (SIGINT), waiting until the postmaster is gone."""
        if self.pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGINT)
        for _ in range(1200):
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        self.pid = None


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _tls(tls: Path) -> None:
    """A CA and a server certificate for 127.0.0.1 (as the pki role issues them: the
    address in subjectAltName, so the standby can check it with verify-full)."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=ELSE test CA", "-keyout", str(tls / "ca.key"), "-out", str(tls / "ca.pem"))  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", str(tls / "host.key"), "-out", str(tls / "host.csr"))  # fmt: skip
    (tls / "san.ext").write_text("subjectAltName = IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", str(tls / "host.csr"), "-CA", str(tls / "ca.pem"),
             "-CAkey", str(tls / "ca.key"), "-CAcreateserial", "-days", "2",
             "-extfile", str(tls / "san.ext"), "-out", str(tls / "host.pem"))  # fmt: skip


def _new_base(prefix: str) -> Path:
    base = Path(tempfile.mkdtemp(prefix=prefix))
    (base / "sock").mkdir()
    (base / "tls").mkdir()
    _tls(base / "tls")
    (base / "tls" / "host.key").chmod(0o600)
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        for p in (base, base / "sock", base / "tls", *(base / "tls").iterdir()):
            os.chown(p, pw.pw_uid, pw.pw_gid)
    os.chmod(base, 0o755)  # noqa: S103 - the postgres user must reach its data dir
    return base


def make_primary() -> Node:
    node = Node(_new_base("else-primary-"), _free_port())
    initdb = [str(PG_BIN / "initdb"), "-D", str(node.data), "-A", "trust", "-U", "postgres", "-N"]
    _as_postgres([*initdb, "-E", "UTF8", "--locale", "C.UTF-8"])
    (node.data / "pg_hba.conf").write_text(HBA)
    node.start()
    with node.admin() as conn:
        conn.execute(
            f"CREATE ROLE {REPLICATOR} WITH REPLICATION LOGIN PASSWORD '{REPLICATOR_PASSWORD}'"
        )
    return node


def make_standby(primary: Node, slot: str = "else_frontend") -> Node:
    """``pg_basebackup -R`` from the primary as the replication role over verify-full TLS
    (the primary's CA), the password from a passfile; then start it as a hot standby."""
    node = Node(_new_base("else-standby-"), _free_port())
    passfile = node.base / "tls" / "replication.pgpass"
    passfile.write_text(
        f"127.0.0.1:{primary.port}:replication:{REPLICATOR}:{REPLICATOR_PASSWORD}\n"
    )
    passfile.chmod(0o600)
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(passfile, pw.pw_uid, pw.pw_gid)
    conninfo = (
        f"host=127.0.0.1 port={primary.port} user={REPLICATOR} passfile={passfile}"
        f" sslmode=verify-full sslrootcert={primary.base / 'tls' / 'ca.pem'}"
    )
    argv = [
        str(PG_BIN / "pg_basebackup"),
        *("-d", conninfo, "-D", str(node.data), "-R", "-X", "stream", "-C", "-S", slot),
        *("-c", "fast", "-w"),
    ]
    _as_postgres(argv)
    node.start()
    return node


def wait_replayed(primary: Node, standby: Node, rounds: int = 2400) -> float:
    """Wait until the standby has replayed everything the primary wrote; return the
    seconds it took (the replay lag seen by a reader right after a commit)."""
    started = time.monotonic()
    with primary.admin() as p:
        row = p.execute("SELECT pg_current_wal_lsn()").fetchone()
    assert row is not None
    target = row[0]
    with standby.admin() as s:
        for _ in range(rounds):
            done = s.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)).fetchone()
            if done and done[0]:
                return time.monotonic() - started
            time.sleep(0.025)
    raise AssertionError(f"the standby did not replay up to {target}")


def remove(node: Node) -> None:
    node.stop()
    shutil.rmtree(node.base, ignore_errors=True)
