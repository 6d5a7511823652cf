"""Robustness over the real logs in ../shared/corpus/public (read in place, never copied).

Every file must parse and correlate without an exception, every line must be counted,
and fewer than 1% of the Postfix lines may be left unclassified.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from else_core.correlate import Correlator
from else_core.model import Email
from else_core.reader import ReadStats, read_events

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "public"
FILES = sorted(CORPUS.glob("*.log")) + sorted(CORPUS.glob("lightmeter-individual/*.log"))
# These carry messages without a syslog header (see SOURCES.md); the .tsv companions name
# the daemon, which test_headerless_messages_parse uses instead.
HEADERLESS = {"whyscream-postfix-grok-patterns.log"}
STATUSES = {
    "delivered",
    "deferred",
    "bounced",
    "expired",
    "rejected",
    "discarded",
    "held",
    "deleted",
    "queued",
}


def test_corpus_is_there() -> None:
    assert len(FILES) > 40, f"expected the public corpus at {CORPUS}"


@pytest.mark.parametrize(
    "path", [f for f in FILES if f.name not in HEADERLESS], ids=lambda p: p.name
)
def test_file_correlates_without_losing_lines(path: Path) -> None:
    stats = ReadStats()
    corr = Correlator()
    records = []
    for ev in read_events([str(path)], year=2023, stats=stats):
        corr.feed(ev)
        records.extend(corr.drain())
    records.extend(corr.finish())
    with path.open("rb") as fh:
        physical = sum(1 for _ in fh)
    assert stats.lines == physical
    assert stats.postfix_lines + stats.foreign_lines + stats.malformed_lines == stats.lines
    assert stats.unknown_postfix_lines <= 0.01 * max(stats.postfix_lines, 1)
    for mail in records:
        if isinstance(mail, Email):
            assert mail.transactions
            assert all(r.status in STATUSES for r in mail.recipients)
            mail.to_dict(detail=True)


def test_headerless_messages_parse() -> None:
    """whyscream's patterns come as (daemon, message): give them an envelope and parse."""
    tsv = CORPUS / "whyscream-postfix-grok-patterns.daemon.tsv"
    lines = []
    for row in tsv.read_text(encoding="utf-8", errors="replace").splitlines():
        daemon, _, message = row.partition("\t")
        if message.startswith("#"):  # commented-out cases in the upstream test data
            continue
        lines.append(f"Jan  1 00:00:00 mx postfix/{daemon}[1]: {message}")
    with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False, encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
        name = fh.name
    try:
        stats = ReadStats()
        kinds = [ev.kind for ev in read_events([name], year=2023, stats=stats)]
    finally:
        Path(name).unlink()
    assert stats.lines == len(lines)
    # The upstream data also holds the body of a pipelining test ("RCPT TO:<...>", "DATA")
    # logged as smtpd lines; those stay unclassified, as they should.
    assert kinds.count("other") <= 0.06 * len(lines)
