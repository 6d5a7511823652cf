"""`elsectl config check`: every kind of mistake in else.toml is named, a good file passes,
and the typed sections give their defaults and refuse values of the wrong type."""

from __future__ import annotations

import pytest

from else_core import config
from else_core.cli import main
from else_core.errors import ConfigError

GOOD = """
[database]
dsn = "host=127.0.0.1 dbname=else"
[ingest]
batch_size = 5000
poll_interval = 2
[web]
secret_file = "/etc/else/web-secret"
insecure_http = false
[snmp]
user = "elsemgr"
auth_protocol = "sha-256"
port = 161
timeout = 2.5
[[servers]]
name = "pfx"
address = "198.18.0.10"
role = "incoming"
"""


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[ingest]\nbatch_size = 'many'\n", "[ingest] batch_size must be an integer"),
        ("[ingest]\nbatch_size = true\n", "[ingest] batch_size must be an integer"),
        ("[ingest]\npoll_interval = '2'\n", "[ingest] poll_interval must be a number"),
        ("[web]\ntimezon = 'UTC'\n", "[web] unknown key 'timezon'"),
        ("[web]\ninsecure_http = 'yes'\n", "[web] insecure_http must be true or false"),
        ("[webui]\nx = 1\n", "unknown section [webui]"),
        ("web = 1\n", "[web] must be a table"),
        ("[[servers]]\naddress = '198.18.0.10'\n", "[[servers]] entry 1 needs a name"),
        ("[[servers]]\nname = 'pfx'\nrole = 'inbound'\n", "role must be one of"),
        ("[[servers]]\nname = 'pfx'\n[[servers]]\nname = 'pfx'\n", "'pfx' is listed twice"),
        ("[snmp]\nauth_protocol = 'MD5'\n", "auth_protocol must be"),
        ("[snmp]\npriv_protocol = 'DES'\n", "priv_protocol must be"),
    ],
)
def test_check_names_the_problem(tmp_path, text, problem):
    path = tmp_path / "else.toml"
    path.write_text(text)
    problems = config.check(config.load(path))
    assert any(problem in p for p in problems), problems


def test_a_good_file_passes(tmp_path, capsys):
    path = tmp_path / "else.toml"
    path.write_text(GOOD)
    assert main(["config", "check", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: OK\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[web]\ntimezon = 'UTC'\n", "1 problem(s)"),
        ("x = [\n", "invalid TOML"),
    ],
)
def test_a_bad_file_fails_with_exit_code_2(tmp_path, capsys, text, message):
    path = tmp_path / "else.toml"
    path.write_text(text)
    assert main(["config", "check", str(path)]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("section", "key", "default"),
    [
        ("ingest", "batch_size", 5000),
        ("ingest", "poll_interval", 2.0),
        ("web", "secret_file", "/etc/else/web-secret"),
        ("web", "session_max_age", 12 * 3600),
        ("snmp", "poll_interval", 60),
        ("snmp", "down_after", 3),
    ],
)
def test_sections_have_their_defaults_in_one_place(section, key, default):
    assert getattr(getattr(config.Config(), section), key) == default


def test_a_typed_section_refuses_a_wrong_type():
    with pytest.raises(ConfigError, match=r"\[web\] session_max_age must be an integer"):
        _ = config.Config(None, {"web": {"session_max_age": "1h"}}).web
