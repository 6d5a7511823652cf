"""Statistics rollups of a bulk import, folded in once per import instead of per batch.

The rollup triggers (migrations m0004, m0011) upsert every batch's counts into
stats_hourly/stats_daily. In a one-transaction import of many batches that upsert
touches the same keys again and again, and no old row version can be pruned before the
transaction ends, so each batch costs more than the one before. Deferred, the triggers
only append their grouped counts to the pending tables, and :func:`apply` adds them up
and upserts each key once, in the same transaction: the rollups end exactly as if every
batch had been applied on its own.
"""

from __future__ import annotations

import psycopg

# The deferred triggers count per server only (m0016); each pending count also counts for
# all servers ('*'), and a count of no server (NULL host) only for them, as the direct
# triggers do it.
_APPLY = (
    """
    WITH d AS (DELETE FROM stats_hourly_pending RETURNING *)
    INSERT INTO stats_hourly AS s (hour, host, kind, key, n, bytes)
    SELECT d.hour, v.h, d.kind, d.key, sum(d.n), sum(d.bytes)
    FROM d CROSS JOIN LATERAL (VALUES (d.host), ('*')) AS v(h)
    WHERE v.h IS NOT NULL
    GROUP BY 1, 2, 3, 4
    ON CONFLICT (hour, host, kind, key)
    DO UPDATE SET n = s.n + excluded.n, bytes = s.bytes + excluded.bytes
    """,
    """
    WITH d AS (DELETE FROM stats_daily_pending RETURNING *)
    INSERT INTO stats_daily AS s (day, host, kind, key, n, bytes)
    SELECT d.day, v.h, d.kind, d.key, sum(d.n), sum(d.bytes)
    FROM d CROSS JOIN LATERAL (VALUES (d.host), ('*')) AS v(h)
    WHERE v.h IS NOT NULL
    GROUP BY 1, 2, 3, 4
    ON CONFLICT (day, host, kind, key)
    DO UPDATE SET n = s.n + excluded.n, bytes = s.bytes + excluded.bytes
    """,
)


def defer(conn: psycopg.Connection) -> None:
    """From now to the end of the current transaction, rollup triggers append to the
    pending tables; the caller must :func:`apply` before it commits."""
    conn.execute("SELECT set_config('else.rollups_deferred', 'on', true)")


def apply(conn: psycopg.Connection) -> None:
    """Fold the transaction's pending counts into the rollups and stop deferring.

    The pending rows other transactions wrote are invisible here (they are deleted before
    their own commit), so only this transaction's counts are taken."""
    for statement in _APPLY:
        conn.execute(statement)
    conn.execute("SELECT set_config('else.rollups_deferred', 'off', true)")
