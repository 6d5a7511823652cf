"""The [alerts] section of else.toml: `elsectl config check` names each mistake, and the
typed section gives its defaults."""

from __future__ import annotations

import pytest

from else_core import config
from else_core.errors import ConfigError


def cfg(text: str) -> config.Config:
    import tomllib

    return config.Config(None, tomllib.loads(text))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[alerts]\ninterval = 'often'\n", "[alerts] interval must be a number"),
        ("[alerts]\ninterval = 0\n", "[alerts] interval must be > 0"),
        ("[alerts]\nwebhook_timeout = -1\n", "[alerts] webhook_timeout must be > 0"),
        ("[alerts]\nmax_attempts = 0\n", "[alerts] max_attempts must be >= 1"),
        ("[alerts]\nsmtp_port = '25'\n", "[alerts] smtp_port must be an integer"),
        ("[alerts]\nwebhook_url = 'chat.example/hook'\n", "webhook_url must start with http"),
        ("[alerts]\nmail_too = 'x'\n", "[alerts] unknown key 'mail_too'"),
    ],
)
def test_config_check_names_the_mistake(text, problem):
    assert any(problem in p for p in config.check(cfg(text))), config.check(cfg(text))


def test_a_good_alerts_section_passes():
    text = (
        "[alerts]\ninterval = 5\nmail_to = 'root@localhost'\n"
        "webhook_url = 'http://127.0.0.1:9/hook'\ndns_resolver = '198.18.0.1:5353'\n"
    )
    assert config.check(cfg(text)) == []


def test_defaults_deliver_through_the_local_postfix():
    settings = cfg("").alerts
    assert (settings.smtp_host, settings.smtp_port, settings.interval) == ("localhost", 25, 60.0)


def test_a_wrong_type_fails_when_read():
    with pytest.raises(ConfigError, match="interval must be a number"):
        _ = cfg("[alerts]\ninterval = 'x'\n").alerts


@pytest.mark.parametrize(
    ("toml", "args", "message"),
    [
        ("[alerts]\ninterval = 'x'\n", [], "[alerts] interval must be a number"),
        ("", ["--interval", "0"], "--interval must be > 0"),
        ("", [], "no database configured"),
    ],
)
def test_alert_run_refuses_bad_settings_with_one_line(
    tmp_path, monkeypatch, capsys, toml, args, message
):
    from else_core.cli import main

    conf = tmp_path / "else.toml"
    conf.write_text(toml)
    monkeypatch.setenv("ELSE_CONFIG", str(conf))
    monkeypatch.delenv("ELSE_DSN", raising=False)
    assert main(["alert", "run", "--once", *args]) == 2
    assert message in capsys.readouterr().err
