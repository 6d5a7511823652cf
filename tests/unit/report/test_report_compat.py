"""``--compat pflogsumm`` gives pflogsumm's own Grand Totals: checked against the real thing.

Every corpus log with syslog headers and every crafted quirk log goes through Debian's
pflogsumm and through :func:`pflogsumm_totals`; all sixteen numbers must agree.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from else_core.report import KEYS, pflogsumm_totals, render_compat
from tests.unit.report import logs, soup
from tests.unit.report.conftest import CORPUS, PFLOGSUMM, grand_totals, run_pflogsumm

# whyscream's lines have no syslog header (SOURCES.md): pflogsumm reads nothing there.
HEADERLESS = {"whyscream-postfix-grok-patterns.log"}
CORPUS_FILES = [
    p
    for p in sorted(CORPUS.glob("*.log")) + sorted(CORPUS.glob("lightmeter-individual/*.log"))
    if p.name not in HEADERLESS
]

pytestmark = pytest.mark.pflogsumm


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus_totals_equal_pflogsumm(path: Path, pflogsumm_exact: Path) -> None:
    expected = grand_totals(run_pflogsumm(pflogsumm_exact, [path]))
    assert set(expected) == set(KEYS)
    assert pflogsumm_totals([str(path)]) == expected


def test_corpus_has_the_files_it_promises() -> None:
    assert len(CORPUS_FILES) >= 40


@pytest.mark.parametrize(
    ("case", "args"),
    [
        ("amavis", ()),  # filter hop: 10025/smtpd not received, amavis/smtp delivered
        ("instances", ()),  # postfix-in/ ignored, submission counted, deferrals, bounce
        ("decisions", ()),  # reject/reject_warning/hold/discard, cleanup and milter
        ("local", ()),  # pickup, forwarded as, null sender, queue ID reuse
        ("stamps", ()),  # RFC 3339 with zone only, no fractions in classic, Solaris IDs
        ("two_days", ()),
        ("syslog_name", ("--syslog-name=postfix-out",)),
    ],
)
def test_quirk_totals_equal_pflogsumm(
    case: str, args: tuple[str, ...], pflogsumm_exact: Path, write_log: Callable[[str], Path]
) -> None:
    path = write_log(logs.ALL[case])
    expected = grand_totals(run_pflogsumm(pflogsumm_exact, [path], *args))
    syslog_name = args[0].partition("=")[2] if args else "postfix"
    got = pflogsumm_totals([str(path)], syslog_name)
    assert got == expected
    assert any(got.values())  # the case exercises something


def test_headerless_lines_with_their_daemon_equal_pflogsumm(
    tmp_path: Path, pflogsumm_exact: Path
) -> None:
    """whyscream's 215 messages, given the syslog header their .tsv names."""
    rows = (CORPUS / "whyscream-postfix-grok-patterns.daemon.tsv").read_text().splitlines()
    lines = []
    for i, row in enumerate(rows):
        daemon, _, message = row.partition("\t")
        daemon = daemon.replace("_", "-")
        lines.append(
            f"Mar 14 10:{i // 60 % 60:02d}:{i % 60:02d} mx postfix/{daemon}[{i}]: {message}"
        )
    path = tmp_path / "whyscream.log"
    path.write_text("\n".join(lines) + "\n")
    expected = grand_totals(run_pflogsumm(pflogsumm_exact, [path]))
    assert pflogsumm_totals([str(path)]) == expected
    assert expected["rejected"] > 0


@pytest.mark.parametrize("seed", range(4))
def test_random_line_soup_equals_pflogsumm(
    seed: int, tmp_path: Path, pflogsumm_exact: Path
) -> None:
    path = tmp_path / f"soup{seed}.log"
    path.write_text(soup.soup(CORPUS, seed))
    expected = grand_totals(run_pflogsumm(pflogsumm_exact, [path]))
    got = pflogsumm_totals([str(path)])
    assert got == expected
    assert got["received"] and got["delivered"] and got["rejected"]


def test_text_block_is_pflogsumms_own(tmp_path: Path) -> None:
    """The unmodified pflogsumm (k/m units, percentages) prints the same Grand Totals."""
    path = CORPUS / "pixelpark-postfix-logsums-mail.log"
    theirs = run_pflogsumm(PFLOGSUMM, [path])
    block = theirs[theirs.index("Grand Totals") :].split("\n\n\n", 1)[0].rstrip()
    ours = render_compat(pflogsumm_totals([str(path)]), "text").strip()
    assert ours == block


def test_gzip_input_counts_like_plain(tmp_path: Path) -> None:
    import gzip

    plain = CORPUS / "lightmeter-controlcenter-complete-mail.log"
    packed = tmp_path / "mail.log.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert pflogsumm_totals([str(packed)]) == pflogsumm_totals([str(plain)])
