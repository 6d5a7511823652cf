"""WUI accounts: users, argon2id passwords, lockout, API tokens, groups and their scope.

One module for both ``elsectl user`` and the web UI, so a password set on the command
line and one set in the browser are hashed, checked and locked out the same way.

Why these choices:

* Passwords: argon2id (argon2-cffi's defaults, RFC 9106 "low memory" profile); a hash
  made with older parameters is re-hashed at the next good login.
* Lockout: after :data:`LOCK_AFTER` failures in a row from one client address for one
  account name, that address is refused for that name (even with the right password)
  for :data:`LOCK_SECONDS`; after :attr:`LoginLimits.address_failures` failures from one
  address for any names, the address is refused altogether. The counters live in
  ``login_throttle`` and are charged *before* the password is checked, in one atomic
  upsert, and refunded on success: parallel guesses cannot all reach the check. Unknown
  names are counted like real ones, so the answers never tell which accounts exist, and
  an anonymous burst from one address does not lock the owner out at another.
  ``users.failed_logins`` still counts the run of failures for the admin page.
* Memory: each argon2 check takes 64 MiB, so at most :attr:`LoginLimits.concurrent`
  checks run at once in a process and at most :attr:`LoginLimits.per_address` per
  client address; a log-in beyond that is answered "busy" without a check.
* API tokens: ``else_<prefix>_<secret>``; only the SHA-256 of the whole token is stored
  (a token is 32 random bytes, so a fast hash is enough: nothing to brute-force), the
  prefix lets a user tell tokens apart in a list.
* Scope: what a user may see is the union of their groups' domains and addresses, on
  the union of their groups' servers (a group with no server means every server).
  Admins are unrestricted. :class:`else_core.scope.Scope` turns it into SQL.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import re
import secrets
import threading
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from else_core.errors import ElseError
from else_core.scope import Scope, SenderRule

LOCK_AFTER = 5
LOCK_SECONDS = 300
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
TOKEN_PREFIX = "else_"  # noqa: S105 - the visible prefix, not a secret
#: A new API token lives this many days unless asked otherwise (a forgotten token in a
#: script or a leaked one stops working on its own); at most MAX_TOKEN_DAYS.
TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 3650

USERNAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
GROUP_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ -]{0,63}")
DOMAIN_RE = re.compile(
    r"(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?)*"
)
ADDRESS_RE = re.compile(r"[^\s@<>\"]{1,128}@[a-z0-9.-]{1,253}")
SERVER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")

_hasher = PasswordHasher()  # argon2id, t=3, m=64 MiB, p=4 (argon2-cffi 25 defaults)
# Verified against when the user does not exist, so a wrong name costs as long as a wrong
# password (no user enumeration by timing).


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against for unknown users (same cost, no timing oracle).

    Computed on first use: argon2 at import time cost every `elsectl` call half a second.
    """
    return _hasher.hash(secrets.token_hex(16))


class AccountError(ElseError):
    """A refused account operation (bad name, weak password, unknown user...)."""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    is_admin: bool
    active: bool
    email: str | None = None
    failed_logins: int = 0
    created_at: datetime | None = None
    last_login: datetime | None = None
    password_changed_at: datetime | None = None
    timezone: str | None = None  # the saved display zone; None: no choice saved

    @property
    def session_version(self) -> str:
        """Changes when the password changes, so older sessions stop working."""
        ts = self.password_changed_at
        return ts.isoformat() if ts else "0"


@dataclass(frozen=True, slots=True)
class LoginResult:
    user: User | None
    reason: str  # ok | bad | locked | busy | inactive


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """How hard log-ins are throttled (see the module docstring)."""

    account_failures: int = LOCK_AFTER  # per client address and account name
    address_failures: int = 30  # per client address, any names
    lock_seconds: int = LOCK_SECONDS
    concurrent: int = 4  # argon2 checks at once in this process (64 MiB each)
    per_address: int = 2  # argon2 checks at once from one client address
    wait_seconds: float = 20.0  # how long a log-in waits for a free check slot


