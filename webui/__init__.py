"""The ELSE web UI: a Bottle application built by :func:`create_app`.

Apache (mod_wsgi daemon mode) and ``elsectl serve`` both call the factory, so nothing
here runs at import time and tests can build as many apps as they like.
"""

from __future__ import annotations

from bottle import Bottle, response


def create_app() -> Bottle:
    app = Bottle()

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        response.set_header("Cache-Control", "no-store")
        return {"status": "ok"}

    return app
