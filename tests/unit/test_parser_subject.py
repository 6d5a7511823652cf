"""The Subject the postfix role logs with a header_checks INFO rule (issue 15, item 3):
cleanup's ``info: header Subject: ...`` line becomes a ``subject`` event, decoded from
RFC 2047, and the e-mail carries it."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest

from else_core.correlate import Correlator
from else_core.envelope import split_line
from else_core.parser import parse

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "public"
HEAD = "Mar 14 12:00:00 pfx postfix/cleanup[201]: 6F7A8B9C0D: info: header Subject: "
TAIL = " from lab.example[198.51.100.20]; from=<s@a.example> to=<r@b.example> proto=ESMTP helo=<x>"


@pytest.mark.parametrize(
    ("logged", "subject"),
    [
        ("Quarterly report", "Quarterly report"),
        ("=?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=", "Grüße aus Köln"),
        ("=?iso-8859-1?Q?Caf=E9_au_lait?= for two", "Café au lait for two"),
        ("=?UTF-8?Q?broken?=?= =?x-unknown?B?AAAA?=", "=?UTF-8?Q?broken?=?= =?x-unknown?B?AAAA?="),
        ("Re: meeting from 9 to 5", "Re: meeting from 9 to 5"),
        ("", ""),
    ],
)
def test_the_subject_line_is_decoded(logged, subject):
    ev = parse(split_line(HEAD + logged + TAIL, 1, 2026, UTC))
    assert (ev.kind, ev.qid, ev.f) == ("subject", "6F7A8B9C0D", {"subject": subject})


def test_a_locally_submitted_subject_loses_the_tail():
    tail = " from local; from=<root@pfx.lab> to=<a@sink.test>"
    ev = parse(split_line(HEAD + "cron output" + tail, 1, 2026, UTC))
    assert ev.f == {"subject": "cron output"}


def test_a_subject_line_cut_short_keeps_what_was_logged():
    ev = parse(split_line(HEAD + "Invoice 42 for Mar", 1, 2026, UTC))
    assert ev.f == {"subject": "Invoice 42 for Mar"}


def test_other_info_header_lines_stay_actions():
    ev = parse(split_line(HEAD.replace("Subject", "X-Mailer") + "Mutt" + TAIL, 1, 2026, UTC))
    assert ev.kind == "action"


def test_the_email_carries_the_subject():
    lines = [
        "Mar 14 12:00:00 pfx postfix/smtpd[200]: 6F7A8B9C0D: client=lab.example[198.51.100.20]",
        HEAD + "=?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=" + TAIL,
        "Mar 14 12:00:00 pfx postfix/qmgr[102]: 6F7A8B9C0D: from=<s@a.example>, size=1, nrcpt=1"
        " (queue active)",
        "Mar 14 12:00:02 pfx postfix/smtp[203]: 6F7A8B9C0D: to=<r@b.example>, relay=mx[192.0.2.1]:25,"
        " delay=2, delays=0.1/0/1/0.9, dsn=2.0.0, status=sent (250 ok)",
        "Mar 14 12:00:02 pfx postfix/qmgr[102]: 6F7A8B9C0D: removed",
    ]
    c = Correlator()
    for i, raw in enumerate(lines, 1):
        c.feed(parse(split_line(raw, i, 2026, UTC)))
    out = c.drain() + c.finish()
    emails = [o for o in out if getattr(o, "subject", None) is not None]
    assert [e.to_dict()["subject"] for e in emails] == ["Grüße aus Köln"]


def test_the_public_corpus_subject_line_decodes():
    """A real cleanup line (whyscream's grok patterns: daemon TAB message), read in place."""
    corpus = CORPUS / "whyscream-postfix-grok-patterns.daemon.tsv"
    rows = [
        x.split("\t", 1) for x in corpus.read_text().splitlines() if "info: header Subject:" in x
    ]
    assert rows, "the corpus has a Subject line"
    syslog = "Mar 14 12:00:00 mx postfix/{}[1]: {}"
    events = [parse(split_line(syslog.format(d, m), 1, 2026, UTC)) for d, m in rows]
    assert [(e.kind, e.f["subject"]) for e in events] == [("subject", "Grüße ‒ test")] * len(rows)