class _Gate:
    """Caps the argon2 checks running at once, in all and per client address."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0  # the most checks seen at once (tests and bench read it)
        self.per_address: dict[str, int] = {}
        self.free = threading.Condition(self.lock)

    @contextmanager
    def slot(self, address: str, limits: LoginLimits) -> Iterator[bool]:
        """Yields True with a slot held, False when the address already has its share
        or no slot came free in time (the caller answers "busy", checks nothing)."""
        with self.lock:
            if self.per_address.get(address, 0) >= limits.per_address:
                got = False
            else:
                self.per_address[address] = self.per_address.get(address, 0) + 1
                got = self.free.wait_for(
                    lambda: self.running < limits.concurrent, timeout=limits.wait_seconds
                )
                if got:
                    self.running += 1
                    self.peak = max(self.peak, self.running)
                else:
                    self._leave(address)
        try:
            yield got
        finally:
            if got:
                with self.lock:
                    self.running -= 1
                    self._leave(address)
                    self.free.notify()

    def _leave(self, address: str) -> None:
        left = self.per_address.get(address, 1) - 1
        if left > 0:
            self.per_address[address] = left
        else:
            self.per_address.pop(address, None)


GATE = _Gate()


@dataclass(frozen=True, slots=True)
class Group:
    id: int
    name: str
    description: str | None
    servers: tuple[str, ...]
    domains: tuple[str, ...]
    addresses: tuple[str, ...]
    members: tuple[str, ...]
    #: "trusted": the group's domains count on the sender side only for mail that
    #: authenticated (SASL) or came from ``networks``; "any": for every sender.
    sender_trust: str = "trusted"
    networks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Token:
    id: int
    username: str
    name: str
    prefix: str
    created_at: datetime
    last_used: datetime | None
    expires_at: datetime | None
    revoked: bool


_USER_COLS = sql.SQL(
    "id, username, is_admin, active, email, failed_logins, created_at, last_login,"
    " password_changed_at, timezone"
)


def _user(row: dict[str, Any] | None) -> User | None:
    return User(**row) if row else None


def check_username(name: str) -> str:
    if not USERNAME_RE.fullmatch(name or ""):
        raise AccountError(
            "user name: 1-64 characters, letters, digits and . _ @ - (starting with a "
            "letter or digit)"
        )
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password too short: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"password too long: at most {MAX_PASSWORD} characters")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(check_password(password))


# -- users ----------------------------------------------------------------------------------


def get_user(conn: psycopg.Connection, username: str) -> User | None:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            sql.SQL("SELECT {} FROM users WHERE username = %s").format(_USER_COLS), (username,)
        )
        return _user(row.fetchone())


def get_user_by_id(conn: psycopg.Connection, user_id: int) -> User | None:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            sql.SQL("SELECT {} FROM users WHERE id = %s").format(_USER_COLS), (user_id,)
        )
        return _user(row.fetchone())


def list_users(conn: psycopg.Connection) -> list[User]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            sql.SQL("SELECT {} FROM users ORDER BY username").format(_USER_COLS)
        ).fetchall()
    return [User(**r) for r in rows]


def add_user(
    conn: psycopg.Connection,
    username: str,
    password: str,
    *,
    is_admin: bool = False,
    email: str | None = None,
) -> User:
    check_username(username)
    digest = hash_password(password)
    try:
        with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                sql.SQL(
                    "INSERT INTO users (username, password_hash, is_admin, email,"
                    " password_changed_at) VALUES (%s, %s, %s, %s, now()) RETURNING {}"
                ).format(_USER_COLS),
                (username, digest, is_admin, email),
            ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise AccountError(f"user {username!r} already exists") from None
    assert row is not None
    return User(**row)


def _require(conn: psycopg.Connection, username: str) -> User:
    user = get_user(conn, username)
    if user is None:
        raise AccountError(f"no such user {username!r}")
    return user


def set_password(conn: psycopg.Connection, username: str, password: str) -> None:
    """New password; also unlocks the account (an admin reset is how a user gets back in)
    and revokes its API tokens (a reset after a leak must shut out scripts too)."""
    digest = hash_password(password)
    _require(conn, username)
    with conn.transaction():
        conn.execute(
            "UPDATE users SET password_hash = %s, password_changed_at = clock_timestamp(),"
            " failed_logins = 0 WHERE username = %s",
            (digest, username),
        )
        conn.execute("DELETE FROM login_throttle WHERE kind = 'u' AND username = %s", (username,))
        # A reset (by an admin, or the user after a leak) must also shut the API out.
        _revoke_all(conn, username)


def _revoke_all(conn: psycopg.Connection, username: str) -> None:
    """Revoke every API token of ``username`` (inside the caller's transaction)."""
    conn.execute(
        "UPDATE api_tokens SET revoked = true FROM users u"
        " WHERE u.id = api_tokens.user_id AND u.username = %s AND NOT api_tokens.revoked",
        (username,),
    )


def change_password(conn: psycopg.Connection, username: str, old: str, new: str) -> None:
    """A user changing their own password must prove they know the current one."""
    row = conn.execute(
        "SELECT password_hash FROM users WHERE username = %s", (username,)
    ).fetchone()
    if row is None or not _verify(row[0], old):
        raise AccountError("the current password is not correct")
    set_password(conn, username, new)


def update_user(
    conn: psycopg.Connection,
    username: str,
    *,
    is_admin: bool | None = None,
    active: bool | None = None,
    email: str | None = None,
) -> User:
    _require(conn, username)
    with conn.transaction():
        if is_admin is not None:
            conn.execute("UPDATE users SET is_admin = %s WHERE username = %s", (is_admin, username))
        if active is not None:
            conn.execute(
                "UPDATE users SET active = %s, failed_logins = CASE WHEN %s THEN 0"
                " ELSE failed_logins END WHERE username = %s",
                (active, active, username),
            )
            if not active:  # a deactivated account's tokens stay dead when it comes back
                _revoke_all(conn, username)
        if email is not None:
            conn.execute(
                "UPDATE users SET email = NULLIF(%s, '') WHERE username = %s", (email, username)
            )
    return _require(conn, username)


@functools.cache
def time_zones() -> frozenset[str]:
    """The zone names this machine's zoneinfo knows (scanning them takes a while: once)."""
    return frozenset(zoneinfo.available_timezones())


def check_timezone(name: str | None) -> str | None:
    """A zone name zoneinfo knows, or None for "no choice" (empty); anything else refused.

    Checked against the installed list rather than by loading it: ``ZoneInfo`` also
    accepts file names such as ``posixrules`` that no user would mean.
    """
    name = (name or "").strip()
    if not name:
        return None
    if name not in time_zones():
        shown = name if len(name) <= 64 else name[:64] + "..."
        raise AccountError(
            f"unknown time zone {shown!r}: pick one from the list (e.g. Europe/Berlin)"
        )
    return name


def set_timezone(conn: psycopg.Connection, username: str, name: str | None) -> str | None:
    """Save the zone times are shown in for ``username`` (None/empty: the default again)."""
    zone = check_timezone(name)
    with conn.transaction():
        cur = conn.execute("UPDATE users SET timezone = %s WHERE username = %s", (zone, username))
    if cur.rowcount == 0:
        raise AccountError(f"no such user {username!r}")
    return zone


def get_timezone(conn: psycopg.Connection, username: str) -> str | None:
    """The saved zone of ``username`` (None: none saved)."""
    return _require(conn, username).timezone


def delete_user(conn: psycopg.Connection, username: str) -> None:
    with conn.transaction():
        cur = conn.execute("DELETE FROM users WHERE username = %s", (username,))
    if cur.rowcount == 0:
        raise AccountError(f"no such user {username!r}")


def unlock(conn: psycopg.Connection, username: str) -> None:
    _require(conn, username)
    with conn.transaction():
        conn.execute("UPDATE users SET failed_logins = 0 WHERE username = %s", (username,))
        conn.execute("DELETE FROM login_throttle WHERE kind = 'u' AND username = %s", (username,))


def _verify(digest: str | None, password: str) -> bool:
    try:
        return _hasher.verify(digest or _dummy_hash(), password) and digest is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def audit(  # noqa: PLR0913 - one argument per audit_log column, as callers read them
    conn: psycopg.Connection,
    actor: str | None,
    action: str,
    target: str | None = None,
    result: str | None = "ok",
    detail: dict[str, Any] | None = None,
) -> None:
    """One ``audit_log`` row (account and admin changes, logins), committed at once."""
    with conn.transaction():
        conn.execute(
            "INSERT INTO audit_log (actor, action, target, result, detail)"
            " VALUES (%s, %s, %s, %s, %s)",
            (
                (actor or "")[:200],
                action,
                (target or "")[:500] or None,
                result,
                Jsonb(detail) if detail else None,
            ),
        )


def locked_until(conn: psycopg.Connection, user: User) -> datetime | None:
    """When the last lock on ``user``'s name (from some client address) ends, or None."""
    row = conn.execute(
        "SELECT max(last_at) + make_interval(secs => %s) FROM login_throttle"
        " WHERE kind = 'u' AND username = %s AND failures >= %s"
        " AND last_at > now() - make_interval(secs => %s)",
        (LOCK_SECONDS, user.username, LOCK_AFTER, LOCK_SECONDS),
    ).fetchone()
    if row is None or row[0] is None:
        return None
    until: datetime = row[0]
    return until


def session_ended(conn: psycopg.Connection, username: str, sid: str) -> bool:
    """True when the session ``sid`` of ``username`` was logged out (sessions live in
    signed cookies; a log-out is remembered as its ``audit_log`` row)."""
    if not sid:
        return True
    row = conn.execute(
        "SELECT 1 FROM audit_log WHERE action = 'logout' AND target = %s"
        " AND detail->>'sid' = %s LIMIT 1",
        (username, sid),
    ).fetchone()
    return row is not None


_CHARGE = """
INSERT INTO login_throttle AS t (kind, address, username, failures, last_at)
VALUES (%(kind)s, %(address)s, %(username)s, 1, now())
ON CONFLICT (kind, address, username) DO UPDATE SET
    failures = CASE WHEN t.last_at < now() - make_interval(secs => %(secs)s) THEN 1
               ELSE t.failures + 1 END,
    last_at = now()
WHERE t.failures < %(limit)s OR t.last_at < now() - make_interval(secs => %(secs)s)
RETURNING failures
"""


def _charge(conn: psycopg.Connection, address: str, username: str, limits: LoginLimits) -> None:
    """Count this attempt as a failure before checking it; False when a limit is reached.

    One upsert per counter: the row lock makes parallel attempts queue on the counter, so
    exactly ``limit`` of them get through, however many arrive at once. The address row
    is always locked before the name row, so two attempts never wait on each other.
    """
    secs = limits.lock_seconds
    with conn.transaction():
        for kind, name, limit in (
            ("a", "", limits.address_failures),
            ("u", username, limits.account_failures),
        ):
            row = conn.execute(
                _CHARGE,
                {"kind": kind, "address": address, "username": name, "secs": secs, "limit": limit},
            ).fetchone()
            if row is None:
                raise _Refused  # leaves the transaction: the other counter is not charged


class _Refused(Exception):
    """A throttle counter is at its limit (rolls the charge transaction back)."""


def _refund(conn: psycopg.Connection, address: str, username: str) -> None:
    """A good log-in: the name's run of failures from this address ends, and this
    attempt no longer counts against the address."""
    with conn.transaction():
        conn.execute(
            "DELETE FROM login_throttle WHERE kind = 'u' AND address = %s AND username = %s",
            (address, username),
        )
        conn.execute(
            "UPDATE login_throttle SET failures = greatest(failures - 1, 0)"
            " WHERE kind = 'a' AND address = %s",
            (address,),
        )


def _forget_stale(conn: psycopg.Connection, limits: LoginLimits) -> None:
    """Delete counters older than the lock time (skipping rows others hold: no waits)."""
    conn.execute(
        "DELETE FROM login_throttle WHERE (kind, address, username) IN ("
        " SELECT kind, address, username FROM login_throttle"
        " WHERE last_at < now() - make_interval(secs => %s) LIMIT 1000"
        " FOR UPDATE SKIP LOCKED)",
        (limits.lock_seconds,),
    )


def authenticate(
    conn: psycopg.Connection,
    username: str,
    password: str,
    *,
    source: str | None = None,
    limits: LoginLimits | None = None,
) -> LoginResult:
    """Check a login: throttle, count, audit every outcome (see the module docstring).

    Order: a check slot (else "busy"), then the atomic charge of both counters (else
    "locked", without looking at the password or the account: a locked name and an
    unknown one are answered alike), then argon2; a good password refunds the charge.
    """
    limits = limits or LoginLimits()
    username = (username or "")[:64]
    password = (password or "")[:MAX_PASSWORD]
    address = (source or "")[:64]
    detail = {"source": source} if source else None
    with GATE.slot(address, limits) as got:
        if not got:
            audit(conn, username, "login.refused", username, "busy", detail)
            return LoginResult(None, "busy")
        try:
            _charge(conn, address, username, limits)
        except _Refused:
            audit(conn, username, "login.refused", username, "locked", detail)
            return LoginResult(None, "locked")
        with conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                sql.SQL("SELECT {}, password_hash FROM users WHERE username = %s").format(
                    _USER_COLS
                ),
                (username,),
            ).fetchone()
        if row is None:
            _verify(None, password)
            audit(conn, username, "login.failed", username, "unknown user", detail)
            _forget_stale(conn, limits)
            return LoginResult(None, "bad")
        digest = row.pop("password_hash")
        user = User(**row)
        if not _verify(digest, password):
            with conn.transaction():
                conn.execute(
                    "UPDATE users SET failed_logins = failed_logins + 1 WHERE id = %s", (user.id,)
                )
            audit(conn, username, "login.failed", username, "bad password", detail)
            _forget_stale(conn, limits)
            return LoginResult(None, "bad")
    if not user.active:
        audit(conn, username, "login.refused", username, "inactive", detail)
        return LoginResult(None, "inactive")
    _refund(conn, address, username)
    with conn.transaction():
        if _hasher.check_needs_rehash(digest):
            conn.execute(
                "UPDATE users SET password_hash = %s WHERE id = %s",
                (_hasher.hash(password), user.id),
            )
        conn.execute(
            "UPDATE users SET failed_logins = 0, last_login = now() WHERE id = %s", (user.id,)
        )
    audit(conn, username, "login", username, "ok", detail)
    return LoginResult(get_user_by_id(conn, user.id), "ok")


