"""An import's rollup triggers count per server only; the all-servers rows come at the end.

Every count of the rollups exists twice, for its server and for all servers (host
``'*'``): the triggers of m0004 join each stored row with ``(VALUES (host), ('*'))``.
During an import (m0011: counts appended to the pending tables, folded in once before
commit) that doubled the rows every batch grouped and appended, though the all-servers
count is only the sum over the servers. The deferred triggers now group per server
only, and :func:`else_core.store.rollups.apply` adds the ``'*'`` rows while it folds the
import's counts in. A row of no server (NULL host, which the direct path counts only for
``'*'``) keeps its NULL in the pending tables, so the result is the same rows as before:
the rollup tests compare it with a full recount. On the dense benchmark log the triggers
were 11% of the server's work during an import.

The live worker's direct path is unchanged.
"""

from __future__ import annotations

from else_core.db.migrations.m0004_rollups import _EMAILS, _RECIPIENTS, _REJECTS
from else_core.db.migrations.m0011_import_rollups import _functions, _pending

_ALL_SERVERS = (  # a subquery of one column, which the planner pulls up: no join per row
    ("(VALUES (t.host), ('*')) AS v(h)", "(SELECT t.host AS h) AS v"),
    ("(VALUES (t.email_host), ('*')) AS v(h)", "(SELECT t.email_host AS h) AS v"),
    (" AND v.h IS NOT NULL", ""),
)


def _per_host(body: str) -> str:
    """m0004's trigger SQL without its all-servers rows and without dropping NULL hosts."""
    for old, new in _ALL_SERVERS:
        body = body.replace(old, new)
    if "'*'" in body or "v.h IS NOT NULL" in body:  # m0004's SQL changed shape
        raise RuntimeError("m0016: cannot derive the per-server trigger SQL")
    return body


def _deferred(body: str) -> str:
    return _pending(_per_host(body))


SQL = (
    """
-- A pending count of no server (NULL host) counts only for all servers, as directly.
ALTER TABLE stats_hourly_pending ALTER COLUMN host DROP NOT NULL;
ALTER TABLE stats_daily_pending ALTER COLUMN host DROP NOT NULL;
"""
    + _functions(_EMAILS, "emails", _deferred)
    + _functions(_RECIPIENTS, "rcpt", _deferred)
    + _functions(_REJECTS, "rejects", _deferred)
)
