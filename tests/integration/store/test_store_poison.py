"""No single line stops ingest or import (issue 11, part 5).

A value longer than a btree index entry can hold (~2.7 kB) used to fail the whole batch:
the worker exited and failed on the same batch at every restart, and an import aborted
with "lost the connection to PostgreSQL". Each over-long field goes through the real
ingest function + worker and through `elsectl import`, followed by an ordinary e-mail
that must still become searchable. A row PostgreSQL refuses for any other reason (here a
real CHECK constraint the test adds) is quarantined in ``store_rejects`` with the reason,
counted, and the rest of the batch is stored.
"""

from __future__ import annotations

import random
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from store_pg import rsyslog_rows, send_rows

from else_core.cli import main as elsectl
from else_core.search import Filter, Query, search_emails, search_rejects
from else_core.store.worker import Worker

pytestmark = pytest.mark.postgres

LONG = 64_000  # characters: the ingest function takes messages up to 65,536
START = datetime(2026, 3, 14, 10, 0, tzinfo=UTC)
LOWER = string.ascii_lowercase + string.digits
LONG_QID = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"


def noise(kind: str, alphabet: str = LOWER) -> str:
    """Incompressible (random) text: PostgreSQL compresses index entries, so a repeated
    character would fit and prove nothing."""
    return "".join(random.Random(kind).choices(alphabet, k=LONG))


def mail(n: int, **over: str) -> dict[str, str]:
    """The fields of one ordinary e-mail, ``over`` replacing some of them."""
    fields = {
        "queue_id": f"4Pb{n:07d}Xz",
        "message_id": f"m{n}.ok@example.org",
        "sender": f"alice{n}@example.org",
        "recipient": f"bob{n}@example.net",
        "helo": f"client{n}.example.com",
        "client": f"client{n}.example.com",
    }
    fields.update(over)
    return fields


POISON = {
    "message_id": mail(1, message_id=noise("message_id") + "@x"),
    "sender": mail(1, sender=noise("sender") + "@example.org"),
    "recipient": mail(1, recipient=noise("recipient") + "@example.net"),
    "helo": mail(1, helo=noise("helo")),
    "queue_id": mail(1, queue_id=noise("queue_id", LONG_QID)),
    "client": mail(1, client=noise("client") + ".example.com"),
}


def log_lines(f: dict[str, str], at: datetime) -> list[str]:
    """A complete Postfix e-mail (smtpd, cleanup, qmgr, smtp) and a NOQUEUE reject
    carrying the same client, sender, recipient and HELO."""
    q, c = f["queue_id"], f"{f['client']}[198.51.100.7]"
    body = [
        f"postfix/smtpd[100]: connect from {c}",
        f"postfix/smtpd[100]: NOQUEUE: reject: RCPT from {c}: 554 5.7.1 Service unavailable;"
        f" Client host [198.51.100.7] blocked using zen.spamhaus.org; from=<{f['sender']}>"
        f" to=<{f['recipient']}> proto=ESMTP helo=<{f['helo']}>",
        f"postfix/smtpd[100]: {q}: client={c}",
        f"postfix/cleanup[101]: {q}: message-id=<{f['message_id']}>",
        f"postfix/qmgr[102]: {q}: from=<{f['sender']}>, size=1234, nrcpt=1 (queue active)",
        f"postfix/smtp[103]: {q}: to=<{f['recipient']}>, relay=mx.example.net[203.0.113.5]:25,"
        " delay=0.5, delays=0.1/0.1/0.1/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
        f"postfix/qmgr[102]: {q}: removed",
        f"postfix/smtpd[100]: disconnect from {c} ehlo=1 mail=1 rcpt=2 data=1 quit=1",
    ]
    return [f"{(at + timedelta(seconds=i)).isoformat()} mx {text}\n" for i, text in enumerate(body)]


def write_log(path: Path, *mails: dict[str, str]) -> Path:
    lines: list[str] = []
    for i, f in enumerate(mails):
        lines += log_lines(f, START + timedelta(minutes=i))
    path.write_text("".join(lines))
    return path


def searchable(db, message_id: str) -> int:
    with db.connect("else_web") as conn:
        return search_emails(conn, Query(message_ids=[message_id])).total


def live(db, path: Path) -> None:
    with db.connect("else_rsyslog") as conn:
        send_rows(conn, rsyslog_rows(path))
    Worker(db.dsn("else_worker"), batch_size=1000, gap_wait=0.2).run(once=True)


def import_(db, path: Path) -> int:
    return elsectl(["import", "--dsn", db.dsn("else_worker"), str(path)])