# -- API tokens -----------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_days(value: str | int | None) -> int:
    """A token lifetime in days from a form or the command line (empty: the default)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return TOKEN_DAYS
    try:
        days = int(value)
    except ValueError:
        raise AccountError("token lifetime: a number of days") from None
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise AccountError(f"token lifetime: 1 to {MAX_TOKEN_DAYS} days")
    return days


def create_token(
    conn: psycopg.Connection,
    username: str,
    name: str = "api",
    expires_at: datetime | None = None,
    *,
    days: int = TOKEN_DAYS,
) -> str:
    """A new token for ``username``, valid ``days`` days (or until ``expires_at``);
    the return value is the only time it is visible."""
    user = _require(conn, username)
    if expires_at is None:
        expires_at = now() + timedelta(days=token_days(days))
    name = (name or "api").strip()[:64] or "api"
    prefix = secrets.token_hex(4)
    token = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    with conn.transaction():
        conn.execute(
            "INSERT INTO api_tokens (user_id, name, prefix, token_hash, expires_at)"
            " VALUES (%s, %s, %s, %s, %s)",
            (user.id, name, prefix, _token_hash(token), expires_at),
        )
    return token


def list_tokens(conn: psycopg.Connection, username: str | None = None) -> list[Token]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT t.id, u.username, t.name, t.prefix, t.created_at, t.last_used,"
            " t.expires_at, t.revoked FROM api_tokens t JOIN users u ON u.id = t.user_id"
            " WHERE %s::text IS NULL OR u.username = %s ORDER BY u.username, t.created_at",
            (username, username),
        ).fetchall()
    return [Token(**r) for r in rows]


def revoke_token(conn: psycopg.Connection, username: str, prefix: str) -> None:
    with conn.transaction():
        cur = conn.execute(
            "UPDATE api_tokens SET revoked = true FROM users u"
            " WHERE u.id = api_tokens.user_id AND u.username = %s AND api_tokens.prefix = %s",
            (username, prefix),
        )
    if cur.rowcount == 0:
        raise AccountError(f"no token {prefix!r} for user {username!r}")


def user_for_token(conn: psycopg.Connection, token: str, *, touch: bool = True) -> User | None:
    """The active user a bearer token belongs to, or None (unknown, revoked, expired).

    ``touch=False`` does not record the token's use: on a read-only standby, while the
    primary is down, the API still answers (docs/scale.md)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    digest = _token_hash(token)
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT t.id AS token_id, t.token_hash FROM api_tokens t JOIN users u"
            " ON u.id = t.user_id WHERE t.token_hash = %s AND NOT t.revoked AND u.active"
            " AND (t.expires_at IS NULL OR t.expires_at > now())",
            (digest,),
        ).fetchone()
        if row is None or not hmac.compare_digest(row["token_hash"], digest):
            return None
        if not touch:
            uid = cur.execute(
                "SELECT user_id FROM api_tokens WHERE id = %s", (row["token_id"],)
            ).fetchone()
            return get_user_by_id(conn, uid["user_id"]) if uid else None
        with conn.transaction():
            uid = cur.execute(
                "UPDATE api_tokens SET last_used = now() WHERE id = %s RETURNING user_id",
                (row["token_id"],),
            ).fetchone()
    return get_user_by_id(conn, uid["user_id"]) if uid else None


