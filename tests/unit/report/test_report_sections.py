"""The full report counts e-mails once and fills every pflogsumm-like section."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from else_core.reader import ReadStats, read_events
from else_core.report import ReportBuilder, pflogsumm_totals, render_csv, render_json, render_text
from else_core.report.stats import reject_reason
from tests.unit.report import logs
from tests.unit.report.conftest import CORPUS


def build(path: Path, **kw: Any) -> dict[str, Any]:
    stats = ReadStats()
    builder = ReportBuilder(**kw)
    builder.feed_all(read_events([str(path)], 2024, "UTC", stats))
    return builder.finish(stats)


@pytest.fixture
def report(write_log: Callable[[str], Path]) -> Callable[..., dict[str, Any]]:
    return lambda case, **kw: build(write_log(logs.ALL[case]), **kw)


@pytest.mark.parametrize(
    ("case", "key", "expected"),
    [
        # amavis re-injection: one message, one delivery, first hop's size
        ("amavis", "received", 1),
        ("amavis", "delivered", 1),
        ("amavis", "bytes_received", 2048),
        ("amavis", "bytes_delivered", 2048),
        ("amavis", "recipients", 1),
        # other instance names count too; deferrals per attempt, deferred per e-mail
        ("instances", "received", 2),
        ("instances", "delivered", 2),
        ("instances", "deferred", 1),
        ("instances", "deferrals", 2),
        ("instances", "bounced", 1),
        ("instances", "notifications", 1),
        ("decisions", "rejected", 4),
        ("decisions", "reject_warnings", 2),
        ("decisions", "held", 2),
        ("decisions", "discarded", 1),
        # the alias forward is one e-mail delivered once; the reused queue ID is two
        ("local", "received", 3),
        ("local", "forwarded", 1),
        ("local", "delivered", 3),
        ("local", "senders", 3),
        ("local", "bytes_received", 2699),
    ],
)
def test_totals(report: Callable[..., dict[str, Any]], case: str, key: str, expected: int) -> None:
    assert report(case)["totals"][key] == expected


def test_content_filter_counts_once_where_pflogsumm_counts_twice(
    write_log: Callable[[str], Path],
) -> None:
    path = write_log(logs.AMAVIS)
    assert pflogsumm_totals([str(path)])["delivered"] == 2
    assert build(path)["totals"]["delivered"] == 1


@pytest.mark.parametrize(
    ("case", "section", "row"),
    [
        ("amavis", "recipient_domains", {"domain": "example.net", "delivered": 1, "bytes": 2048}),
        ("amavis", "sending_domains", {"domain": "example.org", "received": 1, "bytes": 2048}),
        ("amavis", "senders_by_count", {"address": "Alice@example.org", "messages": 1}),
        ("amavis", "recipients_by_size", {"address": "bob@example.net", "bytes": 2048}),
        ("local", "sending_domains", {"domain": "example.co.uk", "received": 1}),
        ("local", "senders_by_count", {"address": "<>", "messages": 1}),
        ("instances", "recipient_domains", {"domain": "other.example", "defers": 2}),
        (
            "instances",
            "deferrals",
            {"daemon": "smtp", "reason": "Connection timed out"},
        ),
        ("instances", "bounces", {"relay": "mx.other.example[198.51.100.8]:25"}),
        ("decisions", "rejects", {"daemon": "smtpd", "stage": "RCPT"}),
        (
            "decisions",
            "rejects",
            {
                "daemon": "postscreen",
                "reason": "Service unavailable; blocked using zen.spamhaus.org",
            },
        ),
        ("decisions", "reject_warnings", {"reason": "Subject: odd"}),
        ("decisions", "holds", {"reason": "Subject: review me (Held by policy)"}),
        ("decisions", "rejects", {"daemon": "cleanup", "stage": "END-OF-MESSAGE"}),
        ("decisions", "reject_warnings", {"daemon": "cleanup", "stage": "header"}),
        ("decisions", "holds", {"daemon": "cleanup", "stage": "header"}),
        ("decisions", "discards", {"daemon": "smtpd", "stage": "RCPT"}),
        ("problems", "warnings", {"daemon": "smtpd", "count": 2}),
        ("problems", "fatals", {"daemon": "qmgr"}),
        ("problems", "panics", {"daemon": "cleanup"}),
        ("problems", "master", {"count": 1}),
        ("problems", "smtp_failures", {"reason": "Connection refused", "count": 1}),
        ("postscreen", "per_hour", {"hour": 16, "received": 0}),
        ("two_days", "per_day", {"date": "2024-03-15", "received": 1, "delivered": 1}),
        ("two_days", "per_hour", {"hour": 10, "received": 2, "avg_received": 1.0}),
    ],
)
def test_section_has_row(
    report: Callable[..., dict[str, Any]], case: str, section: str, row: dict[str, Any]
) -> None:
    rows = report(case)[section]
    assert any(row.items() <= r.items() for r in rows), rows


def test_relay_rejects_group_by_reason_not_address(write_log: Callable[[str], Path]) -> None:
    line = (
        "Mar 14 12:00:0{0} mx postfix/smtpd[300]: NOQUEUE: reject: RCPT from unknown[192.0.2.6{0}]:"
        " 554 5.7.1 <u{0}@example.net>: Relay access denied; from=<s@example.biz>"
        " to=<u{0}@example.net> proto=ESMTP helo=<bad>"
    )
    rep = build(write_log("\n".join(line.format(i) for i in range(3))))
    assert rep["rejects"] == [
        {"daemon": "smtpd", "stage": "RCPT", "reason": "Relay access denied", "count": 3}
    ]


@pytest.mark.parametrize(
    ("reason", "grouped"),
    [
        ("<u@example.net>: Relay access denied", "Relay access denied"),
        (
            "Service unavailable; client [192.0.2.1] blocked using zen.spamhaus.org",
            "Service unavailable; blocked using zen.spamhaus.org",
        ),
        (
            "Client host [192.0.2.1] blocked using bl.spamcop.net; Blocked - see x",
            "blocked using bl.spamcop.net",
        ),
        (
            "Client host rejected: cannot find your hostname, [192.0.2.1]",
            "Client host rejected: cannot find your hostname",
        ),
        ("<x>: Helo command rejected: Host not found", "Helo command rejected: Host not found"),
        ("x" * 80, "x" * 61 + "..."),
    ],
)
def test_reject_reasons_group_without_addresses(reason: str, grouped: str) -> None:
    assert reject_reason(reason, keep=False) == grouped
    assert reject_reason(reason, keep=True) == reason


def test_smtpd_connect_time_per_session(report: Callable[..., dict[str, Any]]) -> None:
    smtpd = report("amavis")["smtpd"]
    domains = {d["domain"]: d for d in smtpd["domains"]}
    assert (smtpd["connections"], smtpd["hosts_domains"]) == (2, 2)
    assert domains["example.org"]["total_seconds"] == 5.0
    assert domains["localhost"]["max_seconds"] == 1.0
    assert smtpd["max_seconds"] == 5.0


def test_postscreen_statistics(report: Callable[..., dict[str, Any]]) -> None:
    ps = report("postscreen")["postscreen"]
    assert (ps["connects"], ps["pass_new"], ps["pass_old"]) == (4, 1, 1)
    assert ps["events"] == {"dnsbl": 1, "hangup": 1, "pregreet": 1}
    assert ps["dnsbl_sites"] == [{"domain": "zen.spamhaus.org", "count": 1}]


@pytest.mark.parametrize(
    ("case", "status", "count"),
    [
        ("amavis", "delivered", 1),
        ("instances", "mixed", 1),
        ("decisions", "held", 2),
        ("two_days", "delivered", 2),
    ],
)
def test_emails_by_final_status(
    report: Callable[..., dict[str, Any]], case: str, status: str, count: int
) -> None:
    assert report(case)["emails"]["by_status"][status] == count


@pytest.mark.parametrize(("top", "rows"), [(1, 1), (0, 2), (5, 2)])
def test_top_limits_ranked_tables(
    report: Callable[..., dict[str, Any]], top: int, rows: int
) -> None:
    assert len(report("two_days", top=top)["senders_by_count"]) == rows


CORPUS_FILES = sorted(CORPUS.glob("*.log")) + sorted(CORPUS.glob("lightmeter-individual/*.log"))


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus_reports_render_consistently(path: Path) -> None:
    rep = build(path)
    emails = rep["emails"]
    assert sum(emails["by_status"].values()) == emails["total"]
    assert rep["totals"]["delivered"] == emails["recipients_by_status"]["delivered"]
    assert rep["totals"]["recipients"] <= rep["totals"]["delivered"]
    for render in (render_text, render_json, render_csv):
        assert render(rep)
