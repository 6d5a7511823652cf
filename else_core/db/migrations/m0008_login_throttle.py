"""Log-in throttling per client address, and per client address and account name.

Why a table and not ``users.failed_logins``: the lock-out must (1) be one atomic
check-and-count, so parallel wrong passwords cannot all reach the password check, (2)
treat unknown names exactly like real ones, so the answer does not tell which accounts
exist, and (3) be keyed by the client address, so an anonymous burst from elsewhere
cannot lock the owner out. ``kind`` is ``a`` (all names from one address) or ``u`` (one
address and one name); ``username`` is '' for ``a`` rows. Rows older than the lock time
mean nothing and are deleted by the next failure.
"""

SQL = r"""
CREATE TABLE login_throttle (
    kind      char(1) NOT NULL CHECK (kind IN ('a', 'u')),
    address   text NOT NULL,
    username  text NOT NULL DEFAULT '',
    failures  integer NOT NULL DEFAULT 0,
    last_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, address, username)
);
CREATE INDEX login_throttle_user ON login_throttle (username) WHERE kind = 'u';
CREATE INDEX login_throttle_last ON login_throttle (last_at);
"""
