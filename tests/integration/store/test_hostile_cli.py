"""Damaged files and bad arguments on the command line (issue 16, part 5): one line
``elsectl: error: ...`` naming the file or option and a non-zero exit, never a traceback
nor a silent "0 result(s)"."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from else_core.cli import main as elsectl

LOG = "lightmeter-individual/2_multiple_recipients_some_bounces.log"


def _gz(corpus: Path, tmp: Path) -> bytes:
    text = (corpus / LOG).read_bytes()
    return gzip.compress(text * 200)  # big enough that a cut lands inside the data


#: damage -> the bytes of the damaged ".gz"
DAMAGES = {
    "truncated": lambda good: good[: len(good) // 2],
    "bad-crc": lambda good: good[:-8] + bytes(b ^ 0xFF for b in good[-8:-4]) + good[-4:],
    "corrupt-deflate": lambda good: good[:10] + b"z" * 30 + good[40:],
    "not-gzip": lambda good: b"plain text, not gzip\n",
    "magic-only": lambda good: b"\x1f\x8b",
}


@pytest.fixture
def damaged(corpus, tmp_path):
    def make(kind: str) -> Path:
        path = tmp_path / f"{kind}.log.gz"
        path.write_bytes(DAMAGES[kind](_gz(corpus, tmp_path)))
        return path

    return make


def _one_line_error(capsys, rc: int, needle: str) -> None:
    err = capsys.readouterr().err
    assert rc != 0
    assert "Traceback" not in err
    lines = [x for x in err.splitlines() if x.startswith("elsectl: error:")]
    assert len(lines) == 1 and needle in lines[0], err[-500:]


@pytest.mark.parametrize("kind", DAMAGES)
@pytest.mark.parametrize("command", [["parse"], ["report"], ["parse", "--year", "2026"]])
def test_damaged_gzip_is_one_error_line_for_parse_and_report(damaged, capsys, command, kind):
    path = damaged(kind)
    rc = elsectl([*command, str(path)])
    _one_line_error(capsys, rc, path.name)


@pytest.mark.postgres
@pytest.mark.parametrize("kind", ["truncated", "bad-crc", "corrupt-deflate", "magic-only"])
def test_damaged_gzip_is_one_error_line_for_import(db, damaged, capsys, kind):
    path = damaged(kind)
    rc = elsectl(["import", "--dsn", db.dsn("else_worker"), "--year", "2026", str(path)])
    _one_line_error(capsys, rc, path.name)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["search", "--until", "9999-12-31"], "out of range"),
        (["search", "--since", "0001-01-01"], "out of range"),
        (["search", "--limit", "-5"], "--limit"),
        (["search", "--limit", "0"], "--limit"),
        (["stats", "--until", "9999-12-31"], "out of range"),
        (["stats", "--top", "-1"], "--top"),
        (["search", "--until", "2026-02-30"], "invalid time"),
    ],
)
def test_bad_search_and_stats_arguments_are_one_error_line(db, capsys, args, needle):
    rc = elsectl([*args, "--dsn", db.dsn("else_web")])
    _one_line_error(capsys, rc, needle)
