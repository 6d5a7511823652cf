"""The pass_persist handler speaking snmpd's protocol, with the root wrapper replaced by a
recorder at the exec boundary (the real wrapper is driven in tests/integration/snmp)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from snmp_scripts import load_script

ctl = load_script("else-snmp-ctl")
BASE = ctl.BASE


def recorder(tmp_path: Path, rc: int = 0) -> tuple[list[str], Path]:
    """A stand-in for `sudo -n else-postfix-ctl`: logs its arguments, exits with rc."""
    log = tmp_path / "calls"
    code = (
        "import sys; "
        f"open({str(log)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n'); "
        f"print('recorded'); sys.exit({rc})"
    )
    return [sys.executable, "-c", code], log


def converse(handler: object, *lines: str) -> list[str]:
    out = io.StringIO()
    ctl.serve(handler, io.StringIO("".join(f"{line}\n" for line in lines)), out)
    return out.getvalue().splitlines()


def calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


@pytest.mark.parametrize(
    ("request_lines", "reply"),
    [
        (["PING"], ["PONG"]),
        (["get", f"{BASE}.11.0"], [f"{BASE}.11.0", "integer", "0"]),
        (["get", f"{BASE}.10.0"], [f"{BASE}.10.0", "string", "none"]),
        (["get", f"{BASE}.3.0"], [f"{BASE}.3.0", "string", ""]),
        (["get", f"{BASE}.7.0"], ["NONE"]),
        (["get", f"{BASE}.3"], ["NONE"]),
        (["getnext", BASE], [f"{BASE}.1.0", "integer", "0"]),
        (["getnext", f"{BASE}.6.0"], [f"{BASE}.10.0", "string", "none"]),
        (["getnext", f"{BASE}.12.0"], ["NONE"]),
        (["getnext", "garbage"], [f"{BASE}.1.0", "integer", "0"]),
        (["bogus"], ["NONE"]),
    ],
)
def test_reads(tmp_path: Path, request_lines: list[str], reply: list[str]) -> None:
    argv, _ = recorder(tmp_path)
    assert converse(ctl.Handler(argv), *request_lines) == reply


@pytest.mark.parametrize(
    ("oid", "typed", "answer", "expected_call"),
    [
        (f"{BASE}.1.0", "integer 1", "DONE", "flush"),
        (f"{BASE}.2.0", 'string "4F2A3B1C9D"', "DONE", "flush-id 4F2A3B1C9D"),
        (f"{BASE}.3.0", 'string "4F2A3B1C9D"', "DONE", "hold 4F2A3B1C9D"),
        (f"{BASE}.4.0", 'string "3Zvc3G4PNVz1DF"', "DONE", "release 3Zvc3G4PNVz1DF"),
        (f"{BASE}.5.0", "string 4F2A3B1C9D", "DONE", "delete 4F2A3B1C9D"),
        (f"{BASE}.6.0", 'string "4F2A3B1C9D"', "DONE", "requeue 4F2A3B1C9D"),
        (f"{BASE}.1.0", "integer 2", "wrong-value", None),
        (f"{BASE}.1.0", 'string "1"', "wrong-type", None),
        (f"{BASE}.3.0", "integer 1", "wrong-type", None),
        (f"{BASE}.3.0", 'string "ALL"', "wrong-value", None),
        (f"{BASE}.5.0", 'string "-"', "wrong-value", None),
        (f"{BASE}.5.0", 'string ""', "wrong-value", None),
        (f"{BASE}.5.0", 'string "4F2A3B1C9D ALL"', "wrong-value", None),
        (f"{BASE}.5.0", 'octet "34 46 32 41"', "wrong-value", None),
        (f"{BASE}.10.0", 'string "x"', "not-writable", None),
        (f"{BASE}.12.0", "counter 1", "not-writable", None),
        (f"{BASE}.3.1", 'string "4F2A3B1C9D"', "not-writable", None),
        (".1.3.6.1.2.1.1.6.0", 'string "x"', "not-writable", None),
    ],
)
def test_sets(tmp_path: Path, oid: str, typed: str, answer: str, expected_call: str | None) -> None:
    argv, log = recorder(tmp_path)
    assert converse(ctl.Handler(argv), "set", oid, typed, "") == [answer]
    assert calls(log) == ([expected_call] if expected_call else [])


def test_empty_line_after_each_set_does_not_break_the_next_one(tmp_path: Path) -> None:
    argv, log = recorder(tmp_path)
    replies = converse(
        ctl.Handler(argv),
        *("PING", "set", f"{BASE}.3.0", 'string "4F2A3B1C9D"', ""),
        *("PING", "set", f"{BASE}.4.0", 'string "4F2A3B1C9D"', ""),
        *("PING", "get", f"{BASE}.12.0"),
    )
    assert replies == ["PONG", "DONE", "PONG", "DONE", "PONG", f"{BASE}.12.0", "counter", "2"]
    assert calls(log) == ["hold 4F2A3B1C9D", "release 4F2A3B1C9D"]


def test_failed_command_is_commit_failed_and_explained(tmp_path: Path) -> None:
    argv, _ = recorder(tmp_path, rc=1)
    replies = converse(
        ctl.Handler(argv),
        *("set", f"{BASE}.5.0", 'string "4F2A3B1C9D"', ""),
        *("get", f"{BASE}.10.0", "get", f"{BASE}.11.0"),
    )
    assert replies[0] == "commit-failed"
    assert replies[1:3] == [f"{BASE}.10.0", "string"]
    assert replies[3] == "1 delete 4F2A3B1C9D failed recorded"
    assert replies[4:] == [f"{BASE}.11.0", "integer", "2"]


def test_refusal_is_remembered_as_last_result(tmp_path: Path) -> None:
    argv, _ = recorder(tmp_path)
    replies = converse(
        ctl.Handler(argv), "set", f"{BASE}.3.0", 'string "ALL"', "", "get", f"{BASE}.11.0"
    )
    assert replies == ["wrong-value", f"{BASE}.11.0", "integer", "3"]


def test_missing_wrapper_is_commit_failed(tmp_path: Path) -> None:
    handler = ctl.Handler([str(tmp_path / "no-such-wrapper")])
    assert converse(handler, "set", f"{BASE}.1.0", "integer 1", "") == ["commit-failed"]
    assert "failed" in handler.last


@pytest.mark.parametrize(
    ("typed", "logged"),
    [
        ('string "ALL"', "refused SET hold: invalid queue ID 'ALL'"),
        ("integer 7", "refused SET hold: type 'integer'"),
    ],
)
def test_refusals_are_logged_to_syslog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, typed: str, logged: str
) -> None:
    lines: list[tuple[int, str]] = []
    monkeypatch.setattr(ctl.syslog, "syslog", lambda prio, msg: lines.append((prio, msg)))
    argv, log = recorder(tmp_path)
    converse(ctl.Handler(argv), "set", f"{BASE}.3.0", typed, "")
    assert lines == [(ctl.syslog.LOG_WARNING, logged)]
    assert calls(log) == []


def test_actions_are_logged_to_syslog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines: list[tuple[int, str]] = []
    monkeypatch.setattr(ctl.syslog, "syslog", lambda prio, msg: lines.append((prio, msg)))
    argv, _ = recorder(tmp_path)
    converse(ctl.Handler(argv), "set", f"{BASE}.4.0", 'string "4F2A3B1C9D"', "")
    assert lines == [(ctl.syslog.LOG_NOTICE, "SET release 4F2A3B1C9D: rc=0 recorded")]
