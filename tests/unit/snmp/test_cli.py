"""`elsectl snmp ...` end to end against the in-process agent (no database: not audited)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from snmp_fake_agent import AUTH_KEY, PRIV_KEY, USER, FakePfx, queue_line

from else_core.cli import main


@pytest.fixture
def cli_config(fake_pfx: FakePfx, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePfx:
    path = tmp_path / "else.toml"
    path.write_text(
        f"""
[snmp]
user = "{USER}"
auth_key = "{AUTH_KEY}"
priv_key = "{PRIV_KEY}"
port = {fake_pfx.port}
timeout = 1.0
retries = 0

[[servers]]
name = "pfx"
address = "127.0.0.1"
"""
    )
    monkeypatch.setenv("ELSE_CONFIG", str(path))
    for var in ("ELSE_DSN", "ELSE_OWNER_DSN", "ELSE_WEB_DSN"):
        monkeypatch.delenv(var, raising=False)
    return fake_pfx


def test_status_text(cli_config: FakePfx, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["snmp", "status"]) == 0
    out = capsys.readouterr().out
    assert "pfx (127.0.0.1) pfx-test" in out
    assert "deferred=3 hold=4 total=10" in out
    assert "oldest deferred 60m" in out
    assert "postfix master  running" in out


def test_status_json(cli_config: FakePfx, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["snmp", "status", "--host", "pfx", "--format", "json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["server"] == "pfx"
    assert obj["queues"]["total"] == 10
    assert obj["master_running"] is True


def test_queue_text_escapes_hostile_strings(
    cli_config: FakePfx, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_config.listing = [queue_line("4F2A3B1C9D", sender="evil\x1b[2J@example.test")]
    assert main(["snmp", "queue"]) == 0
    out = capsys.readouterr().out
    assert "4F2A3B1C9D" in out
    assert "\x1b" not in out
    assert "-> bob@example.test  (connection refused)" in out


def test_queue_json_lines(cli_config: FakePfx, capsys: pytest.CaptureFixture[str]) -> None:
    cli_config.listing = [queue_line("4F2A3B1C9D"), queue_line("3Zvc3G4PNVz1DF", "hold")]
    assert main(["snmp", "queue", "--format", "json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["server"], r["queue_id"], r["queue_name"]) for r in rows] == [
        ("pfx", "4F2A3B1C9D", "deferred"),
        ("pfx", "3Zvc3G4PNVz1DF", "hold"),
    ]


def test_hold_without_database_runs_and_warns(
    cli_config: FakePfx, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["snmp", "hold", "4F2A3B1C9D"]) == 0
    captured = capsys.readouterr()
    assert cli_config.calls == [("hold", "4F2A3B1C9D")]
    assert "pfx: hold 4F2A3B1C9D: 1 hold 4F2A3B1C9D ok" in captured.out
    assert "not audited" in captured.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["snmp", "hold", "ALL"], "invalid queue ID 'ALL'"),
        (["snmp", "delete", "--host", "pfx", "4f2a3b1c9d"], "invalid queue ID"),
        (["snmp", "status", "--host", "nosuch"], "unknown server 'nosuch' (known: pfx)"),
        (["snmp", "release", "--host", "10.9.9.9", "4F2A3B1C9D"], "unknown server"),
    ],
)
def test_bad_input_is_one_clear_line(
    cli_config: FakePfx, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("elsectl: error: ")
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert cli_config.calls == []


def test_failed_action_exits_1(cli_config: FakePfx, capsys: pytest.CaptureFixture[str]) -> None:
    cli_config.fail_next = True
    assert main(["snmp", "requeue", "4F2A3B1C9D"]) == 1
    assert "failed no such message" in capsys.readouterr().out
