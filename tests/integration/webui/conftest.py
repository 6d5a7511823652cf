"""The web UI against the real store: the store's throwaway PostgreSQL, the real importer,
and the app served over real HTTP on 127.0.0.1 by a threaded WSGI server.

Data: a few real Postfix logs from the lightmeter corpus (content filter, bounce,
deferral, rejects) plus ``hostile.log``, crafted here: mail of two customer domains
(alpha.example, beta.example) on two servers (pfx, pfx2), with XSS payloads where an
attacker controls the log (Message-ID, HELO, remote SMTP answers, reject reasons).

Users: ``admin`` (sees all), ``alice`` (group alpha: alpha.example on server pfx only),
``bob`` (group beta: beta.example on every server), ``nobody`` (no group: sees nothing).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb

ROOT = Path(__file__).resolve().parents[3]
for p in (ROOT, ROOT / "tests" / "integration" / "store"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from store_pg import CORPUS  # noqa: E402
from webclient import Client, serving  # noqa: E402 - tests import serving from here

from else_core import accounts  # noqa: E402
from else_core.config import Config  # noqa: E402
from else_core.store.importer import import_files  # noqa: E402
from tests.integration.store.conftest import pg_cluster  # noqa: E402, F401 - the store's fixture
from webui import create_app  # noqa: E402

HERE = Path(__file__).resolve().parent
HOSTILE = HERE / "hostile.log"
SUBJECT = HERE / "subject.log"  # one e-mail whose Subject the postfix role logged
LIGHTMETER = (
    "11_single_successful_delivery.log",
    "1_bounce_simple.log",
    "2_multiple_recipients_some_bounces.log",
    "6_deferred_message_retry.log",
    "17-smtpd-reject.log",
    "28_received_bounce.log",
    "31_relayed_bounce.log",
)
PASSWORD = "correct horse battery"
USERS = {"admin": True, "alice": False, "bob": False, "nobody": False}
#: Wide enough for every stamp in the data (the corpus has no year; 2026 is given).
SINCE, UNTIL = "2025-01-01", "2027-12-31"


class WebDB:
    def __init__(self, cluster, name: str) -> None:
        self.cluster, self.name = cluster, name

    def dsn(self, user: str = "else_web") -> str:
        return self.cluster.dsn(self.name, user)

    def connect(self, user: str = "else_owner") -> psycopg.Connection:
        return psycopg.connect(self.dsn(user), autocommit=True)


@pytest.fixture(scope="session")
def web_db(pg_cluster) -> Iterator[WebDB]:  # noqa: F811
    name = pg_cluster.create_db(template="else_template")
    db = WebDB(pg_cluster, name)
    with psycopg.connect(db.dsn("else_owner")) as conn:
        import_files(
            conn,
            [str(CORPUS / "lightmeter-individual" / f) for f in LIGHTMETER],
            year=2026,
            host_tz="UTC",
        )
    with psycopg.connect(db.dsn("else_owner")) as conn:
        import_files(conn, [str(HOSTILE), str(SUBJECT)], year=2026, host_tz="UTC")
    with db.connect("else_worker") as conn:
        conn.execute(
            "INSERT INTO servers (name, address, role, down, last_poll, last_ok)"
            " VALUES ('pfx', '127.0.0.1', 'mixed', false, now(), now()),"
            " ('pfx2', '127.0.0.2', 'outgoing', true, now(), now() - interval '1 hour')"
        )
        now = datetime.now(UTC)
        for i in range(24):
            conn.execute(
                "INSERT INTO snmp_samples (server, at, ok, metrics) VALUES ('pfx', %s, true, %s)",
                (
                    now - timedelta(hours=23 - i),
                    Jsonb(
                        {
                            "queues": {
                                "maildrop": 0,
                                "incoming": i % 3,
                                "active": i % 5,
                                "deferred": 10 + i,
                                "hold": 1,
                                "total": 11 + i + i % 3 + i % 5,
                            },
                            "master_running": True,
                            "load": [0.1, 0.2, 0.3],
                        }
                    ),
                ),
            )
    with db.connect("else_web") as conn:
        for user, admin in USERS.items():
            accounts.add_user(conn, user, PASSWORD, is_admin=admin)
        accounts.add_group(conn, "alpha", "Alpha Ltd")
        accounts.group_add(conn, "alpha", "user", "alice")
        accounts.group_add(conn, "alpha", "server", "pfx")
        accounts.group_add(conn, "alpha", "domain", "alpha.example")
        accounts.add_group(conn, "beta")
        accounts.group_add(conn, "beta", "user", "bob")
        accounts.group_add(conn, "beta", "domain", "beta.example")
        # Groups as they were before sender trust existed (an upgrade keeps them on
        # "any"): these tests see tenants' outgoing mail by its sender alone.
        # test_sender_trust.py covers the "trusted" default of new groups.
        for group in ("alpha", "beta"):
            accounts.set_sender_trust(conn, group, "any")
    yield db
    pg_cluster.drop_db(name)


def closed_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def web_config() -> Config:
    return Config(
        None,
        {
            "web": {"timezone": "UTC"},
            "snmp": {
                "user": "elsemgr",
                "auth_key": "auth-key-12345",
                "priv_key": "priv-key-12345",
                "port": closed_udp_port(),
                "timeout": 0.3,
                "retries": 0,
            },
            "servers": [
                {"name": "pfx", "address": "127.0.0.1", "role": "mixed"},
                {"name": "pfx2", "address": "127.0.0.2", "role": "outgoing"},
            ],
        },
    )


@pytest.fixture(scope="session")
def base_url(web_db, web_config) -> Iterator[str]:
    app = create_app(web_config, dsn=web_db.dsn("else_web"), secret=b"s" * 32, secure_cookies=False)
    with serving(app) as url:  # see serving() for the per-address log-in limit
        yield url


def login(base_url: str, user: str, password: str = PASSWORD) -> Client:
    c = Client(base_url)
    c.get("/login")
    res = c.post("/login", {"username": user, "password": password, "tz": "UTC"})
    assert res.status == 303, res.text[:500]
    return c


@pytest.fixture(scope="session")
def clients(base_url) -> dict[str, Client]:
    return {user: login(base_url, user) for user in USERS}


@pytest.fixture
def anon(base_url) -> Client:
    return Client(base_url)


def email_id(web_db, message_id: str) -> str:
    """The first e-mail with this Message-ID (beta-1 was sent twice, an hour apart)."""
    with web_db.connect() as conn:
        row = conn.execute(
            "SELECT id FROM emails WHERE message_id = %s ORDER BY first_seen LIMIT 1",
            (message_id,),
        ).fetchone()
    assert row, f"no e-mail with Message-ID {message_id}"
    return row[0]


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field on the page"
    return m.group(1)
