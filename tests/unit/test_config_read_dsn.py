"""The WUI's read-only DSN (a hot standby, docs/scale.md): from the file or the environment,
empty when not set (reads then go to web_dsn), and a key `elsectl config check` knows."""

from __future__ import annotations

import pytest

from else_core import config

STANDBY = "host=/run/postgresql dbname=else user=else_web"


@pytest.mark.parametrize(
    ("table", "env", "override", "want"),
    [
        ({}, None, None, ""),
        ({"web_read_dsn": STANDBY}, None, None, STANDBY),
        ({"web_read_dsn": STANDBY}, "host=other", None, "host=other"),
        ({}, "host=other", None, "host=other"),
        ({"web_read_dsn": STANDBY}, "host=other", "host=cli", "host=cli"),
        ({"web_dsn": "host=primary"}, None, None, ""),
    ],
)
def test_the_read_dsn_comes_from_option_environment_file(monkeypatch, table, env, override, want):
    monkeypatch.delenv("ELSE_WEB_READ_DSN", raising=False)
    if env:
        monkeypatch.setenv("ELSE_WEB_READ_DSN", env)
    cfg = config.Config(None, {"database": table})
    assert cfg.read_dsn(override) == want


@pytest.mark.parametrize(
    ("value", "problems"),
    [(STANDBY, []), (5432, ["[database] web_read_dsn must be a string, not 5432"])],
)
def test_config_check_knows_web_read_dsn(value, problems):
    assert config.check(config.Config(None, {"database": {"web_read_dsn": value}})) == problems
