"""Records that flow through ELSE: a log line, the Postfix event parsed from it.

:class:`LogLine` is the syslog envelope; :class:`Event` is what the parser understood of
the message. Every consumer (correlator, report, store) reads these and nothing else,
so the vocabulary below is a contract; keep it in step with ``parser.py``.

Event kinds (``Event.kind``) and their fields (``Event.f``; absent fields are missing
keys, never empty strings, except where a value can legitimately be empty like the
null sender ``""``):

Sessions (smtpd, also postscreen where noted)
  ``connect``        client_host, client_ip, [client_port]
  ``disconnect``     client_host, client_ip, counters (dict name -> (ok, total) ints)
  ``conn_error``     error ("lost connection"|"timeout"|"too many errors"|"improper pipelining"),
                     stage, client_host, client_ip
  ``client``         qid; client_host, client_ip, [client_port, sasl_method, sasl_username,
                     sasl_sender, orig_queue_id, orig_client]
  ``tls``            direction ("in"|"out"), peer_host, peer_ip, protocol, cipher,
                     [level (Anonymous|Untrusted|Trusted|Verified; none before Postfix 2.5)]
  ``sasl_fail``      client_host, client_ip, method, reason, [sasl_username]
  ``action``         an smtpd/cleanup/postscreen access or content decision:
                     [qid], action (reject|reject_warning|defer|defer_if_permit|hold|discard|
                     filter|redirect|prepend|replace|warning|milter-reject|milter-hold|
                     milter-discard|proxy-reject|proxy-accept|...), stage (RCPT|MAIL|CONNECT|
                     HELO|EHLO|DATA|END-OF-MESSAGE|VRFY|ETRN|header|body|...),
                     client_host, client_ip, [code, dsn, reason, sender, recipient, proto,
                     helo, detail (header/body text for checks)]
  ``ps_connect``     client_ip, client_port               (postscreen CONNECT)
  ``ps_pass``        client_ip, pass ("NEW"|"OLD")
  ``ps_event``       event (PREGREET|HANGUP|DNSBL|COMMAND PIPELINING|BARE NEWLINE|
                     NON-SMTP COMMAND|WHITELISTED|ALLOWLISTED|BLACKLISTED|DENYLISTED|...),
                     client_ip, [detail, rank]
  ``ps_disconnect``  client_ip
  ``dnsbl``          client_ip, domain, result                       (dnsblog)
  ``anvil``          stat, value, [client]                          (anvil statistics)

Queue files
  ``pickup``         qid, uid, sender, [orig_id]        (local submission; orig_id after requeue)
  ``message_id``     qid, message_id ("" when Postfix logs message-id=<>)
  ``resent_message_id`` qid, message_id
  ``subject``        qid, subject (cleanup "info: header Subject: ..." from the postfix
                     role's header_checks INFO rule; RFC 2047 decoded)
  ``qmgr_from``      qid, sender, size, nrcpt
  ``expired``        qid, sender                        (qmgr: status=expired, returned to sender)
  ``removed``        qid                                (qmgr: end of the queue file's life)
  ``skipped``        qid                                (qmgr: skipped, still being delivered)
  ``delivery``       qid, to, status (sent|deferred|bounced|expired|deliverable|undeliverable;
                     another word only when Postfix wrote "(text)" after it),
                     relay, [orig_to, relay_host, relay_ip, relay_port, conn_use, delay
                     (float s), delays (4 floats), dsn, response, forwarded_as (new QID),
                     queued_as (the next hop's QID), tls (Postfix >= 3.11 TLS summary),
                     soft_bounce (True: soft_bounce=yes logged SOFTBOUNCE; status is
                     then "deferred", as the mail stays queued)]
  ``smtp_error``     [qid], error, [peer_host, peer_ip]   (smtp/lmtp client problems with no
                     recipient: connect to ..., lost connection with ..., host ... said ...)
  ``bounce``         qid, notify ("non-delivery"|"delivery"|"delay"|"success"),
                     to ("sender"|"postmaster"), new_qid
  ``postsuper``      qid, op ("removed"|"requeued"|"hold"|"released"|"expired")
  ``postsuper_summary`` op (the same, or "renamed" for -s inode fixes), count
  ``amavis``         result ("Passed"|"Blocked"), category, [qid (Queue-ID), message_id,
                     queued_as (list), sender, recipients (list), client_ip, hits, size]

Everything else
  ``warning``        level (warning|error|fatal|panic), text, [qid (also when the text
                     starts with it: "warning: QID: ...")]
  ``master``         text (daemon started/reload/terminating ...)
  ``info``           text: a recognised informational Postfix line with no bearing on mail
                     (statistics, scache, tlsmgr, postfix-script, postlogd ...)
  ``other``          a Postfix line the parser does not recognise (counted as unknown)
  ``foreign``        a line from a program that is not Postfix (dovecot, opendkim ...)
  ``malformed``      a line whose syslog envelope could not be read at all
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, cast

from else_core.events import Fields

# ``dict`` itself, typed as making an empty Fields: calling the TypedDict costs more.
_no_fields = cast(Callable[[], Fields], dict)
# Event's "no fields given": never handed out, every Event without fields gets its own dict.
_NONE: Fields = {}


def field_values(record: Any) -> tuple[Any, ...]:
    """A dataclass's field values in order: what its ``__reduce__`` rebuilds it from.

    The hot records write their ``__init__`` out for mypyc, and a compiled class's
    ``__new__`` runs it: pickle and copy must call the class with every field, not
    create it empty and fill its slots (the dataclass way).
    """
    return tuple([getattr(record, f.name) for f in fields(record)])


@dataclass(slots=True, init=False)
class LogLine:
    """One syslog line split into its envelope.

    ``seq`` orders lines: the line number across the input files for ``elsectl parse``,
    the raw event id in PostgreSQL for the live worker. ``ts`` is timezone-aware, or
    None for a malformed line.
    """

    seq: int
    ts: datetime | None
    host: str
    program: str
    pid: int | None
    message: str
    raw: str

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), field_values(self))  # see records.field_values

    # Written out (init=False): mypyc compiles a method it sees, but leaves a dataclass's
    # generated __init__ to the dataclasses module, i.e. interpreted, once per log line.
    def __init__(  # noqa: PLR0913 - one argument per field
        self,
        seq: int,
        ts: datetime | None,
        host: str,
        program: str,
        pid: int | None,
        message: str,
        raw: str = "",
    ) -> None:
        self.seq = seq
        self.ts = ts
        self.host = host
        self.program = program
        self.pid = pid
        self.message = message
        self.raw = raw

    @property
    def service(self) -> str:
        """The daemon name: the last component of ``postfix-in/submission/smtpd``."""
        return self.program.rpartition("/")[2]

    @property
    def instance(self) -> str:
        """The syslog_name without the service (``postfix-in/submission``)."""
        return self.program.rpartition("/")[0]


@dataclass(slots=True, init=False)
class Event:
    """What the parser understood of one line."""

    line: LogLine
    kind: str
    qid: str | None
    #: Typed by :data:`else_core.events.Fields`; which fields a kind has: ``events.FIELDS``.
    f: Fields

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), field_values(self))  # see records.field_values

    # Written out for mypyc, as LogLine's: one Event per log line.
    # (``f`` defaults to a shared sentinel, not None, so that mypy still checks a dict
    # literal passed here against the Fields TypedDict.)
    def __init__(self, line: LogLine, kind: str, qid: str | None = None, f: Fields = _NONE) -> None:
        self.line = line
        self.kind = kind
        self.qid = qid
        self.f = _no_fields() if f is _NONE else f

    @property
    def daemon(self) -> str:
        return self.line.service

    @property
    def is_postfix(self) -> bool:
        return self.kind not in ("foreign", "malformed", "amavis")
