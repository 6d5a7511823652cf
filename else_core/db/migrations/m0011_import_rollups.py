"""Rollups of a bulk import applied once per import; e-mail documents compressed with lz4.

An import is one transaction of many batches. Each batch's COPY fired the rollup
triggers (m0004), which upsert the batch's counts into stats_hourly/stats_daily: a
key seen in every batch (a busy recipient, a sender domain, the '*' totals) was
updated once per batch, and inside one transaction no old row version can be pruned,
so each upsert walked every earlier version of its key. On the e-mail-dense 1M-line
benchmark log the recipient rollup alone took 18 s of the server's 52 s, growing with
the square of the import's length.

Now a session that sets ``else.rollups_deferred = on`` (the importer, for its own
transaction: else_core.store.rollups) makes the triggers append the batch's counts,
already grouped, to ``stats_hourly_pending``/``stats_daily_pending`` (unlogged, no
index: a plain append), and folds them into the rollups once before it commits, each
key touched once. Rows of those tables are only ever visible to the transaction that
wrote them (it deletes them before it commits), so concurrent imports never see each
other's. Live ingest (one short transaction per batch) keeps the direct upsert.

``emails.doc`` (about 1 kB of JSON per e-mail, always TOASTed) is compressed with lz4
where the server has it: pglz took 7% of the server's CPU during an import, lz4 a
fraction of that, and decompressing a page of search results gets faster too. Values
already stored keep pglz (both stay readable).
"""

import re
from collections.abc import Callable

from else_core.db.migrations.m0004_rollups import _EMAILS, _RECIPIENTS, _REJECTS

_PENDING_TABLES = r"""
CREATE UNLOGGED TABLE stats_hourly_pending (
    hour   timestamptz NOT NULL,
    host   text NOT NULL,
    kind   text NOT NULL,
    key    text NOT NULL,
    n      bigint NOT NULL,
    bytes  bigint NOT NULL
);
CREATE UNLOGGED TABLE stats_daily_pending (
    day    date NOT NULL,
    host   text NOT NULL,
    kind   text NOT NULL,
    key    text NOT NULL,
    n      bigint NOT NULL,
    bytes  bigint NOT NULL
);
"""

_UPSERT = re.compile(r"\s*ON CONFLICT \([^)]*\)\s*DO UPDATE SET [^;]*;")


def _pending(body: str) -> str:
    """The same grouped counts, appended to the pending tables instead of upserted."""
    body = body.replace("INSERT INTO stats_hourly AS s", "INSERT INTO stats_hourly_pending")
    body = body.replace("INSERT INTO stats_daily AS s", "INSERT INTO stats_daily_pending")
    return _UPSERT.sub(";", body)


def _function(
    name: str, body: str, rows: str, sign: str, deferral: Callable[[str], str] = _pending
) -> str:
    """The trigger function of m0004's ``body``: what ``deferral`` makes of it while an
    import defers its rollups (m0016 passes a per-server variant), the body itself else."""
    direct = body.format(rows=rows, sign=sign)
    deferred = deferral(body).format(rows=rows, sign=sign)
    if "ON CONFLICT" in deferred or "_pending" not in deferred:  # m0004's SQL changed shape
        raise RuntimeError(f"m0011: cannot derive the deferred body of {name}")
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql
SET search_path = public, pg_temp AS $fn$
BEGIN
    IF current_setting('else.rollups_deferred', true) = 'on' THEN
{deferred}
        RETURN NULL;
    END IF;
{direct}
    RETURN NULL;
END $fn$;
"""


def _functions(body: str, short: str, deferral: Callable[[str], str] = _pending) -> str:
    return _function(f"else_stats_{short}_ins", body, "new_rows", "1", deferral) + _function(
        f"else_stats_{short}_del", body, "old_rows", "-1", deferral
    )


_LZ4 = r"""
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_settings
               WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)) THEN
        ALTER TABLE emails ALTER COLUMN doc SET COMPRESSION lz4;
    END IF;
END $$;
"""

SQL = (
    _PENDING_TABLES
    + _functions(_EMAILS, "emails")
    + _functions(_RECIPIENTS, "rcpt")
    + _functions(_REJECTS, "rejects")
    + _LZ4
)