# -- groups ---------------------------------------------------------------------------------


def check_group_name(name: str) -> str:
    name = (name or "").strip()
    if not GROUP_RE.fullmatch(name):
        raise AccountError("group name: 1-64 letters, digits, spaces and . _ -")
    return name


def normalise_domain(text: str) -> str:
    d = text.strip().lower().lstrip("@").rstrip(".")
    if not DOMAIN_RE.fullmatch(d):
        raise AccountError(f"not a domain name: {text!r}")
    return d


def normalise_address(text: str) -> str:
    a = text.strip().lower()
    if not ADDRESS_RE.fullmatch(a):
        raise AccountError(f"not an e-mail address: {text!r}")
    return a


def normalise_network(text: str) -> str:
    """A network in CIDR notation (a single address is a /32 or /128)."""
    try:
        return str(ipaddress.ip_network(text.strip(), strict=False))
    except ValueError:
        raise AccountError(f"not a network (CIDR, e.g. 192.0.2.0/24): {text[:60]!r}") from None


def check_server(text: str) -> str:
    s = text.strip()
    if not SERVER_RE.fullmatch(s):
        raise AccountError(f"not a server name: {text!r}")
    return s


def add_group(conn: psycopg.Connection, name: str, description: str | None = None) -> int:
    name = check_group_name(name)
    try:
        with conn.transaction():
            row = conn.execute(
                "INSERT INTO groups (name, description) VALUES (%s, NULLIF(%s, '')) RETURNING id",
                (name, (description or "").strip()[:500]),
            ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise AccountError(f"group {name!r} already exists") from None
    assert row is not None
    return int(row[0])


def _group_id(conn: psycopg.Connection, name: str) -> int:
    row = conn.execute("SELECT id FROM groups WHERE name = %s", (name,)).fetchone()
    if row is None:
        raise AccountError(f"no such group {name!r}")
    return int(row[0])


def delete_group(conn: psycopg.Connection, name: str) -> None:
    gid = _group_id(conn, name)
    with conn.transaction():
        conn.execute("DELETE FROM groups WHERE id = %s", (gid,))


#: kind -> (table, column, normaliser)
_MEMBER_KINDS = {
    "server": ("group_servers", "server", check_server),
    "domain": ("group_domains", "domain", normalise_domain),
    "address": ("group_addresses", "address", normalise_address),
    "network": ("group_networks", "network", normalise_network),
}
SENDER_TRUST = ("trusted", "any")


def set_sender_trust(conn: psycopg.Connection, group: str, value: str) -> str:
    """When the group's domains count on the sender side (see :class:`Group`)."""
    if value not in SENDER_TRUST:
        raise AccountError(f"sender trust: one of {', '.join(SENDER_TRUST)}")
    gid = _group_id(conn, group)
    with conn.transaction():
        conn.execute("UPDATE groups SET sender_trust = %s WHERE id = %s", (value, gid))
    return value


def group_add(conn: psycopg.Connection, group: str, kind: str, value: str) -> str:
    """Add a member (``user``), server, domain or address to a group; idempotent."""
    gid = _group_id(conn, group)
    if kind == "user":
        user = _require(conn, value)
        with conn.transaction():
            conn.execute(
                "INSERT INTO group_members (group_id, user_id) VALUES (%s, %s)"
                " ON CONFLICT DO NOTHING",
                (gid, user.id),
            )
        return user.username
    if kind not in _MEMBER_KINDS:
        raise AccountError(f"unknown group entry kind {kind!r}")
    table, column, norm = _MEMBER_KINDS[kind]
    v = norm(value)
    with conn.transaction():
        conn.execute(
            sql.SQL("INSERT INTO {} (group_id, {}) VALUES (%s, %s) ON CONFLICT DO NOTHING").format(
                sql.Identifier(table), sql.Identifier(column)
            ),
            (gid, v),
        )
    return v


def group_remove(conn: psycopg.Connection, group: str, kind: str, value: str) -> None:
    gid = _group_id(conn, group)
    with conn.transaction():
        if kind == "user":
            conn.execute(
                "DELETE FROM group_members WHERE group_id = %s AND user_id ="
                " (SELECT id FROM users WHERE username = %s)",
                (gid, value),
            )
            return
        if kind not in _MEMBER_KINDS:
            raise AccountError(f"unknown group entry kind {kind!r}")
        table, column, _norm = _MEMBER_KINDS[kind]
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE group_id = %s AND {} = %s").format(
                sql.Identifier(table), sql.Identifier(column)
            ),
            (gid, value.strip()),
        )


