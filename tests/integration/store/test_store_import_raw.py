"""`elsectl import` stores every raw line exactly as it was read.

An import sends raw lines in PostgreSQL's binary COPY format (else_core.store.rawcopy):
lengths and bytes instead of escaped text, timestamps as microseconds. Each case is one
line the text format had to escape or that has no stamp of its own, imported after an
ordinary line; what ``raw_events`` holds is compared with the envelope parser's own split
of the same line, so a field lost, shifted or mis-encoded on the way fails the case.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from else_core.cli import main as elsectl
from else_core.envelope import PID_MAX, ClassicClock, EnvelopeParser

pytestmark = pytest.mark.postgres

YEAR = 2024
BEFORE = b"Mar  7 14:05:08 mx1 postfix/smtpd[100]: connect from a.example[192.0.2.1]\n"

CASES = {
    "ordinary": b"Mar  7 14:05:09 mx1 postfix/smtpd[123]: disconnect from a.example[192.0.2.1]",
    "tab and backslashes": b"Mar  7 14:05:10 mx1 postfix/smtpd[123]: a\tb\\c \\N \\\\ end\\",
    "NUL byte": b"Mar  7 14:05:11 mx1 postfix/cleanup[9]: a\x00b",
    "undecodable bytes": b"Mar  7 14:05:12 mx1 postfix/qmgr[1]: \xff\xfe caf\xc3\xa9",
    "carriage return": b"Mar  7 14:05:13 mx1 postfix/smtp[7]: one\rtwo\r",
    "four-byte UTF-8": "Mar  7 14:05:14 mx1 postfix/smtp[7]: subject \U0001f4e7 ok".encode(),
    "no pid": b"Mar  7 14:05:15 mx1 postfix: no pid here",
    "largest pid": f"Mar  7 14:05:16 mx1 postfix/smtp[{PID_MAX}]: big pid".encode(),
    "RFC 3339 with microseconds": b"2024-03-07T15:05:17.123456+01:00 mx2 postfix/smtp[77]: x",
    "no stamp": b"garbage \\ line\twith a tab and \x00 a NUL",
    "empty line": b"",
    "100 kB message": b"Mar  7 14:05:18 mx1 postfix/cleanup[9]: " + b"x\\y\t" * 25_000,
}


def stored_row(db, tmp_path: Path, line: bytes) -> tuple:
    log = tmp_path / "mail.log"
    log.write_bytes(BEFORE + line + b"\n")
    argv = ["import", "--dsn", db.dsn("else_worker"), "--year", str(YEAR), "--host-tz", "UTC"]
    assert elsectl([*argv, str(log)]) == 0
    with db.connect() as conn:
        rows = conn.execute(
            "SELECT received_at, reported_at, host, program, pid, message, import_id"
            " FROM raw_events ORDER BY id"
        ).fetchall()
    assert len(rows) == 2
    assert rows[0][6] is not None and rows[0][6] == rows[1][6]
    return rows[1][:6]


def expected_row(line: bytes) -> tuple:
    """What the envelope parser makes of the line, as the store keeps it (PostgreSQL text
    holds no NUL: U+FFFD instead)."""
    split = EnvelopeParser(ClassicClock(YEAR, UTC)).split
    before = split(BEFORE.decode().rstrip("\n"), 0)
    parsed = split(line.decode("utf-8", "replace"), 1)

    def text(v: str) -> str:
        return v.replace("\x00", "\ufffd")

    if parsed.ts is None:  # received when the line before it was, reported at no time
        return (before.ts, None, text(parsed.host), "", None, text(parsed.raw))
    return (
        parsed.ts,
        parsed.ts,
        text(parsed.host),
        text(parsed.program),
        parsed.pid,
        text(parsed.message),
    )


@pytest.mark.parametrize("line", CASES.values(), ids=CASES.keys())
def test_an_imported_raw_line_is_stored_as_read(db, tmp_path, line):
    assert stored_row(db, tmp_path, line) == expected_row(line)


def test_a_line_without_a_stamp_first_in_a_file_is_received_at_the_import_time(db, tmp_path):
    log = tmp_path / "mail.log"
    log.write_bytes(b"no stamp here\n" + BEFORE)
    started = datetime.now(UTC)
    assert elsectl(["import", "--dsn", db.dsn("else_worker"), "--year", str(YEAR), str(log)]) == 0
    with db.connect() as conn:
        received, reported = conn.execute(
            "SELECT received_at, reported_at FROM raw_events ORDER BY id LIMIT 1"
        ).fetchone()
    assert reported is None
    assert started <= received <= datetime.now(UTC)
