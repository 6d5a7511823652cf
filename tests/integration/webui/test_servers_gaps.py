"""The Servers page says when ELSE's lines from a PFX are incomplete (issue 11).

The PFX heartbeat's per-minute counts and a journald warning go in through
else_ingest_line, as rsyslog sends them; the page must show sent vs received, the missing
lines and the warning, so an admin can tell that answers about that server may be incomplete.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

pytestmark = [pytest.mark.postgres]

INGEST = "SELECT else_ingest_line(%s, %s, %s, %s, %s, %s, %s, %s, %s)"


def line(at: datetime, program: str, message: str) -> tuple:
    return (at.isoformat(), at.isoformat(), "pfx2", "", program, "42", "2", "6", message)


@pytest.fixture(scope="module")
def pfx2_lost_lines(web_db) -> None:
    m = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    key = m.strftime("%Y-%m-%dT%H:%MZ")
    rows = [
        line(m + timedelta(seconds=5), "postfix/smtpd", "connect from gap.test[192.0.2.9]"),
        line(
            m + timedelta(minutes=1, seconds=15),
            "else-heartbeat",
            f"mail lines per minute since {key} through {key}: {key}=3",
        ),
        line(
            m + timedelta(minutes=1, seconds=16),
            "else-heartbeat",
            "journald warning: Forwarding to syslog missed 7 messages.",
        ),
    ]
    with web_db.connect() as conn, conn.cursor() as cur:
        cur.executemany(INGEST, rows)


def test_servers_page_shows_sent_vs_received_and_journald_drops(clients, pfx2_lost_lines):
    page = clients["admin"].get("/servers").text
    assert "Log lines, 24 h" in page
    assert "sent 3 · received 1" in page
    assert "2 missing" in page
    assert "journald dropped lines" in page
    assert "Forwarding to syslog missed 7 messages." in page
    assert "search results for this server may be incomplete" in page
