"""`elsectl serve` finds the web UI through the else.web entry point (else_core does not
import webui), and says so clearly when no web UI is installed."""

from __future__ import annotations

import pytest

import webui
from else_core.commands import serve
from else_core.errors import ConfigError


def test_the_installed_entry_point_is_the_web_uis_factory():
    assert serve.app_factory() is webui.create_app


def test_without_a_web_ui_serve_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(serve, "entry_points", lambda **_: [])
    with pytest.raises(ConfigError, match="no web UI installed"):
        serve.app_factory()
