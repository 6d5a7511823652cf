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

import ipaddress
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
class SenderRule:
    """When one group's domains and addresses count on the sender side.

    ``trusted_only``: only for e-mails that authenticated (SASL) or whose client is in
    ``networks`` (CIDR); a forged ``MAIL FROM`` from elsewhere does not count.
    """

    domains: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    trusted_only: bool = False
    networks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Scope:
    """What a user may see. ``None`` = no restriction on that axis; an empty tuple = none.

    Mail is visible when it went through one of ``servers`` and its sender or one of
    its recipients is in ``domains`` or ``addresses``.
    """

    servers: tuple[str, ...] | None = None
    domains: tuple[str, ...] | None = None
    addresses: tuple[str, ...] | None = None
    #: The sender side, per group; None: ``domains`` and ``addresses``, unconditionally.
    senders: tuple[SenderRule, ...] | None = None

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
        # Went through: the server it entered by, or any later hop (split roles: mail that
        # entered on the inbound PFX and left through the outbound one belongs to both).
        servers = list(scope.servers)
        out.append(
            cond(
                "(e.host = ANY(%s) OR EXISTS (SELECT 1 FROM transactions t"
                " WHERE t.email_id = e.id AND t.host = ANY(%s)))",
                servers,
                servers,
            )
        )
    if scope.domains is not None or scope.addresses is not None:
        domains, addresses = scope._domains_addresses()
        sender, sparams = _email_sender(scope)
        rcpt = cond(
            "EXISTS (SELECT 1 FROM email_recipients r WHERE r.email_id = e.id"
            " AND (r.domain = ANY(%s) OR lower(r.address) = ANY(%s)))",
            domains,
            addresses,
        )
        out.append((sql.SQL("({} OR {})").format(sender, rcpt[0]), [*sparams, *rcpt[1]]))
    return out


def recipient_visibility(scope: Scope | None) -> Cond | None:
    """Which rows of ``email_recipients r`` a recipient-level search filter may match.

    A user who sees an e-mail only through some of its recipients must not learn about
    the others by searching for them: a search for another tenant's address, relay or
    answer would find the shared e-mail and so tell that they got it, although the page
    hides their names. The filters therefore match only recipients in scope, unless the
    user sees the e-mail through its sender (then all its recipients are theirs).
    None: no restriction (administrators, server-only scopes).
    """
    if scope is None or scope.unrestricted:
        return None
    if scope.domains is None and scope.addresses is None:
        return None
    domains, addresses = scope._domains_addresses()
    sender, sparams = _email_sender(scope)
    mine = cond(
        "(r.domain = ANY(%s) OR lower(r.address) = ANY(%s) OR lower(r.orig_address) = ANY(%s)"
        " OR split_part(lower(r.orig_address), '@', 2) = ANY(%s))",
        domains,
        addresses,
        addresses,
        domains,
    )
    return sql.SQL("({} OR {})").format(mine[0], sender), [*mine[1], *sparams]


def _email_sender(scope: Scope) -> Cond:
    """The sender side of ``scope`` over ``emails e``."""
    return _sender_condition(
        scope,
        cond("(e.sender_domain = ANY(%s) OR lower(e.sender) = ANY(%s))"),
        cond("(e.sasl_username IS NOT NULL OR else_inet(e.client_ip) <<= ANY(%s::cidr[]))"),
    )


def _sender_condition(scope: Scope, match: Cond, trusted: Cond) -> Cond:
    """The sender side of ``scope``: ``match`` (two placeholders: domains, addresses)
    per rule, AND ``trusted`` (one placeholder: networks) for a trusted-only rule."""
    rules = scope.senders
    if rules is None:
        domains, addresses = scope._domains_addresses()
        rules = (SenderRule(tuple(domains), tuple(addresses)),)
    parts: list[Statement] = []
    params: list[Any] = []
    for rule in rules:
        d = [x.lower().lstrip("@") for x in rule.domains]
        a = [x.lower() for x in rule.addresses]
        if rule.trusted_only:
            parts.append(sql.SQL("({} AND {})").format(match[0], trusted[0]))
            params.extend([d, a, list(rule.networks)])
        else:
            parts.append(match[0])
            params.extend([d, a])
    if not parts:
        return sql.SQL("false"), []
    return sql.SQL("({})").format(sql.SQL(" OR ").join(parts)), params


def reject_conditions(scope: Scope | None) -> list[Cond]:
    """The scope over ``rejects j``: its server, and its sender or recipient."""
    if scope is None or scope.unrestricted:
        return []
    out: list[Cond] = []
    if scope.servers is not None:
        out.append(cond("j.host = ANY(%s)", list(scope.servers)))
    if scope.domains is not None or scope.addresses is not None:
        domains, addresses = scope._domains_addresses()
        sender, sparams = _sender_condition(
            scope,
            cond("(lower(split_part(j.sender, '@', 2)) = ANY(%s) OR lower(j.sender) = ANY(%s))"),
            # a refusal never authenticated: only the group's own networks vouch for it
            cond("else_inet(j.client_ip) <<= ANY(%s::cidr[])"),
        )
        rcpt = cond(
            "(lower(split_part(j.recipient, '@', 2)) = ANY(%s) OR lower(j.recipient) = ANY(%s))",
            domains,
            addresses,
        )
        out.append((sql.SQL("({} OR {})").format(sender, rcpt[0]), [*sparams, *rcpt[1]]))
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


