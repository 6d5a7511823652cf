"""Search tables: e-mails, their transactions, recipients, delivery attempts, rejects.

Rows are written by the ingest worker and ``elsectl import`` (else_core.store.writer),
always per e-mail as a whole: delete its rows, insert the new ones. There are no
foreign keys on ``email_id``: the writer is the only writer and deletes children
itself, and RI triggers would halve the COPY rate of a bulk import. ``emails.doc`` keeps
the e-mail's ``to_dict(detail=True)`` so the CLI and the WUI show exactly what the
correlator said; the other columns exist to be searched.
"""

SQL = r"""
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Trigram (GIN) indexes get a 16 MB pending list: bulk writes append to it and it is
-- merged in sorted batches, which halves the cost of an import; autovacuum (insert
-- threshold) keeps it short for searches.

CREATE TABLE emails (
    id             text PRIMARY KEY,
    message_id     text,
    host           text NOT NULL,
    sender         text,              -- as logged ('' is the null sender)
    sender_domain  text,              -- lower case
    size           bigint,
    client         text,
    client_ip      text,
    helo           text,
    sasl_username  text,
    first_seen     timestamptz,
    last_seen      timestamptz,
    status         text NOT NULL,
    complete       boolean NOT NULL,
    direction      text NOT NULL DEFAULT 'unknown',   -- incoming | outgoing (by origin)
    nrcpt          integer NOT NULL DEFAULT 0,
    queue_ids      text[] NOT NULL DEFAULT '{}',
    doc            json NOT NULL      -- json keeps the key order of to_dict()
) WITH (toast_tuple_target = 128);
-- ^ the document (about 1 kB) goes to TOAST, so a row is ~200 bytes: searches and
--   statistics scan ten times fewer pages and only fetch documents for the rows shown.
CREATE INDEX emails_first_seen ON emails (first_seen, id);
CREATE INDEX emails_last_seen ON emails (last_seen);
CREATE INDEX emails_message_id ON emails (message_id text_pattern_ops);
CREATE INDEX emails_sender ON emails (lower(sender) text_pattern_ops);
CREATE INDEX emails_sender_trgm ON emails USING gin (lower(sender) gin_trgm_ops)
    WITH (gin_pending_list_limit = 16384);
CREATE INDEX emails_sender_domain ON emails (sender_domain text_pattern_ops);
CREATE INDEX emails_status_first_seen ON emails (status, first_seen);
CREATE INDEX emails_client_ip ON emails (client_ip text_pattern_ops);
CREATE INDEX emails_client ON emails (lower(client) text_pattern_ops);
CREATE INDEX emails_sasl ON emails (lower(sasl_username) text_pattern_ops)
    WHERE sasl_username IS NOT NULL;
CREATE INDEX emails_open ON emails (last_seen) WHERE NOT complete;

CREATE TABLE transactions (
    email_id       text NOT NULL,
    idx            integer NOT NULL,
    host           text NOT NULL,
    queue_id       text NOT NULL,
    origin         text,
    parent         text,
    parent_host    text,
    first_seen     timestamptz,
    last_seen      timestamptz,
    sender         text,
    size           bigint,
    nrcpt          integer,
    message_id     text,
    client         text,
    client_ip      text,
    helo           text,
    sasl_username  text,
    state          text,
    seqs           bigint[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (email_id, idx)
);
CREATE INDEX transactions_queue_id ON transactions (queue_id text_pattern_ops);
CREATE INDEX transactions_queue_id_trgm ON transactions USING gin (queue_id gin_trgm_ops)
    WITH (gin_pending_list_limit = 16384);
CREATE INDEX transactions_parent ON transactions (parent, parent_host) WHERE parent IS NOT NULL;

-- Per-recipient final outcome across every hop (what "recipient" and "status" search).
CREATE TABLE email_recipients (
    email_id      text NOT NULL,
    idx           integer NOT NULL,
    address       text NOT NULL,
    domain        text,
    orig_address  text,
    status        text NOT NULL,
    relay         text,
    dsn           text,
    response      text,
    attempts      integer NOT NULL DEFAULT 0,
    at            timestamptz,
    host          text,
    queue_id      text,
    delay         double precision,
    -- copies of the e-mail's, so statistics need no join with emails
    first_seen    timestamptz,
    email_host    text,
    PRIMARY KEY (email_id, idx)
);
CREATE INDEX email_recipients_first_seen ON email_recipients (first_seen);
CREATE INDEX email_recipients_address ON email_recipients (lower(address) text_pattern_ops);
CREATE INDEX email_recipients_address_trgm ON email_recipients
    USING gin (lower(address) gin_trgm_ops) WITH (gin_pending_list_limit = 16384);
CREATE INDEX email_recipients_domain ON email_recipients (domain text_pattern_ops);
CREATE INDEX email_recipients_orig ON email_recipients (lower(orig_address) text_pattern_ops)
    WHERE orig_address IS NOT NULL;
CREATE INDEX email_recipients_relay ON email_recipients (lower(relay) text_pattern_ops);
CREATE INDEX email_recipients_dsn ON email_recipients (dsn);
CREATE INDEX email_recipients_response_trgm ON email_recipients
    USING gin (response gin_trgm_ops) WITH (gin_pending_list_limit = 16384);

-- Every delivery attempt (one to= line), for the detail view and deferral statistics.
CREATE TABLE deliveries (
    email_id   text NOT NULL,
    idx        integer NOT NULL,
    seq        bigint,
    at         timestamptz,
    host       text,
    queue_id   text,
    recipient  text,
    orig_to    text,
    status     text,
    relay      text,
    dsn        text,
    response   text,
    delay      double precision,
    delays     double precision[],
    conn_use   integer,
    daemon     text,
    PRIMARY KEY (email_id, idx)
);
CREATE INDEX deliveries_at ON deliveries (at);

CREATE TABLE rejects (
    seq         bigint PRIMARY KEY,      -- the raw line (raw_events.id) it came from
    email_id    text,
    at          timestamptz,
    host        text,
    queue_id    text,
    daemon      text,
    action      text,
    stage       text,
    code        text,
    dsn         text,
    reason      text,
    client      text,
    client_ip   text,
    sender      text,
    recipient   text,
    helo        text,
    proto       text
);
CREATE INDEX rejects_at ON rejects (at);
CREATE INDEX rejects_email ON rejects (email_id) WHERE email_id IS NOT NULL;
CREATE INDEX rejects_sender ON rejects (lower(sender) text_pattern_ops);
CREATE INDEX rejects_recipient ON rejects (lower(recipient) text_pattern_ops);
CREATE INDEX rejects_client_ip ON rejects (client_ip text_pattern_ops);
CREATE INDEX rejects_reason_trgm ON rejects USING gin (reason gin_trgm_ops)
    WITH (gin_pending_list_limit = 16384);

-- Links between queue files (queued as, forwarded as, notification, content filter):
-- a view over transactions, so it can never disagree with them.
CREATE VIEW links AS
    SELECT p.email_id AS from_email, p.host AS from_host, p.queue_id AS from_queue_id,
           c.email_id AS to_email, c.host AS to_host, c.queue_id AS to_queue_id, c.origin AS kind
    FROM transactions c
    JOIN transactions p ON p.queue_id = c.parent AND p.host = COALESCE(c.parent_host, c.host);
"""