def count(db, query: str) -> int:
    with db.connect() as conn:
        return conn.execute(query).fetchone()[0]


#: How many records a search for the whole over-long value finds. A 64 kB queue ID is
#: none by Postfix's grammar (else_core.queueid: at most 20 hex or 32 base-52 characters),
#: so its lines stay raw lines of no e-mail; every other value is indexed by its key.
FOUND = {field: 0 if field == "queue_id" else 1 for field in POISON}


@pytest.mark.parametrize("path_in", ["live", "import"])
@pytest.mark.parametrize("field", list(POISON))
def test_an_over_long_value_is_stored_and_later_mail_stays_searchable(db, tmp_path, field, path_in):
    poison, after = POISON[field], mail(2)
    log = write_log(tmp_path / "mail.log", poison, after)
    if path_in == "live":
        live(db, log)
    else:
        assert import_(db, log) == 0
    assert count(db, "SELECT count(*) FROM raw_events") == 16
    assert count(db, "SELECT count(*) FROM store_rejects") == 0
    assert searchable(db, after["message_id"]) == 1
    with db.connect("else_web") as conn:
        value = poison[field]
        find = search_rejects if field == "helo" else search_emails  # HELO: on the reject
        assert find(conn, Query(filters=[Filter(field, value)])).total == FOUND[field]
        long_line = conn.execute(
            "SELECT message FROM raw_events WHERE strpos(message, %s) > 0 LIMIT 1", (value,)
        ).fetchone()
    assert long_line is not None


def test_search_keys_keep_the_full_value_in_the_document(db, tmp_path):
    poison = POISON["message_id"]
    live(db, write_log(tmp_path / "mail.log", poison))
    with db.connect("else_web") as conn:
        doc, key = conn.execute("SELECT doc, message_id FROM emails").fetchone()
    assert doc["message_id"] == poison["message_id"]
    assert len(key.encode()) <= 1000 and poison["message_id"].startswith(key)


REFUSE = "ALTER TABLE {table} ADD CONSTRAINT poison CHECK ({column} NOT LIKE 'poison%%')"


@pytest.mark.parametrize("path_in", ["live", "import"])
@pytest.mark.parametrize(
    ("table", "column", "poison"),
    [
        ("emails", "sender", mail(1, sender="poison@example.org")),
        ("email_recipients", "address", mail(1, recipient="poison@example.net")),
        ("rejects", "recipient", mail(1, recipient="poison@example.net")),
        ("transactions", "message_id", mail(1, message_id="poison@x")),
    ],
)
def test_a_row_postgresql_refuses_is_quarantined_with_its_reason(
    db, tmp_path, table, column, poison, path_in
):
    with db.connect() as conn:
        conn.execute(REFUSE.format(table=table, column=column))
    before, after = mail(3), mail(2)
    log = write_log(tmp_path / "mail.log", before, poison, after)
    if path_in == "live":
        live(db, log)
    else:
        assert import_(db, log) == 0
    assert searchable(db, before["message_id"]) == 1
    assert searchable(db, after["message_id"]) == 1
    with db.connect() as conn:
        rows = conn.execute(
            "SELECT source, reason, sqlstate, record, raw_ids FROM store_rejects"
        ).fetchall()
        raw = conn.execute("SELECT count(*) FROM raw_events").fetchone()[0]
    assert raw == 24
    assert len(rows) == 1
    source, reason, sqlstate, record, raw_ids = rows[0]
    assert source == path_in
    assert sqlstate == "23514" and '"poison"' in reason
    assert "poison@" in record and raw_ids


def test_import_summary_counts_quarantined_rows(db, tmp_path, capsys):
    with db.connect() as conn:
        conn.execute(REFUSE.format(table="emails", column="sender"))
    log = write_log(tmp_path / "mail.log", mail(1, sender="poison@example.org"), mail(2))
    assert import_(db, log) == 0
    assert "1 record(s) could not be stored, kept in store_rejects" in capsys.readouterr().err


def test_a_database_error_names_its_real_cause_not_a_lost_connection(db, tmp_path, capsys):
    # a btree on the raw lines (not ELSE's schema): the 64 kB line cannot be indexed,
    # the raw COPY itself fails, and the import says why
    with db.connect() as conn:
        conn.execute("CREATE INDEX raw_message ON raw_events (message)")
    assert import_(db, write_log(tmp_path / "mail.log", POISON["sender"])) == 2
    err = capsys.readouterr().err
    assert "lost the connection" not in err
    assert "index row" in err and "54000" in err
