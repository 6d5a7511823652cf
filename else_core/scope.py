"""Who may see what, as SQL: the one definition shared by search, statistics and reports.

A :class:`Scope` says which servers, domains and addresses a user may see (the union of
their groups; ``None`` on an axis = no restriction). Every query that shows mail to a
user compiles the scope into its WHERE clause with :func:`email_conditions` (aliases
``e`` = ``emails``) or :func:`reject_conditions` (``j`` = ``rejects``), so a row the SQL
did not allow never reaches Python.

A condition is a :data:`Cond`: a :class:`psycopg.sql.Composable` with ``%s`` placeholders
plus the values for them, in order. Conditions compose with :func:`where`; the SQL text
is always a literal of this package, never input.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, LiteralString, TypeAlias

from psycopg import sql

#: A piece of SQL (a :class:`psycopg.sql.Composable` that ``execute`` accepts).
Statement: TypeAlias = sql.SQL | sql.Composed
#: A SQL condition and the values of its ``%s`` placeholders, in order.
Cond: TypeAlias = tuple[Statement, list[Any]]

TRUE = sql.SQL("true")


@dataclass(frozen=True, slots=True)
class Scope:
    """What a user may see. ``None`` = no restriction on that axis; an empty tuple = none.

    Mail is visible when it went through one of ``servers`` and its sender or one of
    its recipients is in ``domains`` or ``addresses``.
    """

    servers: tuple[str, ...] | None = None
    domains: tuple[str, ...] | None = None
    addresses: tuple[str, ...] | None = None

    @property
    def unrestricted(self) -> bool:
        return self.servers is None and self.domains is None and self.addresses is None

    def _domains_addresses(self) -> tuple[list[str], list[str]]:
        domains = [d.lower().lstrip("@") for d in self.domains or ()]
        addresses = [a.lower() for a in self.addresses or ()]
        return domains, addresses


def cond(text: LiteralString, *params: Any) -> Cond:
    """A condition from a SQL literal of this package (``%s`` placeholders) and its values."""
    return sql.SQL(text), list(params)


def email_conditions(scope: Scope | None) -> list[Cond]:
    """The scope over ``emails e``: its server, and its sender or a recipient."""
    if scope is None or scope.unrestricted:
        return []
    out: list[Cond] = []
    if scope.servers is not None:
        out.append(cond("e.host = ANY(%s)", list(scope.servers)))
    if scope.domains is not None or scope.addresses is not None:
        domains, addresses = scope._domains_addresses()
        out.append(
            cond(
                "(e.sender_domain = ANY(%s) OR lower(e.sender) = ANY(%s) OR EXISTS"
                " (SELECT 1 FROM email_recipients r WHERE r.email_id = e.id"
                " AND (r.domain = ANY(%s) OR lower(r.address) = ANY(%s))))",
                domains,
                addresses,
                domains,
                addresses,
            )
        )
    return out


def reject_conditions(scope: Scope | None) -> list[Cond]:
    """The scope over ``rejects j``: its server, and its sender or recipient."""
    if scope is None or scope.unrestricted:
        return []
    out: list[Cond] = []
    if scope.servers is not None:
        out.append(cond("j.host = ANY(%s)", list(scope.servers)))
    if scope.domains is not None or scope.addresses is not None:
        domains, addresses = scope._domains_addresses()
        out.append(
            cond(
                "(lower(split_part(j.sender, '@', 2)) = ANY(%s)"
                " OR lower(split_part(j.recipient, '@', 2)) = ANY(%s)"
                " OR lower(j.sender) = ANY(%s) OR lower(j.recipient) = ANY(%s))",
                domains,
                domains,
                addresses,
                addresses,
            )
        )
    return out


def time_range(column: sql.Composable, since: Any, until: Any) -> list[Cond]:
    """The half-open range ``since <= column < until`` (either end optional), so
    consecutive periods never count a row twice."""
    out: list[Cond] = []
    if since is not None:
        out.append((sql.SQL("{} >= %s").format(column), [since]))
    if until is not None:
        out.append((sql.SQL("{} < %s").format(column), [until]))
    return out


def where(conds: Iterable[Cond]) -> Cond:
    """The conditions joined with AND (``true`` when there are none), params in order."""
    parts: list[Statement] = []
    params: list[Any] = []
    for c, p in conds:
        parts.append(c)
        params.extend(p)
    return (sql.SQL(" AND ").join(parts) if parts else TRUE), params
