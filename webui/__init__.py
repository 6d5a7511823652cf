"""The ELSE web UI: a Bottle application built by :func:`create_app`.

Apache (mod_wsgi daemon mode) and ``elsectl serve`` both call the factory, so nothing
here runs at import time and tests can build as many apps as they like. With no
arguments it reads /etc/else/else.toml (``[database] web_dsn``, ``[web]``); tests and
``elsectl serve`` pass a configuration, DSN and secret explicitly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from webui.app import ElseApp


def create_app(*args: Any, **kwargs: Any) -> ElseApp:
    from webui.app import create_app as _create  # noqa: PLC0415 - keep import cheap

    return _create(*args, **kwargs)
