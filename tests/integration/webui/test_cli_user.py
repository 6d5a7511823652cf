"""`elsectl user ...` as the playbook and an administrator run it (a real subprocess)."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from webclient import Client

from else_core.cli import main
from tests.support.cli import elsectl

pytestmark = pytest.mark.postgres


def run(web_db, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "else_core", "user", "--dsn", web_db.dsn("else_web"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def run_here(
    web_db, capsys, monkeypatch, *args: str, stdin: str | None = None
) -> tuple[int, str, str]:
    """The same command line in this process (no interpreter start-up per case)."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin or ""))
    code = main(["user", "--dsn", web_db.dsn("else_web"), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_playbook_flow_add_list_token(web_db, base_url):
    # What roles/else_app/tasks/wui_admin_account.yml runs.
    res = run(
        web_db, "add", "--admin", "--password-file", "-", "ops", stdin="Sup3rSecretPassw0rd\n"
    )
    assert res.returncode == 0, res.stderr
    users = [
        json.loads(x)
        for x in elsectl(
            "user", "--dsn", web_db.dsn("else_web"), "list", "--format", "json"
        ).stdout.splitlines()
    ]
    ops = next(u for u in users if u["username"] == "ops")
    assert ops["admin"] is True and ops["active"] is True
    token = run(web_db, "token", "--name", "ansible", "ops").stdout.strip()
    assert token.startswith("else_")
    api = Client(base_url).api("/api/v1/search", token, limit=1)
    assert api.status == 200
    with web_db.connect() as conn:
        stored = conn.execute("SELECT token_hash FROM api_tokens WHERE name = 'ansible'").fetchone()
    assert stored and token not in stored[0]  # only the hash is kept


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("add", "--password-file", "-", "admin"), "0123456789abc\n", "already exists"),
        (("add", "--password-file", "-", "shorty"), "short\n", "too short"),
        (("add", "--password-file", "-", "bad name"), "0123456789abc\n", "user name"),
        (("add", "--password-file", "/nonexistent/pw", "x1"), None, "cannot read password file"),
        (("passwd", "--password-file", "-", "ghost"), "0123456789abc\n", "no such user"),
        (("del", "ghost"), None, "no such user"),
        (("token", "ghost"), None, "no such user"),
        (("group", "bind", "alpha", "domain", "not a domain"), None, "not a domain"),
        (("group", "bind", "nogroup", "user", "alice"), None, "no such group"),
    ],
)
def test_bad_requests_are_one_clear_line(web_db, capsys, monkeypatch, args, stdin, message):
    code, _out, err = run_here(web_db, capsys, monkeypatch, *args, stdin=stdin)
    assert code == 2
    assert message in err


def test_groups_from_the_command_line_scope_what_a_user_sees(web_db, base_url, capsys, monkeypatch):
    for args, stdin in (
        (("add", "--password-file", "-", "dora"), "0123456789abcd\n"),
        (("group", "add", "delta"), None),
        (("group", "bind", "delta", "user", "dora"), None),
        (("group", "bind", "delta", "address", "B1@beta.example"), None),
        # b1's mail comes unauthenticated from beta's relay: count the sender as such
        (("group", "trust", "delta", "any"), None),
    ):
        res = run(web_db, *args, stdin=stdin)
        assert res.returncode == 0, res.stderr
    listed = [
        json.loads(x) for x in run(web_db, "group", "list", "--format", "json").stdout.splitlines()
    ]
    delta = next(g for g in listed if g["name"] == "delta")
    assert delta["members"] == ["dora"] and delta["addresses"] == ["b1@beta.example"]
    token = run_here(web_db, capsys, monkeypatch, "token", "dora")[1].strip()
    found = Client(base_url).api("/api/v1/search", token, limit=100).json()["emails"]
    assert found and {e["sender"] for e in found} == {"b1@beta.example"}
    assert run_here(web_db, capsys, monkeypatch, "del", "dora")[0] == 0
    assert Client(base_url).api("/api/v1/search", token).status == 401
