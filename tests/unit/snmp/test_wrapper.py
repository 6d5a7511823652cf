"""The root wrapper's refusals and its queue-file arrival parser (no Postfix needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from snmp_scripts import load_script

wrapper = load_script("else-postfix-ctl")


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["hold"],
        ["hold", "ALL"],
        ["delete", "-"],
        ["hold", "4F2A3B1C9D", "extra"],
        ["flush", "4F2A3B1C9D"],  # flush takes no argument; one message is flush-id
        ["stats", "x"],
        ["rm", "-rf", "/"],
        ["postsuper", "-d", "ALL"],
    ],
)
def test_wrapper_refuses_without_running_anything(
    argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[list[str]] = []
    monkeypatch.setattr(wrapper.subprocess, "run", lambda a, **kw: ran.append(a))
    assert wrapper.main(argv) == 2
    assert ran == []


def record(rtype: bytes, data: bytes) -> bytes:
    """Postfix record: type byte, 7-bit little-endian length, data."""
    n, length = len(data), b""
    while True:
        byte, n = n & 0x7F, n >> 7
        length += bytes([byte | (0x80 if n else 0)])
        if not n:
            return rtype + length + data


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            record(b"C", b"   1234  0  0   1  0  1234") + record(b"T", b"1795891846 123456"),
            1795891846,
        ),
        (record(b"C", b"x" * 200) + record(b"T", b"1700000000"), 1700000000),  # 2-byte length
        (record(b"C", b"1") + record(b"M", b"") + record(b"T", b"1"), None),  # after content
        (record(b"C", b"1") + record(b"T", b"garbage"), None),
        (b"", None),
    ],
    ids=["usec", "long-record", "no-T-before-M", "bad-time", "empty"],
)
def test_arrival_time_comes_from_the_T_record(
    tmp_path: Path, content: bytes, expected: float | None
) -> None:
    f = tmp_path / "4F2A3B1C9D"
    f.write_bytes(content)
    assert wrapper.arrival_time(str(f)) == expected


def test_wrapper_logs_refusals_with_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    lines: list[tuple[int, str]] = []
    monkeypatch.setattr(wrapper.syslog, "syslog", lambda prio, msg: lines.append((prio, msg)))
    monkeypatch.setenv("SUDO_USER", "Debian-snmp")
    assert wrapper.main(["delete", "ALL"]) == 2
    assert lines == [
        (
            wrapper.syslog.LOG_WARNING,
            "refused: delete: invalid queue ID 'ALL' (caller Debian-snmp)",
        )
    ]


def test_wrapper_ignores_mail_config_under_sudo(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through sudo only the system Postfix may be driven, whatever the caller's environment."""
    monkeypatch.setattr(wrapper.syslog, "syslog", lambda prio, msg: None)
    monkeypatch.setenv("SUDO_USER", "Debian-snmp")
    monkeypatch.setenv("MAIL_CONFIG", "/tmp/evil")
    seen: list[str | None] = []

    def fake_run(argv, **kw):
        import os

        seen.append(os.environ.get("MAIL_CONFIG"))
        raise OSError("stop here")

    monkeypatch.setattr(wrapper.subprocess, "run", fake_run)
    assert wrapper.main(["hold", "4F2A3B1C9D"]) == 1
    assert seen == [None]
