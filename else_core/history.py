"""A user's search history and saved searches (the WUI's "My searches").

A search is stored as the list of its ``[name, value]`` query parameters (repeated names
kept, the page cursor and CSRF token dropped), so replaying it is building the same URL.
History rows are written by the search page and pruned by retention (migration 0004).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

HISTORY_SHOWN = 50

#: One stored search: its query parameters as ``[name, value]`` pairs.
Pairs = list[list[str]]


def record(conn: psycopg.Connection, user_id: int, query: Pairs, results: int | None) -> None:
    """One search the user ran, with how many results it had. The same search run again
    right after (a reload, "back") refreshes the newest entry instead of adding one."""
    with conn.transaction():
        again = conn.execute(
            "UPDATE search_history SET at = now(), results = %s WHERE id = ("
            " SELECT id FROM search_history WHERE user_id = %s ORDER BY at DESC LIMIT 1)"
            " AND query = %s",
            (results, user_id, Jsonb(query)),
        )
        if again.rowcount == 0:
            conn.execute(
                "INSERT INTO search_history (user_id, query, results) VALUES (%s, %s, %s)",
                (user_id, Jsonb(query), results),
            )


def recent(conn: psycopg.Connection, user_id: int) -> list[dict[str, Any]]:
    """The user's newest searches (at, query, results), newest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT at, query, results FROM search_history WHERE user_id = %s"
            " ORDER BY at DESC LIMIT %s",
            (user_id, HISTORY_SHOWN),
        ).fetchall()


def saved(conn: psycopg.Connection, user_id: int) -> list[dict[str, Any]]:
    """The user's saved searches (id, name, query, created_at) by name."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT id, name, query, created_at FROM saved_searches WHERE user_id = %s"
            " ORDER BY name",
            (user_id,),
        ).fetchall()


def save(conn: psycopg.Connection, user_id: int, name: str, query: Pairs) -> None:
    """Save (or replace) the user's search called ``name``."""
    with conn.transaction():
        conn.execute(
            "INSERT INTO saved_searches (user_id, name, query) VALUES (%s, %s, %s)"
            " ON CONFLICT (user_id, name) DO UPDATE SET query = EXCLUDED.query",
            (user_id, name, Jsonb(query)),
        )


def delete(conn: psycopg.Connection, user_id: int, search_id: int) -> None:
    """Delete one of the user's saved searches (another user's id does nothing)."""
    with conn.transaction():
        conn.execute(
            "DELETE FROM saved_searches WHERE id = %s AND user_id = %s", (search_id, user_id)
        )
