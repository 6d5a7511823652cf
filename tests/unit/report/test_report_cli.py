"""`elsectl report`: formats, schema, empty input and bad input, through the real CLI."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from else_core.cli import main
from else_core.report import KEYS, SCHEMA
from tests.unit.report import logs

TOP_KEYS = {
    "schema",
    "input",
    "period",
    "totals",
    "per_day",
    "per_hour",
    "recipient_domains",
    "sending_domains",
    "senders_by_count",
    "recipients_by_count",
    "senders_by_size",
    "recipients_by_size",
    "deferrals",
    "bounces",
    "rejects",
    "reject_warnings",
    "holds",
    "discards",
    "smtp_failures",
    "warnings",
    "errors",
    "fatals",
    "panics",
    "master",
    "smtpd",
    "postscreen",
    "emails",
    "differences_from_pflogsumm",
}
TEXT_HEADERS = (
    "Grand Totals",
    "Per-Hour Traffic",
    "Host/Domain Summary: Message Delivery",
    "Host/Domain Summary: Messages Received",
    "smtpd Connection Statistics",
    "Senders by message count",
    "Recipients by message count",
    "Senders by message size",
    "Recipients by message size",
    "message deferral detail",
    "message bounce detail (by relay)",
    "message reject detail",
    "message reject warning detail",
    "message hold detail",
    "message discard detail",
    "smtp delivery failures",
    "Warnings",
    "Fatal Errors",
    "Panics",
    "Master daemon messages",
    "postscreen",
    "recipients by final status",
    "How this differs from pflogsumm",
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["report", "--year", "2024", "--host-tz", "UTC", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def everything(write_log: Callable[[str], Path]) -> Path:
    """One log with every crafted case in it, in time order."""
    return write_log("\n".join(logs.ALL[c] for c in logs.ALL if c != "stamps"))


def test_json_has_the_documented_schema(
    capsys: pytest.CaptureFixture[str], everything: Path
) -> None:
    code, out, _ = run(capsys, "--format", "json", str(everything))
    rep = json.loads(out)
    assert code == 0
    assert set(rep) == TOP_KEYS
    assert rep["schema"] == SCHEMA
    assert set(KEYS) <= set(rep["totals"])
    assert all(isinstance(v, int) for v in rep["totals"].values())
    assert len(rep["per_hour"]) == 24


def test_text_has_every_section_header(
    capsys: pytest.CaptureFixture[str], everything: Path
) -> None:
    _, out, _ = run(capsys, str(everything))
    missing = [h for h in TEXT_HEADERS if h not in out]
    assert missing == []


def test_csv_is_tables_with_a_section_column(
    capsys: pytest.CaptureFixture[str], everything: Path
) -> None:
    _, out, _ = run(capsys, "--format", "csv", str(everything))
    rows = [r for r in csv.reader(io.StringIO(out)) if r]
    tables: dict[str, list[dict[str, str]]] = {}
    header: list[str] = []
    for row in rows:
        if row[0] == "section":
            header = row
            continue
        assert len(row) == len(header), row  # every row fits its table's header
        tables.setdefault(row[0], []).append(dict(zip(header, row, strict=True)))
    assert {"totals", "per_hour", "rejects", "smtpd_domains", "emails_by_status"} <= set(tables)
    totals = {r["name"]: r["value"] for r in tables["totals"]}
    assert totals["rejected"] == "4"
    assert len(tables["per_hour"]) == 24


@pytest.mark.parametrize("fmt", ["text", "json", "csv"])
def test_compat_formats(capsys: pytest.CaptureFixture[str], everything: Path, fmt: str) -> None:
    code, out, _ = run(capsys, "--compat", "pflogsumm", "--format", fmt, str(everything))
    assert code == 0
    if fmt == "json":
        got = json.loads(out)
        assert list(got) == list(KEYS)
        assert all(type(v) is int for v in got.values())
    elif fmt == "csv":
        assert [r[1] for r in csv.reader(io.StringIO(out))][1:] == list(KEYS)
    else:
        assert "Grand Totals" in out and "recipient hosts/domains" in out


@pytest.mark.parametrize(
    "argv",
    [
        ("--format", "json"),
        ("--format", "json", "--compat", "pflogsumm"),
    ],
)
def test_empty_input_is_a_report_of_zeros(
    capsys: pytest.CaptureFixture[str], write_log: Callable[[str], Path], argv: tuple[str, ...]
) -> None:
    code, out, _ = run(capsys, *argv, str(write_log("")))
    rep = json.loads(out)
    totals = rep.get("totals", rep)
    assert code == 0
    assert set(totals.values()) == {0}


@pytest.mark.parametrize("fmt", ["text", "csv"])
def test_empty_input_renders(
    capsys: pytest.CaptureFixture[str], write_log: Callable[[str], Path], fmt: str
) -> None:
    code, out, _ = run(capsys, "--format", fmt, str(write_log("")))
    assert code == 0 and "received" in out


@pytest.mark.parametrize("compat", [(), ("--compat", "pflogsumm")])
def test_missing_file_is_one_clear_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, compat: tuple[str, ...]
) -> None:
    code, out, err = run(capsys, *compat, str(tmp_path / "nope.log"))
    assert code == 2
    assert out == ""
    assert err.strip() == f"elsectl: error: {tmp_path / 'nope.log'}: no such file"


def test_hostile_text_is_made_printable(
    capsys: pytest.CaptureFixture[str], write_log: Callable[[str], Path]
) -> None:
    path = write_log(
        "Mar 14 15:00:00 mx postfix/smtpd[600]: warning: odd \x1b[31mred\x07 client name"
    )
    _, out, _ = run(capsys, str(path))
    assert "\x1b" not in out and "\x07" not in out
    assert "?[31mred? client name" in out


def test_csv_cells_cannot_become_formulas(
    capsys: pytest.CaptureFixture[str], write_log: Callable[[str], Path]
) -> None:
    path = write_log(
        """
        Mar 14 10:00:01 mx postfix/smtpd[1]: 1B2C3D4E5F: client=a.example.org[192.0.2.11]
        Mar 14 10:00:01 mx postfix/qmgr[2]: 1B2C3D4E5F: from=<=HYPERLINK("x")@evil.example>, size=10, nrcpt=1 (queue active)
        Mar 14 10:00:02 mx postfix/local[3]: 1B2C3D4E5F: to=<u@mx.example.com>, relay=local, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (delivered to mailbox)
        Mar 14 10:00:02 mx postfix/qmgr[2]: 1B2C3D4E5F: removed
        """
    )
    _, out, _ = run(capsys, "--format", "csv", str(path))
    cells = [c for row in csv.reader(io.StringIO(out)) for c in row]
    assert '\'=HYPERLINK("x")@evil.example' in cells
    assert not any(c.startswith("=") for c in cells)


def test_syslog_name_reaches_compat(
    capsys: pytest.CaptureFixture[str], write_log: Callable[[str], Path]
) -> None:
    path = write_log(logs.SYSLOG_NAME)
    _, default, _ = run(capsys, "--compat", "pflogsumm", "--format", "json", str(path))
    _, named, _ = run(
        capsys,
        "--compat",
        "pflogsumm",
        "--syslog-name",
        "postfix-out",
        "--format",
        "json",
        str(path),
    )
    assert (json.loads(default)["received"], json.loads(named)["received"]) == (1, 2)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--syslog-name", "postfix-out"), "--syslog-name only applies with --compat pflogsumm"),
        (("--compat", "pflogsumm", "--host-tz", "Mars/Olympus"), "unknown time zone"),
    ],
)
def test_bad_options_are_one_clear_error(
    capsys: pytest.CaptureFixture[str],
    write_log: Callable[[str], Path],
    argv: tuple[str, ...],
    message: str,
) -> None:
    code = main(["report", *argv, str(write_log(logs.TWO_DAYS))])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.startswith("elsectl: error: ") and message in err