def list_groups(conn: psycopg.Connection, user_id: int | None = None) -> list[Group]:
    """Every group, or the groups ``user_id`` belongs to."""
    rows = conn.execute(
        "SELECT g.id, g.name, g.description,"
        " ARRAY(SELECT server FROM group_servers s WHERE s.group_id = g.id ORDER BY 1),"
        " ARRAY(SELECT domain FROM group_domains d WHERE d.group_id = g.id ORDER BY 1),"
        " ARRAY(SELECT address FROM group_addresses a WHERE a.group_id = g.id ORDER BY 1),"
        " ARRAY(SELECT u.username FROM group_members m JOIN users u ON u.id = m.user_id"
        "       WHERE m.group_id = g.id ORDER BY 1),"
        " g.sender_trust,"
        " ARRAY(SELECT n.network::text FROM group_networks n WHERE n.group_id = g.id ORDER BY 1)"
        " FROM groups g WHERE %s::bigint IS NULL OR EXISTS (SELECT 1 FROM group_members m"
        "   WHERE m.group_id = g.id AND m.user_id = %s) ORDER BY g.name",
        (user_id, user_id),
    ).fetchall()
    return [
        Group(
            r[0], r[1], r[2], tuple(r[3]), tuple(r[4]), tuple(r[5]), tuple(r[6]), r[7], tuple(r[8])
        )
        for r in rows
    ]