# -- recipients inside one visible e-mail ----------------------------------------------------
#
# The SQL above decides which e-mails a user sees. Inside one e-mail, a user whose scope
# matched a recipient (not the sender) must not learn who else received it (Bcc
# included), through which relays and with which answers: those parts are cut here,
# from the document the SQL returned, and only their number is shown.

#: The fields that name a recipient in a document's entries (attempts, rejects, actions).
_RECIPIENT_KEYS = ("address", "orig_address", "to", "orig_to", "recipient")


def _in_scope(scope: Scope, address: Any) -> bool:
    if not isinstance(address, str) or not address:
        return False
    a = address.lower()
    domains, addresses = scope._domains_addresses()
    return a in addresses or a.rpartition("@")[2] in domains


def sender_in_scope(scope: Scope | None, doc: dict[str, Any]) -> bool:
    """Whether the user sees ``doc`` through its sender (then every recipient is theirs:
    it is their own outgoing mail). See :func:`visible_email` for the trust setting."""
    if scope is None or scope.unrestricted:
        return True
    if scope.domains is None and scope.addresses is None:
        return True  # scoped by server only
    if scope.senders is None:
        return _in_scope(scope, doc.get("sender"))
    return any(_rule_matches(rule, doc) for rule in scope.senders)


def _rule_matches(rule: SenderRule, doc: dict[str, Any]) -> bool:
    """:func:`_sender_condition` for one rule, in Python, on an e-mail document."""
    sender = str(doc.get("sender") or "").lower()
    if not sender or not _in_scope(Scope(domains=rule.domains, addresses=rule.addresses), sender):
        return False
    if not rule.trusted_only or doc.get("sasl_username"):
        return True
    try:
        ip = ipaddress.ip_address(str(doc.get("client_ip") or ""))
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(n, strict=False) for n in rule.networks)


def _entry_visible(scope: Scope, entry: Any) -> bool:
    """An entry with no recipient field (a connection, a hold) stays; one naming
    recipients stays when one of them is in scope."""
    if not isinstance(entry, dict):
        return True
    named = [entry.get(k) for k in _RECIPIENT_KEYS if entry.get(k)]
    return not named or any(_in_scope(scope, a) for a in named)


def hidden_recipients(scope: Scope | None, doc: dict[str, Any]) -> list[str]:
    """The addresses (and original addresses) of ``doc``'s recipients the user may not
    see, lower case; empty when the user sees them all."""
    if sender_in_scope(scope, doc):
        return []
    assert scope is not None
    out: list[str] = []
    for r in doc.get("recipients") or []:
        if not _entry_visible(scope, r):
            out.extend(str(r[k]).lower() for k in ("address", "orig_address") if r.get(k))
    return out


def visible_email(scope: Scope | None, doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` (an e-mail document) with only the recipients in ``scope``: its
    recipients, and the attempts, rejects, actions and notifications naming them.
    ``hidden_recipients`` in the result counts the others (0: nothing was cut).
    Administrators (``scope`` None) and users who see the e-mail by its sender get it
    whole."""
    if scope is None or scope.unrestricted:
        return doc
    if sender_in_scope(scope, doc):
        return {**doc, "hidden_recipients": 0}
    out = dict(doc)
    recipients = doc.get("recipients") or []
    out["recipients"] = [r for r in recipients if _entry_visible(scope, r)]
    out["hidden_recipients"] = len(recipients) - len(out["recipients"])
    out["rejects"] = [j for j in doc.get("rejects") or [] if _entry_visible(scope, j)]
    txs = []
    for t in doc.get("transactions") or []:
        t2 = dict(t)
        for key in ("attempts", "rejects", "actions", "notifications"):
            if isinstance(t.get(key), list):
                t2[key] = [x for x in t[key] if _entry_visible(scope, x)]
        txs.append(t2)
    out["transactions"] = txs
    return out


def visible_lines(
    scope: Scope | None, doc: dict[str, Any], lines: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], int]:
    """The raw log lines of an e-mail without those naming a hidden recipient (a
    delivery ``to=<...>``, a refusal ``<...>``), and how many were left out."""
    hidden = hidden_recipients(scope, doc)
    if not hidden:
        return lines, 0
    marks = [f"<{a}>" for a in hidden]
    kept = [ln for ln in lines if not any(m in str(ln.get("message") or "").lower() for m in marks)]
    return kept, len(lines) - len(kept)


def visible_detail(scope: Scope | None, detail: dict[str, Any]) -> dict[str, Any]:
    """:func:`else_core.search.email_detail`'s result as ``scope`` may see it: the
    e-mail through :func:`visible_email`, the raw lines through :func:`visible_lines`
    (``hidden_lines`` counts those left out)."""
    if scope is None or scope.unrestricted:
        return detail
    doc = detail["email"]
    lines, cut = visible_lines(scope, doc, detail.get("lines") or [])
    return {**detail, "email": visible_email(scope, doc), "lines": lines, "hidden_lines": cut}
