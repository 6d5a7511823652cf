"""A primary and its hot standby (two real PostgreSQL clusters on loopback), the ELSE
schema and users on the primary, and the WUI reading the standby and writing the primary.

The split layout of docs/scale.md on one machine: mail is imported on the primary (the
backend), found through the standby (the frontend's replica), and the primary is stopped
and started again while the WUI keeps answering.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[3]
for p in (ROOT, ROOT / "tests" / "integration" / "store", ROOT / "tests" / "integration" / "webui"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from pg_pair import Node, make_primary, make_standby, remove, wait_replayed  # noqa: E402
from store_pg import CORPUS, PG_BIN, ROLES  # noqa: E402
from webclient import Client, serving  # noqa: E402 - the tests import serving from here

from else_core import accounts  # noqa: E402
from else_core.config import Config  # noqa: E402
from else_core.db import migrate  # noqa: E402
from else_core.store.importer import import_files  # noqa: E402
from webui import create_app  # noqa: E402

DB = "else_db"
PASSWORD = "correct horse battery"
FIRST = CORPUS / "lightmeter-individual" / "11_single_successful_delivery.log"
FIRST_ID = "264dc34c-ad52-466c-6d41-6622dfced3b8@mydomain.com"


class Pair:
    """The two nodes and the lag measured when the mail was imported."""

    def __init__(self, primary: Node, standby: Node) -> None:
        self.primary, self.standby = primary, standby
        self.import_lag = 0.0

    def dsn(self, node: Node, user: str = "else_web") -> str:
        return node.dsn(DB, user)

    def replayed(self) -> float:
        return wait_replayed(self.primary, self.standby)


@pytest.fixture(scope="session")
def pair() -> Iterator[Pair]:
    if not (PG_BIN / "pg_basebackup").exists():
        pytest.fail("PostgreSQL 15 is not installed (make test installs the Debian package)")
    primary = make_primary()
    standby = None
    try:
        with primary.admin() as conn:
            for role in ROLES:
                conn.execute(f"CREATE ROLE {role} LOGIN")
            conn.execute(f"CREATE DATABASE {DB} OWNER else_owner")
        with psycopg.connect(primary.dsn(DB, "else_owner")) as conn:
            migrate.upgrade(conn)
        with psycopg.connect(primary.dsn(DB, "else_web"), autocommit=True) as conn:
            accounts.add_user(conn, "admin", PASSWORD, is_admin=True)
        standby = make_standby(primary)
        p = Pair(primary, standby)
        with psycopg.connect(primary.dsn(DB, "else_owner")) as conn:
            import_files(conn, [str(FIRST)], year=2026, host_tz="UTC")
        p.import_lag = p.replayed()
        yield p
    finally:
        if standby is not None:
            remove(standby)
        remove(primary)


def frontend(read_dsn: str, write_dsn: str):
    """The WUI as the frontend host runs it; a down primary is retried at once (the
    production default waits ``RECHECK_SECONDS``), so the tests need not wait."""
    cfg = Config(None, {"web": {"timezone": "UTC"}})
    app = create_app(cfg, dsn=write_dsn, read_dsn=read_dsn, secret=b"r" * 32, secure_cookies=False)
    app.config["else.settings"].routes.recheck = 0.0
    return app


@pytest.fixture(scope="session")
def wui(pair) -> Iterator[str]:
    with serving(frontend(pair.dsn(pair.standby), pair.dsn(pair.primary))) as url:
        yield url


def login(base_url: str, user: str = "admin") -> Client:
    c = Client(base_url)
    c.get("/login")
    res = c.post("/login", {"username": user, "password": PASSWORD, "tz": "UTC"})
    assert res.status == 303, res.text[:500]
    return c