def group_scope(group: Group) -> Scope:
    """What one group's members may see (a group with no server: every server)."""
    return Scope(
        servers=group.servers or None,
        domains=group.domains,
        addresses=group.addresses,
        senders=(sender_rule(group),) if group.sender_trust != "any" else None,
    )


def sender_rule(group: Group) -> SenderRule:
    """The sender side of one group (see :class:`else_core.scope.SenderRule`)."""
    return SenderRule(group.domains, group.addresses, group.sender_trust != "any", group.networks)


def scope_for(conn: psycopg.Connection, user: User) -> Scope | None:
    """None (everything) for admins; the union of the user's groups otherwise.

    A user in no group sees nothing (empty tuples). A user whose groups bind different
    servers to different domains gets the union of both lists, which may also show one
    group's domain on another group's server: bind such users to one group per server
    set if that matters.
    """
    if user.is_admin:
        return None
    groups = list_groups(conn, user.id)
    if not groups:
        return Scope(servers=(), domains=(), addresses=())
    any_server = any(not g.servers for g in groups)
    servers = None if any_server else tuple(sorted({s for g in groups for s in g.servers}))
    # Every group's sender side on its own terms: one group's trusted networks never
    # vouch for another group's domains.
    any_trusted = any(g.sender_trust != "any" for g in groups)
    return Scope(
        servers=servers,
        domains=tuple(sorted({d for g in groups for d in g.domains})),
        addresses=tuple(sorted({a for g in groups for a in g.addresses})),
        senders=tuple(sender_rule(g) for g in groups) if any_trusted else None,
    )


def now() -> datetime:
    return datetime.now(UTC)
