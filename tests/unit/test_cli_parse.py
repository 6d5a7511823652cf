"""`elsectl parse` as users run it: files, .gz, stdin, several files, bad input."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

LOG = """\
Jun  1 10:00:01 mx postfix/pickup[1]: C30003: uid=1000 from=<u@mx.example>
Jun  1 10:00:01 mx postfix/cleanup[2]: C30003: message-id=<cli@mx.example>
Jun  1 10:00:01 mx postfix/qmgr[3]: C30003: from=<u@mx.example>, size=500, nrcpt=1 (queue active)
Jun  1 10:00:03 mx postfix/smtp[4]: C30003: to=<r@r.example>, relay=mx.r.example[192.0.2.2]:25, delay=2, delays=0/0/1/1, dsn=2.0.0, status=sent (250 2.0.0 Ok)
Jun  1 10:00:03 mx postfix/qmgr[3]: C30003: removed
Jun  1 10:00:04 mx postfix/smtpd[9]: NOQUEUE: reject: RCPT from c.example[192.0.2.1]: 554 5.7.1 <x@y.example>: Relay access denied; from=<s@c.example> to=<x@y.example> proto=ESMTP helo=<c.example>
"""


def elsectl(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "else_core", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
        env={**os.environ, "TZ": "UTC"},
    )


def records(out: bytes) -> list[dict]:
    return [json.loads(line) for line in out.decode().splitlines()]


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    path = tmp_path / "mail.log"
    path.write_text(LOG)
    return path


@pytest.mark.parametrize("how", ["plain", "gzip", "stdin"])
def test_parse_reads_plain_gzip_and_stdin(plain: Path, tmp_path: Path, how: str) -> None:
    if how == "plain":
        res = elsectl("parse", "--year", "2024", str(plain))
    elif how == "gzip":
        gz = tmp_path / "mail.log.1.gz"
        gz.write_bytes(gzip.compress(LOG.encode()))
        res = elsectl("parse", "--year", "2024", str(gz))
    else:
        res = elsectl("parse", "--year", "2024", "-", stdin=LOG.encode())
    assert res.returncode == 0, res.stderr
    out = records(res.stdout)
    (mail,) = [r for r in out if r["type"] == "email"]
    (reject,) = [r for r in out if r["type"] == "reject"]
    assert mail["message_id"] == "cli@mx.example"
    assert mail["first_seen"] == "2024-06-01T10:00:01+00:00"
    assert mail["recipients"][0]["status"] == "delivered"
    assert reject["recipient"] == "x@y.example"


def test_summary_is_the_last_line_of_stderr(plain: Path) -> None:
    res = elsectl("parse", "--year", "2024", "--summary", str(plain), str(plain))
    assert res.returncode == 0
    summary = json.loads(res.stderr.decode().splitlines()[-1])
    assert summary["lines"] == 12
    assert summary["postfix_lines"] == 12
    assert summary["unknown_postfix_lines"] == 0
    assert summary["rejects"] == 2
    # The same log twice: the reused queue ID starts a new transaction, which joins the
    # first e-mail by Message-ID and sender (it is still lingering): one e-mail.
    assert summary["emails"] == 1
    for key in ("lines", "postfix_lines", "unknown_postfix_lines", "emails", "rejects"):
        assert isinstance(summary[key], int)


def test_several_files_are_read_in_the_order_given(tmp_path: Path) -> None:
    lines = LOG.splitlines(keepends=True)
    first, second = tmp_path / "mail.log.1", tmp_path / "mail.log"
    first.write_text("".join(lines[:3]))
    second.write_text("".join(lines[3:]))
    res = elsectl("parse", "--year", "2024", str(first), str(second))
    (mail,) = [r for r in records(res.stdout) if r["type"] == "email"]
    assert mail["recipients"][0]["status"] == "delivered"


def test_bad_bytes_nuls_and_huge_lines_are_counted_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "bad.log"
    path.write_bytes(
        LOG.encode()
        + b"Jun  1 10:00:05 mx postfix/smtpd[9]: connect from \xff\xfe[192.0.2.1]\n"
        + b"Jun  1 10:00:05 mx postfix/smtpd[9]: \x00\x00\x00\n"
        + b"Jun  1 10:00:05 mx postfix/smtpd[9]: "
        + b"x" * 2_000_000
        + b"\n"
        + b"\x00garbage without any envelope\n"
    )
    res = elsectl("parse", "--year", "2024", "--summary", str(path))
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stderr.decode().splitlines()[-1])
    assert summary["lines"] == 10
    assert summary["malformed_lines"] == 1
    assert summary["emails"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["parse", "/nonexistent/mail.log"], "/nonexistent/mail.log: no such file"),
        (["parse", "--host-tz", "Mars/Olympus", "-"], "unknown time zone"),
        (["parse"], "the following arguments are required"),
        (["parse", "--year", "soon", "x"], "invalid int value"),
    ],
    ids=["missing-file", "bad-zone", "no-file", "bad-year"],
)
def test_wrong_arguments_give_one_clear_line(args: list[str], message: str) -> None:
    res = elsectl(*args, stdin=b"")
    assert res.returncode == 2
    assert message in res.stderr.decode()
    assert b"Traceback" not in res.stderr


def test_directory_instead_of_file_is_refused(tmp_path: Path) -> None:
    res = elsectl("parse", str(tmp_path))
    assert res.returncode == 2
    assert "is a directory" in res.stderr.decode()


def test_truncated_gzip_reports_the_file(tmp_path: Path) -> None:
    gz = tmp_path / "cut.log.gz"
    gz.write_bytes(gzip.compress(LOG.encode() * 50)[:200])
    res = elsectl("parse", "--year", "2024", str(gz))
    assert res.returncode == 2
    assert str(gz) in res.stderr.decode()


def test_a_closed_pipe_ends_parse_quietly() -> None:
    """`elsectl parse LOG | head -1`: no traceback, SIGPIPE's conventional status."""
    import subprocess
    import sys
    from pathlib import Path

    log = Path(__file__).resolve().parents[2].parent / "shared/corpus/public"
    log = log / "pixelpark-postfix-logsums-mail.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "else_core", "parse", str(log)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(b"{")
    proc.stdout.close()  # the reader goes away, as head does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert err == ""


def test_main_leaves_the_callers_sigpipe_handling_alone() -> None:
    """In-process callers (elsectl serve's server, the test suite) must keep Python's
    SIGPIPE handling: with the default action a hung-up client kills the process."""
    import signal

    from else_core.cli import main

    before = signal.getsignal(signal.SIGPIPE)
    assert main(["parse", "/dev/null"]) == 0
    assert signal.getsignal(signal.SIGPIPE) == before
