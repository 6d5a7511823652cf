"""The document stored for each e-mail (``emails.doc``) is the correlator's, unchanged.

The writer formats documents by hand for COPY (else_core.store.copyfmt: orjson, only
backslashes escaped, times from a cache of ISO texts). Each log is imported and every
stored document is compared with ``to_dict(detail=True)`` of the correlator's own e-mails
from the same lines: a value mangled by the escaping, a time printed with another offset,
or a key lost fails the case. The hostile log carries backslashes, quotes, tabs, a NUL,
U+2028, DEL and undecodable bytes in addresses, the HELO, the Message-ID and a reply.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC
from pathlib import Path

import pytest

from else_core.cli import main as elsectl
from else_core.correlate import Correlator
from else_core.envelope import ClassicClock, EnvelopeParser
from else_core.model import Email
from else_core.parser import parse
from else_core.reader import open_text

pytestmark = pytest.mark.postgres

YEAR = 2024
Q = "4Pb0000001Xz"
HOSTILE = b"".join(
    line + b"\n"
    for line in (
        b"Mar  7 14:05:09 mx1 postfix/smtpd[100]: connect from ev\\il.example[192.0.2.9]",
        b"Mar  7 14:05:09 mx1 postfix/smtpd[100]: " + Q.encode() + b": client=ev\\il.example"
        b'[192.0.2.9], sasl_method=PLAIN, sasl_username=u\\s"er\tname',
        b"Mar  7 14:05:09 mx1 postfix/cleanup[101]: "
        + Q.encode()
        + b': message-id=<a\\b"c\td\x00e@x.example>',
        b"Mar  7 14:05:09 mx1 postfix/qmgr[102]: "
        + Q.encode()
        + b': from=<we\\ird"se\tnder@example.org>, size=123, nrcpt=2 (queue active)',
        b"Mar  7 14:05:10 mx1 postfix/smtp[103]: "
        + Q.encode()
        + b": to=<b\\ob@example.net>, relay=mx.example.net[192.0.2.5]:25, delay=0.5,"
        b" delays=0.1/0/0.2/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok \\ tab\there"
        b' "quoted" \xe2\x80\xa8 caf\xc3\xa9 \x7f \xff\\N)',
        b"Mar  7 14:05:10 mx1 postfix/smtp[103]: "
        + Q.encode()
        + b": to=<c\\\\d@example.net>, relay=none, delay=0.6, delays=0.1/0/0.5/0,"
        b" dsn=5.4.4, status=bounced (Host or domain name not found. \\\\ \\t)",
        b"Mar  7 14:05:10 mx1 postfix/qmgr[102]: " + Q.encode() + b": removed",
        b"Mar  7 14:05:11 mx1 postfix/smtpd[100]: disconnect from ev\\il.example[192.0.2.9]",
    )
)


def correlated_emails(path: Path, first_id: int) -> dict[str, Email]:
    """The correlator's e-mails of ``path`` by id; the import numbers lines from
    ``first_id`` on."""
    corr = Correlator()
    split = EnvelopeParser(ClassicClock(YEAR, UTC)).split
    emails: dict[str, Email] = {}
    with open_text(str(path)) as fh:
        records = []
        for i, raw in enumerate(fh):
            corr.feed(parse(split(raw.rstrip("\n"), first_id + i)))
            records.extend(corr.drain())
        records.extend(corr.finish())
    for rec in records:
        if isinstance(rec, Email):
            for gone in rec.merged_ids:
                emails.pop(gone, None)
            emails[rec.id] = rec
    return emails


def import_log(db, log: Path) -> int:
    """Import ``log``; the id of its first line."""
    argv = ["import", "--dsn", db.dsn("else_worker"), "--year", str(YEAR), "--host-tz", "UTC"]
    assert elsectl([*argv, str(log)]) == 0
    with db.connect() as conn:
        return conn.execute("SELECT min(id) FROM raw_events").fetchone()[0]


@pytest.fixture(params=["hostile", "pixelpark"])
def log(request, tmp_path, corpus) -> Path:
    path = tmp_path / "mail.log"
    if request.param == "hostile":
        path.write_bytes(HOSTILE)
    else:
        with (corpus / "pixelpark-postfix-logsums-mail.log").open("rb") as src:
            path.write_bytes(b"".join(itertools.islice(src, 12_000)))
    return path


def test_each_stored_document_is_the_correlators(db, log):
    emails = correlated_emails(log, import_log(db, log))
    with db.connect() as conn:
        stored = {r[0]: r[1] for r in conn.execute("SELECT id, doc FROM emails")}
    assert emails
    assert stored == {i: json.loads(json.dumps(e.to_dict(detail=True))) for i, e in emails.items()}


def test_each_stored_delay_is_the_correlators(db, log):
    """Delays are formatted through a cache of recent texts (copyfmt._delay)."""
    emails = correlated_emails(log, import_log(db, log))
    with db.connect() as conn:
        attempts = conn.execute("SELECT email_id, idx, delay, delays FROM deliveries").fetchall()
        recipients = conn.execute("SELECT email_id, idx, delay FROM email_recipients").fetchall()
    expected = {
        (e.id, i, a.delay, tuple(a.delays) if a.delays else None)
        for e in emails.values()
        for i, a in enumerate(a for t in e.transactions for a in t.attempts)
    }
    assert any(row[3] for row in expected)
    assert {(e, i, d, None if ds is None else tuple(ds)) for e, i, d, ds in attempts} == expected
    assert set(recipients) == {
        (e.id, i, r.delay) for e in emails.values() for i, r in enumerate(e.recipients)
    }
