"""The WUI's pages and API, one module per area; each has ``install(app)``.

A new page goes into the module of its area (or a new module listed in :data:`AREAS`):
its handlers take the request's context from :func:`webui.context.ctx`, ask ``else_core``
for data and answer with :func:`webui.context.render` or a JSON/CSV response. The route
option ``auth`` ("none", "user" = default, "admin") is enforced by :mod:`webui.session`.
"""

from __future__ import annotations

from bottle import Bottle

from webui.views import account, admin, alerts, api, auth, email, live, reports, search, servers

#: Every area, installed in this order (public routes first).
AREAS = (auth, account, search, email, live, reports, api, admin, servers, alerts)


def install(app: Bottle) -> None:
    for area in AREAS:
        area.install(app)
