"""Log-in throttling per client address (and account name); trusted senders for groups.

Why a table and not ``users.failed_logins``: the lock-out must (1) be one atomic
check-and-count, so parallel wrong passwords cannot all reach the password check, (2)
treat unknown names exactly like real ones, so the answer does not tell which accounts
exist, and (3) be keyed by the client address, so an anonymous burst from elsewhere
cannot lock the owner out. ``kind`` is ``a`` (all names from one address) or ``u`` (one
address and one name); ``username`` is '' for ``a`` rows. Rows older than the lock time
mean nothing and are deleted by the next failure.

Groups: ``sender_trust`` says when a group's domains and addresses count on the
*sender* side. ``any``: every e-mail with such a sender (anyone on the Internet can
forge ``MAIL FROM``, and so make mail to other tenants visible). ``trusted``: only
e-mails that authenticated (SASL) or came from one of the group's own networks
(``group_networks``). Existing groups keep ``any`` (what they showed until now); new
groups get ``trusted``. ``else_inet`` reads a logged client address as ``inet`` and
gives NULL for anything else (a crafted log must not make a search fail).
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

ALTER TABLE groups ADD COLUMN sender_trust text NOT NULL DEFAULT 'any'
    CONSTRAINT groups_sender_trust CHECK (sender_trust IN ('any', 'trusted'));
ALTER TABLE groups ALTER COLUMN sender_trust SET DEFAULT 'trusted';
CREATE TABLE group_networks (
    group_id bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    network  cidr NOT NULL,
    PRIMARY KEY (group_id, network)
);

CREATE FUNCTION else_inet(p text) RETURNS inet
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN p::inet;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;
"""
