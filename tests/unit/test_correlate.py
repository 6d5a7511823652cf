"""Correlation: each case is a small, realistic log and the per-recipient outcome it means.

The logs are written the way Postfix 3.x writes them; the expectations come from
reading them as a mail administrator would, not from running the code.
"""

from __future__ import annotations

import pickle
from datetime import UTC

import pytest

from else_core.correlate import Correlator
from else_core.envelope import ClassicClock, EnvelopeParser
from else_core.model import Email, Reject
from else_core.parser import parse


def run(log: str, chunks: int = 1) -> list[Email | Reject]:
    """Correlate ``log``; with ``chunks`` > 1, pickle and restore the state between chunks."""
    env = EnvelopeParser(ClassicClock(2024, UTC))
    lines = [ln.strip() for ln in log.strip().splitlines() if ln.strip()]
    corr = Correlator()
    out: list[Email | Reject] = []
    step = max(1, len(lines) // chunks)
    for i, raw in enumerate(lines, 1):
        corr.feed(parse(env.split(raw, i)))
        out.extend(corr.drain())
        if chunks > 1 and i % step == 0:
            corr = pickle.loads(pickle.dumps(corr))
    out.extend(corr.finish())
    return out


def emails(out: list[Email | Reject]) -> list[Email]:
    return [r for r in out if isinstance(r, Email)]


def statuses(mail: Email) -> dict[str, str]:
    return {r.address: r.status for r in mail.recipients}


MIXED = """
Jun  1 10:00:00 mx postfix/smtpd[100]: connect from c.example[192.0.2.1]
Jun  1 10:00:01 mx postfix/smtpd[100]: A10001: client=c.example[192.0.2.1]
Jun  1 10:00:01 mx postfix/cleanup[101]: A10001: message-id=<mixed@c.example>
Jun  1 10:00:01 mx postfix/qmgr[102]: A10001: from=<s@c.example>, size=900, nrcpt=3 (queue active)
Jun  1 10:00:01 mx postfix/smtpd[100]: disconnect from c.example[192.0.2.1] ehlo=1 mail=1 rcpt=3 data=1 quit=1 commands=7
Jun  1 10:00:02 mx postfix/smtp[103]: A10001: to=<ok@r.example>, relay=mx.r.example[192.0.2.2]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as ZZZ1)
Jun  1 10:00:02 mx postfix/smtp[103]: A10001: to=<later@r.example>, relay=mx.r.example[192.0.2.2]:25, delay=1, delays=0/0/0.5/0.5, dsn=4.2.0, status=deferred (host mx.r.example[192.0.2.2] said: 450 4.2.0 Greylisted (in reply to RCPT TO command))
Jun  1 10:00:02 mx postfix/smtp[103]: A10001: to=<gone@r.example>, relay=mx.r.example[192.0.2.2]:25, delay=1, delays=0/0/0.5/0.5, dsn=5.1.1, status=bounced (host mx.r.example[192.0.2.2] said: 550 5.1.1 User unknown (in reply to RCPT TO command))
Jun  1 10:00:02 mx postfix/cleanup[101]: B20002: message-id=<20240601100002.B20002@mx.example>
Jun  1 10:00:02 mx postfix/bounce[104]: A10001: sender non-delivery notification: B20002
Jun  1 10:00:02 mx postfix/qmgr[102]: B20002: from=<>, size=2000, nrcpt=1 (queue active)
Jun  1 10:00:03 mx postfix/smtp[103]: B20002: to=<s@c.example>, relay=c.example[192.0.2.1]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok)
Jun  1 10:00:03 mx postfix/qmgr[102]: B20002: removed
"""

DEFERRED_THEN_SENT = """
Jun  1 10:00:01 mx postfix/pickup[1]: C30003: uid=1000 from=<u@mx.example>
Jun  1 10:00:01 mx postfix/cleanup[2]: C30003: message-id=<retry@mx.example>
Jun  1 10:00:01 mx postfix/qmgr[3]: C30003: from=<u@mx.example>, size=500, nrcpt=1 (queue active)
Jun  1 10:00:02 mx postfix/smtp[4]: C30003: to=<r@r.example>, relay=none, delay=1, delays=0/0/1/0, dsn=4.4.1, status=deferred (connect to mx.r.example[192.0.2.2]:25: Connection refused)
Jun  1 10:10:02 mx postfix/qmgr[3]: C30003: from=<u@mx.example>, size=500, nrcpt=1 (queue active)
Jun  1 10:10:03 mx postfix/smtp[4]: C30003: to=<r@r.example>, relay=mx.r.example[192.0.2.2]:25, delay=602, delays=601/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok)
Jun  1 10:10:03 mx postfix/qmgr[3]: C30003: removed
"""

EXPIRED = """
Jun  1 10:00:01 mx postfix/pickup[1]: D40004: uid=1000 from=<u@mx.example>
Jun  1 10:00:01 mx postfix/cleanup[2]: D40004: message-id=<exp@mx.example>
Jun  1 10:00:01 mx postfix/qmgr[3]: D40004: from=<u@mx.example>, size=500, nrcpt=1 (queue active)
Jun  1 10:00:02 mx postfix/smtp[4]: D40004: to=<r@r.example>, relay=none, delay=1, delays=0/0/1/0, dsn=4.4.1, status=deferred (connect to mx.r.example[192.0.2.2]:25: Connection refused)
Jun  6 10:00:02 mx postfix/qmgr[3]: D40004: from=<u@mx.example>, status=expired, returned to sender
Jun  6 10:00:02 mx postfix/cleanup[2]: E50005: message-id=<20240606100002.E50005@mx.example>
Jun  6 10:00:02 mx postfix/bounce[5]: D40004: sender non-delivery notification: E50005
Jun  6 10:00:02 mx postfix/qmgr[3]: D40004: removed
Jun  6 10:00:02 mx postfix/qmgr[3]: E50005: from=<>, size=2500, nrcpt=1 (queue active)
Jun  6 10:00:02 mx postfix/local[6]: E50005: to=<u@mx.example>, relay=local, delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, status=sent (delivered to mailbox)
Jun  6 10:00:02 mx postfix/qmgr[3]: E50005: removed
"""

FILTER_XFORWARD = """
Jun  1 10:00:00 mx postfix/smtpd[10]: connect from c.example[192.0.2.1]
Jun  1 10:00:01 mx postfix/smtpd[10]: 3pJjg82Vycz1JBJG: client=c.example[192.0.2.1]
Jun  1 10:00:01 mx postfix/cleanup[11]: 3pJjg82Vycz1JBJG: message-id=<f@c.example>
Jun  1 10:00:01 mx postfix/qmgr[12]: 3pJjg82Vycz1JBJG: from=<s@c.example>, size=800, nrcpt=2 (queue active)
Jun  1 10:00:01 mx postfix/smtpd[10]: disconnect from c.example[192.0.2.1] ehlo=1 mail=1 rcpt=2 data=1 quit=1 commands=6
Jun  1 10:00:02 mx postfix/smtpd[20]: connect from localhost[127.0.0.1]
Jun  1 10:00:02 mx postfix/smtpd[20]: 3pJjgB6dpKz1JBPW: client=localhost[127.0.0.1], orig_queue_id=3pJjg82Vycz1JBJG, orig_client=c.example[192.0.2.1]
Jun  1 10:00:02 mx postfix/cleanup[11]: 3pJjgB6dpKz1JBPW: message-id=<f@c.example>
Jun  1 10:00:02 mx postfix/qmgr[12]: 3pJjgB6dpKz1JBPW: from=<s@c.example>, size=1200, nrcpt=2 (queue active)
Jun  1 10:00:02 mx amavis[30]: (00030-01) Passed CLEAN {RelayedInbound}, [192.0.2.1]:4711 <s@c.example> -> <a@mx.example>,<b@mx.example>, Queue-ID: 3pJjg82Vycz1JBJG, Message-ID: <f@c.example>, mail_id: x, Hits: -1, size: 800, queued_as: 3pJjgB6dpKz1JBPW, 100 ms
Jun  1 10:00:02 mx postfix/smtp[13]: 3pJjg82Vycz1JBJG: to=<a@mx.example>, relay=127.0.0.1[127.0.0.1]:10024, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 3pJjgB6dpKz1JBPW)
Jun  1 10:00:02 mx postfix/smtp[13]: 3pJjg82Vycz1JBJG: to=<b@mx.example>, relay=127.0.0.1[127.0.0.1]:10024, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 3pJjgB6dpKz1JBPW)
Jun  1 10:00:02 mx postfix/qmgr[12]: 3pJjg82Vycz1JBJG: removed
Jun  1 10:00:02 mx postfix/smtpd[20]: disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=2 data=1 quit=1 commands=6
Jun  1 10:00:03 mx postfix/lmtp[14]: 3pJjgB6dpKz1JBPW: to=<a@mx.example>, relay=mx.example[private/dovecot-lmtp], delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 <a@mx.example> x Saved)
Jun  1 10:00:03 mx postfix/lmtp[14]: 3pJjgB6dpKz1JBPW: to=<b@mx.example>, relay=mx.example[private/dovecot-lmtp], delay=1, delays=0/0/0/1, dsn=5.2.2, status=bounced (host mx.example[private/dovecot-lmtp] said: 552 5.2.2 <b@mx.example> Quota exceeded (in reply to end of DATA command))
Jun  1 10:00:03 mx postfix/qmgr[12]: 3pJjgB6dpKz1JBPW: removed
"""

# Without XFORWARD the only link is the filter's "queued as" reply (and the Message-ID).
FILTER_PLAIN = "\n".join(
    ln.replace(", orig_queue_id=3pJjg82Vycz1JBJG, orig_client=c.example[192.0.2.1]", "")
    for ln in FILTER_XFORWARD.splitlines()
    if "amavis" not in ln
)

FORWARD = """
Jun  1 10:00:01 mx postfix/smtpd[10]: F60006: client=c.example[192.0.2.1]
Jun  1 10:00:01 mx postfix/cleanup[11]: F60006: message-id=<fw@c.example>
Jun  1 10:00:01 mx postfix/qmgr[12]: F60006: from=<s@c.example>, size=700, nrcpt=1 (queue active)
Jun  1 10:00:02 mx postfix/cleanup[11]: A70007: message-id=<fw@c.example>
Jun  1 10:00:02 mx postfix/local[13]: F60006: to=<team@mx.example>, relay=local, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (forwarded as A70007)
Jun  1 10:00:02 mx postfix/qmgr[12]: A70007: from=<s@c.example>, size=900, nrcpt=2 (queue active)
Jun  1 10:00:02 mx postfix/qmgr[12]: F60006: removed
Jun  1 10:00:03 mx postfix/smtp[14]: A70007: to=<x@far.example>, orig_to=<team@mx.example>, relay=mx.far.example[192.0.2.9]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok)
Jun  1 10:00:03 mx postfix/smtp[14]: A70007: to=<y@far.example>, orig_to=<team@mx.example>, relay=mx.far.example[192.0.2.9]:25, delay=1, delays=0/0/0.5/0.5, dsn=4.2.2, status=deferred (host mx.far.example[192.0.2.9] said: 452 4.2.2 Mailbox full (in reply to RCPT TO command))
"""

REUSE = """
Jun  1 10:00:01 mx postfix/pickup[1]: B10001: uid=0 from=<root>
Jun  1 10:00:01 mx postfix/cleanup[2]: B10001: message-id=<one@mx.example>
Jun  1 10:00:01 mx postfix/qmgr[3]: B10001: from=<root@mx.example>, size=300, nrcpt=1 (queue active)
Jun  1 10:00:01 mx postfix/local[4]: B10001: to=<root@mx.example>, relay=local, delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, status=sent (delivered to mailbox)
Jun  1 10:00:01 mx postfix/qmgr[3]: B10001: removed
Jun  1 12:00:01 mx postfix/pickup[1]: B10001: uid=0 from=<root>
Jun  1 12:00:01 mx postfix/cleanup[2]: B10001: message-id=<two@mx.example>
Jun  1 12:00:01 mx postfix/qmgr[3]: B10001: from=<root@mx.example>, size=400, nrcpt=1 (queue active)
Jun  1 12:00:02 mx postfix/smtp[5]: B10001: to=<r@r.example>, relay=mx.r.example[192.0.2.2]:25, delay=1, delays=0/0/0.5/0.5, dsn=5.7.1, status=bounced (host said 554)
Jun  1 12:00:02 mx postfix/qmgr[3]: B10001: removed
"""

HOLD_RELEASE = """
Jun  1 10:00:01 mx postfix/smtpd[10]: C10001: client=c.example[192.0.2.1]
Jun  1 10:00:01 mx postfix/smtpd[10]: C10001: hold: RCPT from c.example[192.0.2.1]: <s@c.example>: Sender address triggers HOLD action; from=<s@c.example> to=<r@mx.example> proto=ESMTP helo=<c.example>
Jun  1 10:00:01 mx postfix/cleanup[11]: C10001: message-id=<held@c.example>
"""
RELEASED = (
    HOLD_RELEASE
    + """
Jun  1 11:00:01 mx postfix/postsuper[20]: C10001: released from hold
Jun  1 11:00:02 mx postfix/qmgr[12]: C10001: from=<s@c.example>, size=600, nrcpt=1 (queue active)
Jun  1 11:00:02 mx postfix/local[13]: C10001: to=<r@mx.example>, relay=local, delay=3601, delays=3600/0/0/1, dsn=2.0.0, status=sent (delivered to mailbox)
Jun  1 11:00:02 mx postfix/qmgr[12]: C10001: removed
"""
)
DELETED = (
    HOLD_RELEASE
    + """
Jun  1 11:00:01 mx postfix/postsuper[20]: C10001: removed
Jun  1 11:00:01 mx postfix/postsuper[20]: Deleted: 1 message
"""
)

REQUEUE = """
Jun  1 10:00:01 mx postfix/pickup[1]: D10001: uid=1000 from=<u@mx.example>
Jun  1 10:00:01 mx postfix/cleanup[2]: D10001: message-id=<rq@mx.example>
Jun  1 10:00:01 mx postfix/qmgr[3]: D10001: from=<u@mx.example>, size=500, nrcpt=1 (queue active)
Jun  1 10:00:02 mx postfix/smtp[4]: D10001: to=<r@r.example>, relay=none, delay=1, delays=0/0/1/0, dsn=4.4.1, status=deferred (connect to mx.r.example[192.0.2.2]:25: Connection refused)
Jun  1 10:05:00 mx postfix/postsuper[5]: D10001: requeued
Jun  1 10:05:00 mx postfix/postsuper[5]: Requeued: 1 message
Jun  1 10:05:01 mx postfix/pickup[1]: D20002: uid=0 from=<u@mx.example> orig_id=D10001
Jun  1 10:05:01 mx postfix/cleanup[2]: D20002: message-id=<rq@mx.example>
Jun  1 10:05:01 mx postfix/qmgr[3]: D20002: from=<u@mx.example>, size=520, nrcpt=1 (queue active)
Jun  1 10:05:02 mx postfix/smtp[4]: D20002: to=<r@r.example>, relay=mx.r.example[192.0.2.2]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok)
Jun  1 10:05:02 mx postfix/qmgr[3]: D20002: removed
"""

NO_MESSAGE_ID = """
Jun  1 10:00:01 mx postfix/pickup[1]: E10001: uid=1000 from=<u@mx.example>
Jun  1 10:00:01 mx postfix/cleanup[2]: E10001: message-id=<>
Jun  1 10:00:01 mx postfix/qmgr[3]: E10001: from=<u@mx.example>, size=100, nrcpt=1 (queue active)
Jun  1 10:00:01 mx postfix/local[4]: E10001: to=<v@mx.example>, relay=local, delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, status=sent (delivered to mailbox)
Jun  1 10:00:01 mx postfix/qmgr[3]: E10001: removed
Jun  1 10:00:05 mx postfix/pickup[1]: E20002: uid=1000 from=<u@mx.example>
Jun  1 10:00:05 mx postfix/cleanup[2]: E20002: message-id=<>
Jun  1 10:00:05 mx postfix/qmgr[3]: E20002: from=<u@mx.example>, size=100, nrcpt=1 (queue active)
Jun  1 10:00:05 mx postfix/local[4]: E20002: to=<w@mx.example>, relay=local, delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, status=sent (delivered to mailbox)
Jun  1 10:00:05 mx postfix/qmgr[3]: E20002: removed
"""

HEADER_REJECT = """
Jun  1 10:00:00 mx postfix/smtpd[10]: connect from c.example[192.0.2.1]
Jun  1 10:00:01 mx postfix/smtpd[10]: F10001: client=c.example[192.0.2.1]
Jun  1 10:00:01 mx postfix/cleanup[11]: F10001: reject: header Subject: BUY NOW from c.example[192.0.2.1]; from=<s@c.example> to=<r@mx.example> proto=ESMTP helo=<c.example>: 5.7.1 message content rejected
Jun  1 10:00:01 mx postfix/smtpd[10]: disconnect from c.example[192.0.2.1] ehlo=1 mail=1 rcpt=1 data=0/1 quit=1 commands=4/5
"""

RCPT_REJECT_PARTIAL = """
Jun  1 10:00:00 mx postfix/smtpd[10]: connect from c.example[192.0.2.1]
Jun  1 10:00:01 mx postfix/smtpd[10]: F20002: client=c.example[192.0.2.1]
Jun  1 10:00:01 mx postfix/smtpd[10]: F20002: reject: RCPT from c.example[192.0.2.1]: 550 5.1.1 <no@mx.example>: Recipient address rejected: User unknown in local recipient table; from=<s@c.example> to=<no@mx.example> proto=ESMTP helo=<c.example>
Jun  1 10:00:01 mx postfix/cleanup[11]: F20002: message-id=<partial@c.example>
Jun  1 10:00:01 mx postfix/qmgr[12]: F20002: from=<s@c.example>, size=600, nrcpt=1 (queue active)
Jun  1 10:00:01 mx postfix/smtpd[10]: disconnect from c.example[192.0.2.1] ehlo=1 mail=1 rcpt=1/2 data=1 quit=1 commands=5/6
Jun  1 10:00:02 mx postfix/local[13]: F20002: to=<yes@mx.example>, relay=local, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (delivered to mailbox)
Jun  1 10:00:02 mx postfix/qmgr[12]: F20002: removed
"""

DISCARD = """
Jun  1 10:00:01 mx postfix/smtpd[10]: 9C10001: client=c.example[192.0.2.1]
Jun  1 10:00:01 mx postfix/smtpd[10]: 9C10001: discard: RCPT from c.example[192.0.2.1]: <bin@mx.example>: Recipient address triggers DISCARD action; from=<s@c.example> to=<bin@mx.example> proto=ESMTP helo=<c.example>
Jun  1 10:00:01 mx postfix/cleanup[11]: 9C10001: message-id=<disc@c.example>
Jun  1 10:00:01 mx postfix/qmgr[12]: 9C10001: from=<s@c.example>, size=600, nrcpt=1 (queue active)
Jun  1 10:00:01 mx postfix/qmgr[12]: 9C10001: removed
"""

# smtpd logs an access-map HOLD/DISCARD on the first recipient before the queue file
# exists (as seen from a real Postfix 3.7), then opens the file.
NOQUEUE_HOLD = """
Jun  1 10:00:00 mx postfix/smtpd[25944]: connect from localhost[127.0.0.1]
Jun  1 10:00:01 mx postfix/smtpd[25944]: NOQUEUE: hold: RCPT from localhost[127.0.0.1]: <hold-it@sink.test>: Recipient address triggers HOLD action; from=<s@sink.test> to=<hold-it@sink.test> proto=ESMTP helo=<client.test>
Jun  1 10:00:01 mx postfix/smtpd[25944]: C9CD1216602: client=localhost[127.0.0.1]
Jun  1 10:00:01 mx postfix/cleanup[25968]: C9CD1216602: message-id=<hold-access@client.test>
Jun  1 10:00:01 mx postfix/smtpd[25944]: disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5
"""

NOQUEUE_DISCARD = """
Jun  1 10:00:00 mx postfix/smtpd[25944]: connect from localhost[127.0.0.1]
Jun  1 10:00:01 mx postfix/smtpd[25944]: NOQUEUE: discard: RCPT from localhost[127.0.0.1]: <discard-it@sink.test>: Recipient address triggers DISCARD action; from=<s@sink.test> to=<discard-it@sink.test> proto=ESMTP helo=<client.test>
Jun  1 10:00:01 mx postfix/smtpd[25944]: C97B5216602: client=localhost[127.0.0.1]
Jun  1 10:00:01 mx postfix/smtpd[25944]: disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5
"""

ABANDONED = """
Jun  1 10:00:00 mx postfix/smtpd[10]: connect from c.example[192.0.2.1]
Jun  1 10:00:01 mx postfix/smtpd[10]: 9D10001: client=c.example[192.0.2.1]
Jun  1 10:00:05 mx postfix/smtpd[10]: lost connection after DATA from c.example[192.0.2.1]
Jun  1 10:00:05 mx postfix/smtpd[10]: disconnect from c.example[192.0.2.1] ehlo=1 mail=1 rcpt=1 data=0/1 commands=3/4
"""


# soft_bounce=yes: Postfix logs SOFTBOUNCE and keeps the mail queued (bounce.c).
SOFT_BOUNCE = """
Jun  1 10:00:01 mx postfix/pickup[1]: D40005: uid=1000 from=<u@mx.example>
Jun  1 10:00:01 mx postfix/cleanup[2]: D40005: message-id=<soft@mx.example>
Jun  1 10:00:01 mx postfix/qmgr[3]: D40005: from=<u@mx.example>, size=500, nrcpt=1 (queue active)
Jun  1 10:00:02 mx postfix/smtp[4]: D40005: to=<r@r.example>, relay=mx.r.example[192.0.2.2]:25, delay=1, delays=0/0/0.5/0.5, dsn=5.1.1, status=SOFTBOUNCE (host mx.r.example[192.0.2.2] said: 550 5.1.1 unknown (in reply to RCPT TO command))
"""

# An administrator deletes a deferred (not held) message: postsuper logs "removed".
DEFERRED_DELETED = """
Jun  1 10:00:01 mx postfix/pickup[1]: D40006: uid=1000 from=<u@mx.example>
Jun  1 10:00:01 mx postfix/cleanup[2]: D40006: message-id=<del@mx.example>
Jun  1 10:00:01 mx postfix/qmgr[3]: D40006: from=<u@mx.example>, size=500, nrcpt=1 (queue active)
Jun  1 10:00:02 mx postfix/smtp[4]: D40006: to=<r@r.example>, relay=none, delay=1, delays=0/0/1/0, dsn=4.4.1, status=deferred (connect to mx.r.example[192.0.2.2]:25: Connection refused)
Jun  1 11:00:02 mx postfix/postsuper[5]: D40006: removed
Jun  1 11:00:02 mx postfix/postsuper[5]: Deleted: 1 message
"""

MILTER_REJECT = """
Jun  1 10:00:00 mx postfix/smtpd[10]: connect from c.example[192.0.2.1]
Jun  1 10:00:01 mx postfix/smtpd[10]: F10002: client=c.example[192.0.2.1]
Jun  1 10:00:01 mx postfix/cleanup[11]: F10002: milter-reject: END-OF-MESSAGE from c.example[192.0.2.1]: 5.7.1 Spam message rejected; from=<s@c.example> to=<r@mx.example> proto=ESMTP helo=<c.example>
Jun  1 10:00:01 mx postfix/smtpd[10]: disconnect from c.example[192.0.2.1] ehlo=1 mail=1 rcpt=1 data=0/1 quit=1 commands=4/5
"""

# amavis answers for itself: a discarded spam and a rejected one, nothing re-injected.
FILTER_VERDICTS = """
Jun  1 10:00:01 mx postfix/smtpd[10]: A1B2C3: client=c.example[192.0.2.1]
Jun  1 10:00:01 mx postfix/cleanup[11]: A1B2C3: message-id=<am@c.example>
Jun  1 10:00:01 mx postfix/qmgr[12]: A1B2C3: from=<s@c.example>, size=800, nrcpt=2 (queue active)
Jun  1 10:00:02 mx postfix/smtp[13]: A1B2C3: to=<a@mx.example>, relay=127.0.0.1[127.0.0.1]:10024, delay=1, delays=0/0/0/1, dsn=2.7.0, status=sent (250 2.7.0 Ok, discarded, id=00030-01 - spam)
Jun  1 10:00:02 mx postfix/smtp[13]: A1B2C3: to=<b@mx.example>, relay=127.0.0.1[127.0.0.1]:10024, delay=1, delays=0/0/0/1, dsn=5.7.0, status=bounced (host 127.0.0.1[127.0.0.1] said: 554 5.7.0 Reject, id=00030-01 - spam (in reply to end of DATA command))
Jun  1 10:00:02 mx postfix/qmgr[12]: A1B2C3: removed
"""

# amavisd-new 2.x words its reply differently; the child shows up before the reply.
FILTER_OLD_REPLY = """
Jun  1 10:00:01 mx postfix/smtpd[10]: A1B2C4: client=c.example[192.0.2.1]
Jun  1 10:00:01 mx postfix/cleanup[11]: A1B2C4: message-id=<am2@c.example>
Jun  1 10:00:01 mx postfix/qmgr[12]: A1B2C4: from=<s@c.example>, size=800, nrcpt=1 (queue active)
Jun  1 10:00:02 mx postfix/smtpd[20]: B2C3D5: client=localhost[127.0.0.1]
Jun  1 10:00:02 mx postfix/cleanup[11]: B2C3D5: message-id=<am2@c.example>
Jun  1 10:00:02 mx postfix/qmgr[12]: B2C3D5: from=<s@c.example>, size=1200, nrcpt=1 (queue active)
Jun  1 10:00:02 mx postfix/smtp[13]: A1B2C4: to=<a@mx.example>, relay=127.0.0.1[127.0.0.1]:10024, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 Ok, id=00030-02, from MTA([127.0.0.1]:10025): 250 2.0.0 Ok: queued as B2C3D5)
Jun  1 10:00:02 mx postfix/qmgr[12]: A1B2C4: removed
Jun  1 10:00:03 mx postfix/virtual[14]: B2C3D5: to=<a@mx.example>, relay=virtual, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (delivered to maildir)
Jun  1 10:00:03 mx postfix/qmgr[12]: B2C3D5: removed
"""

# A verify(8) address probe (sender double-bounce) that the next hop refuses.
VERIFY_PROBE = """
Jun  1 10:00:01 mx postfix/cleanup[2]: 7A1B2C3D: message-id=<20240601100001.7A1B2C3D@mx.example>
Jun  1 10:00:01 mx postfix/qmgr[3]: 7A1B2C3D: from=<double-bounce@mx.example>, size=250, nrcpt=1 (queue active)
Jun  1 10:00:02 mx postfix/smtp[4]: 7A1B2C3D: to=<probe@r.example>, relay=mx.r.example[192.0.2.2]:25, delay=1, delays=0/0/0.5/0.5, dsn=5.1.1, status=undeliverable (host mx.r.example[192.0.2.2] said: 550 5.1.1 unknown (in reply to RCPT TO command))
Jun  1 10:00:02 mx postfix/qmgr[3]: 7A1B2C3D: removed
"""


# One RCPT refused, the accepted one refused with the whole message by a milter: the
# milter line names the accepted recipient.
RCPT_THEN_MILTER_REJECT = """
Jun  1 10:00:00 mx postfix/smtpd[10]: connect from c.example[192.0.2.1]
Jun  1 10:00:01 mx postfix/smtpd[10]: F30001: client=c.example[192.0.2.1]
Jun  1 10:00:01 mx postfix/smtpd[10]: F30001: reject: RCPT from c.example[192.0.2.1]: 550 5.1.1 <no1@mx.example>: Recipient address rejected: User unknown in virtual mailbox table; from=<s@c.example> to=<no1@mx.example> proto=ESMTP helo=<c.example>
Jun  1 10:00:01 mx postfix/cleanup[11]: F30001: message-id=<spam@c.example>
Jun  1 10:00:02 mx postfix/cleanup[11]: F30001: milter-reject: END-OF-MESSAGE from c.example[192.0.2.1]: 5.7.1 Spam message rejected; from=<s@c.example> to=<yes@mx.example> proto=ESMTP helo=<c.example>
Jun  1 10:00:02 mx postfix/smtpd[10]: disconnect from c.example[192.0.2.1] ehlo=1 mail=1 rcpt=1/2 data=0/1 quit=1 commands=4/6
"""

# warn_if_reject: logged as reject_warning, nobody refused; the alias is delivered as bob.
REJECT_WARNING_ALIAS = """
Jun  1 10:00:00 mx postfix/smtpd[10]: connect from c.example[192.0.2.1]
Jun  1 10:00:01 mx postfix/smtpd[10]: F30002: client=c.example[192.0.2.1]
Jun  1 10:00:01 mx postfix/smtpd[10]: F30002: reject_warning: RCPT from c.example[192.0.2.1]: 450 4.1.8 <s@c.example>: Sender address rejected: Domain not found; from=<s@c.example> to=<alias@mx.example> proto=ESMTP helo=<c.example>
Jun  1 10:00:01 mx postfix/cleanup[11]: F30002: message-id=<warned@c.example>
Jun  1 10:00:01 mx postfix/qmgr[12]: F30002: from=<s@c.example>, size=600, nrcpt=1 (queue active)
Jun  1 10:00:01 mx postfix/smtpd[10]: disconnect from c.example[192.0.2.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5
Jun  1 10:00:02 mx postfix/local[13]: F30002: to=<bob@mx.example>, orig_to=<alias@mx.example>, relay=local, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (delivered to mailbox)
Jun  1 10:00:02 mx postfix/qmgr[12]: F30002: removed
"""


# postsuper -e (Postfix >= 3.5) marks the file; qmgr returns it at its next look.
FORCE_EXPIRED = """
Jun  1 10:00:01 mx postfix/pickup[1]: D40007: uid=1000 from=<u@mx.example>
Jun  1 10:00:01 mx postfix/cleanup[2]: D40007: message-id=<fexp@mx.example>
Jun  1 10:00:01 mx postfix/qmgr[3]: D40007: from=<u@mx.example>, size=500, nrcpt=1 (queue active)
Jun  1 10:00:02 mx postfix/smtp[4]: D40007: to=<r@r.example>, relay=none, delay=1, delays=0/0/1/0, dsn=4.4.1, status=deferred (connect to mx.r.example[192.0.2.2]:25: Connection refused)
Jun  1 11:00:00 mx postfix/postsuper[5]: D40007: expired
Jun  1 11:00:00 mx postfix/postsuper[5]: Force-expired: 1 message
Jun  1 11:00:01 mx postfix/qmgr[3]: D40007: from=<u@mx.example>, status=force-expired, returned to sender
Jun  1 11:00:01 mx postfix/cleanup[2]: E50008: message-id=<20240601110001.E50008@mx.example>
Jun  1 11:00:01 mx postfix/bounce[6]: D40007: sender non-delivery notification: E50008
Jun  1 11:00:01 mx postfix/qmgr[3]: D40007: removed
"""


@pytest.mark.parametrize(
    ("log", "expected"),
    [
        (
            MIXED,
            {
                "ok@r.example": "delivered",
                "later@r.example": "deferred",
                "gone@r.example": "bounced",
            },
        ),
        (DEFERRED_THEN_SENT, {"r@r.example": "delivered"}),
        (EXPIRED, {"r@r.example": "expired"}),
        (FILTER_XFORWARD, {"a@mx.example": "delivered", "b@mx.example": "bounced"}),
        (FILTER_PLAIN, {"a@mx.example": "delivered", "b@mx.example": "bounced"}),
        (FORWARD, {"x@far.example": "delivered", "y@far.example": "deferred"}),
        (RELEASED, {"r@mx.example": "delivered"}),
        (DELETED, {"r@mx.example": "deleted"}),
        (HOLD_RELEASE, {"r@mx.example": "held"}),
        (REQUEUE, {"r@r.example": "delivered"}),
        (HEADER_REJECT, {"r@mx.example": "rejected"}),
        (RCPT_REJECT_PARTIAL, {"yes@mx.example": "delivered", "no@mx.example": "rejected"}),
        (DISCARD, {"bin@mx.example": "discarded"}),
        (NOQUEUE_HOLD, {"hold-it@sink.test": "held"}),
        (NOQUEUE_DISCARD, {"discard-it@sink.test": "discarded"}),
        (SOFT_BOUNCE, {"r@r.example": "deferred"}),
        (DEFERRED_DELETED, {"r@r.example": "deleted"}),
        (MILTER_REJECT, {"r@mx.example": "rejected"}),
        (FILTER_VERDICTS, {"a@mx.example": "discarded", "b@mx.example": "bounced"}),
        (FILTER_OLD_REPLY, {"a@mx.example": "delivered"}),
        (VERIFY_PROBE, {"probe@r.example": "bounced"}),
        (
            RCPT_THEN_MILTER_REJECT,
            {"no1@mx.example": "rejected", "yes@mx.example": "rejected"},
        ),
        (REJECT_WARNING_ALIAS, {"bob@mx.example": "delivered"}),
        (FORCE_EXPIRED, {"r@r.example": "expired"}),
    ],
    ids=[
        "multi-recipient-mixed",
        "deferred-then-sent",
        "expired",
        "content-filter-xforward",
        "content-filter-queued-as-only",
        "alias-forward",
        "hold-then-release",
        "hold-then-delete",
        "still-held",
        "postsuper-requeue",
        "header-check-reject",
        "one-recipient-rejected",
        "discard",
        "noqueue-hold-before-queue-file",
        "noqueue-discard-before-queue-file",
        "soft-bounce-stays-deferred",
        "deferred-then-postsuper-delete",
        "cleanup-milter-reject",
        "filter-discards-and-rejects",
        "filter-old-reply-wording",
        "address-probe-refused",
        "rcpt-refused-then-milter-refuses-the-rest",
        "reject-warning-refuses-nobody",
        "postsuper-force-expire",
    ],
)
def test_one_email_with_final_status_per_recipient(log: str, expected: dict[str, str]) -> None:
    mails = emails(run(log))
    assert len(mails) == 1, [m.to_dict() for m in mails]
    assert statuses(mails[0]) == expected


@pytest.mark.parametrize(
    ("log", "origins"),
    [
        (MIXED, ["smtpd", "bounce"]),
        (EXPIRED, ["pickup", "bounce"]),
        (FILTER_XFORWARD, ["smtpd", "filter"]),
        (FILTER_PLAIN, ["smtpd", "filter"]),
        (FORWARD, ["smtpd", "forward"]),
        (REQUEUE, ["pickup", "requeue"]),
        (FILTER_OLD_REPLY, ["smtpd", "filter"]),
    ],
    ids=[
        "ndr",
        "expiry-ndr",
        "filter-xforward",
        "filter-plain",
        "forward",
        "requeue",
        "filter-old",
    ],
)
def test_hops_are_linked_to_their_parent(log: str, origins: list[str]) -> None:
    (mail,) = emails(run(log))
    assert [t.origin for t in mail.transactions] == origins
    first = mail.transactions[0]
    assert all(t.parent == first.queue_id for t in mail.transactions[1:])


def test_forwarded_recipients_keep_the_address_the_sender_used() -> None:
    (mail,) = emails(run(FORWARD))
    assert {r.orig_address for r in mail.recipients} == {"team@mx.example"}


def test_attempts_count_every_try() -> None:
    (mail,) = emails(run(DEFERRED_THEN_SENT))
    assert mail.recipients[0].attempts == 2


def test_reused_queue_id_makes_two_emails() -> None:
    mails = emails(run(REUSE))
    assert [m.message_id for m in mails] == ["one@mx.example", "two@mx.example"]
    assert [statuses(m) for m in mails] == [
        {"root@mx.example": "delivered"},
        {"r@r.example": "bounced"},
    ]
    assert mails[0].id != mails[1].id


def test_missing_message_id_never_joins_unrelated_mail() -> None:
    mails = emails(run(NO_MESSAGE_ID))
    assert len(mails) == 2
    assert {m.message_id for m in mails} == {None}


def test_noqueue_rejects_are_their_own_records() -> None:
    log = """
Jun  1 10:00:00 mx postfix/smtpd[10]: connect from c.example[192.0.2.1]
Jun  1 10:00:01 mx postfix/smtpd[10]: NOQUEUE: reject: RCPT from c.example[192.0.2.1]: 554 5.7.1 <x@else.example>: Relay access denied; from=<s@c.example> to=<x@else.example> proto=ESMTP helo=<c.example>
Jun  1 10:00:01 mx postfix/postscreen[9]: NOQUEUE: reject: RCPT from [192.0.2.5]:4711: 550 5.7.1 Service unavailable; client [192.0.2.5] blocked using zen.spamhaus.org; from=<a@b.c>, to=<r@mx.example>, proto=ESMTP, helo=<b.c>
Jun  1 10:00:02 mx postfix/smtpd[10]: disconnect from c.example[192.0.2.1] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4
"""
    out = run(log)
    # (A refused RCPT waits for the session to end: the e-mail it belongs to may follow.)
    rejects = sorted((r for r in out if isinstance(r, Reject)), key=lambda r: r.seq)
    assert [(r.daemon, r.recipient, r.code, r.client_ip) for r in rejects] == [
        ("smtpd", "x@else.example", "554", "192.0.2.1"),
        ("postscreen", "r@mx.example", "550", "192.0.2.5"),
    ]
    assert emails(out) == []


def test_reject_before_any_recipient_keeps_the_sender() -> None:
    log = """
Jun  1 10:00:00 mx postfix/submission/smtpd[10]: connect from c.example[192.0.2.1]
Jun  1 10:00:01 mx postfix/submission/smtpd[10]: NOQUEUE: reject: MAIL from c.example[192.0.2.1]: 553 5.7.1 <s@c.example>: Sender address rejected: not logged in; from=<s@c.example> proto=ESMTP helo=<c.example>
Jun  1 10:00:02 mx postfix/submission/smtpd[10]: disconnect from c.example[192.0.2.1] ehlo=1 mail=0/1 quit=1 commands=2/3
"""
    (rej,) = run(log)
    assert isinstance(rej, Reject)
    assert (rej.stage, rej.sender, rej.recipient, rej.helo, rej.reason) == (
        "MAIL",
        "s@c.example",
        None,
        "c.example",
        "<s@c.example>: Sender address rejected: not logged in",
    )


def test_abandoned_transaction_is_dropped_not_left_open() -> None:
    corr = Correlator()
    env = EnvelopeParser(ClassicClock(2024, UTC))
    for i, raw in enumerate(ABANDONED.strip().splitlines(), 1):
        corr.feed(parse(env.split(raw, i)))
    assert corr.open_transactions == 0
    assert emails(corr.finish()) == []


def test_finished_email_is_emitted_before_the_end_of_input() -> None:
    env = EnvelopeParser(ClassicClock(2024, UTC))
    corr = Correlator(linger=30)
    lines = DEFERRED_THEN_SENT.strip().splitlines()
    later = "Jun  1 11:00:00 mx postfix/smtpd[77]: connect from c.example[192.0.2.1]"
    for i, raw in enumerate([*lines, later], 1):
        corr.feed(parse(env.split(raw, i)))
    early = emails(corr.drain())
    assert [m.message_id for m in early] == ["retry@mx.example"]
    assert corr.open_transactions == 0


# A DISCARD in cleanup (header/body check or milter) means the queue file is never
# committed (cleanup_api.c): no queue manager line and no "removed" follow. The Message-ID
# is often logged before the discarding header is seen.
HEADER_DISCARD = """
Jun  1 10:00:00 mx postfix/smtpd[10]: connect from c.example[192.0.2.1]
Jun  1 10:00:01 mx postfix/smtpd[10]: F10003: client=c.example[192.0.2.1]
Jun  1 10:00:01 mx postfix/cleanup[11]: F10003: message-id=<hd@c.example>
Jun  1 10:00:01 mx postfix/cleanup[11]: F10003: discard: header Subject: junk from c.example[192.0.2.1]; from=<s@c.example> to=<r@mx.example> proto=ESMTP helo=<c.example>
Jun  1 10:00:01 mx postfix/smtpd[10]: disconnect from c.example[192.0.2.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5
"""
MILTER_DISCARD = """
Jun  1 10:00:00 mx postfix/smtpd[10]: connect from c.example[192.0.2.1]
Jun  1 10:00:01 mx postfix/smtpd[10]: F10004: client=c.example[192.0.2.1]
Jun  1 10:00:01 mx postfix/cleanup[11]: F10004: message-id=<md@c.example>
Jun  1 10:00:01 mx postfix/cleanup[11]: F10004: milter-discard: END-OF-MESSAGE from c.example[192.0.2.1]: milter triggers DISCARD action; from=<s@c.example> to=<r@mx.example> proto=ESMTP helo=<c.example>
Jun  1 10:00:01 mx postfix/smtpd[10]: disconnect from c.example[192.0.2.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5
"""
PICKUP_BODY_DISCARD = """
Jun  1 10:00:01 mx postfix/pickup[1]: F10005: uid=1000 from=<u@mx.example>
Jun  1 10:00:01 mx postfix/cleanup[11]: F10005: message-id=<pk@mx.example>
Jun  1 10:00:01 mx postfix/cleanup[11]: F10005: discard: body click here from local; from=<u@mx.example> to=<r@r.example>
"""


@pytest.mark.parametrize(
    "log", [HEADER_DISCARD, MILTER_DISCARD, PICKUP_BODY_DISCARD], ids=["header", "milter", "pickup"]
)
def test_message_discarded_in_cleanup_ends_there(log: str) -> None:
    env = EnvelopeParser(ClassicClock(2024, UTC))
    corr = Correlator(linger=30)
    later = "Jun  1 11:00:00 mx postfix/smtpd[77]: connect from c.example[192.0.2.1]"
    for i, raw in enumerate([*log.strip().splitlines(), later], 1):
        corr.feed(parse(env.split(raw, i)))
    (mail,) = emails(corr.drain())
    assert mail.complete
    assert [r.status for r in mail.recipients] == ["discarded"]
    assert corr.open_transactions == 0


def test_session_without_data_ends_its_queue_file_at_disconnect() -> None:
    """One recipient accepted (so a queue file exists), one refused, then no DATA: the
    reject names the sender, but the disconnect counters say no message was accepted."""
    log = """
Jun  1 10:00:00 mx postfix/smtpd[10]: connect from c.example[192.0.2.1]
Jun  1 10:00:01 mx postfix/smtpd[10]: F20003: client=c.example[192.0.2.1]
Jun  1 10:00:01 mx postfix/smtpd[10]: F20003: reject: RCPT from c.example[192.0.2.1]: 550 5.1.1 <no@mx.example>: Recipient address rejected: User unknown in local recipient table; from=<s@c.example> to=<no@mx.example> proto=ESMTP helo=<c.example>
Jun  1 10:00:05 mx postfix/smtpd[10]: lost connection after RCPT from c.example[192.0.2.1]
Jun  1 10:00:05 mx postfix/smtpd[10]: disconnect from c.example[192.0.2.1] ehlo=1 mail=1 rcpt=1/2 commands=3/4
Jun  1 11:00:00 mx postfix/smtpd[77]: connect from c.example[192.0.2.1]
"""
    env = EnvelopeParser(ClassicClock(2024, UTC))
    corr = Correlator(linger=30)
    for i, raw in enumerate(log.strip().splitlines(), 1):
        corr.feed(parse(env.split(raw, i)))
    (mail,) = emails(corr.drain())
    assert statuses(mail) == {"no@mx.example": "rejected"}
    assert corr.open_transactions == 0


def test_lines_about_a_queue_file_are_among_its_lines() -> None:
    """The remote's own words, connection trouble and warnings naming the queue ID belong
    to the mail's log even though no status comes from them."""
    log = """
Jun  1 10:00:01 mx postfix/pickup[1]: C30004: uid=1000 from=<u@mx.example>
Jun  1 10:00:01 mx postfix/cleanup[2]: C30004: message-id=<talk@mx.example>
Jun  1 10:00:01 mx postfix/qmgr[3]: C30004: from=<u@mx.example>, size=500, nrcpt=1 (queue active)
Jun  1 10:00:02 mx postfix/smtp[4]: C30004: host mx.r.example[192.0.2.2] said: 451 4.3.0 try later (in reply to end of DATA command)
Jun  1 10:00:02 mx postfix/smtp[4]: warning: C30004: read timeout on mx.r.example[192.0.2.2]
Jun  1 10:00:02 mx postfix/smtp[4]: C30004: to=<r@r.example>, relay=mx.r.example[192.0.2.2]:25, delay=1, delays=0/0/0.5/0.5, dsn=4.3.0, status=deferred (host mx.r.example[192.0.2.2] said: 451 4.3.0 try later (in reply to end of DATA command))
Jun  1 10:00:02 mx postfix/smtp[4]: B99999: host other.example[192.0.2.9] said: 250 not ours
"""
    (mail,) = emails(run(log))
    (tx,) = mail.transactions
    assert tx.seqs == [1, 2, 3, 4, 5, 6]


def test_open_email_has_a_provisional_status_until_it_ends() -> None:
    env = EnvelopeParser(ClassicClock(2024, UTC))
    corr = Correlator()
    for i, raw in enumerate(DEFERRED_THEN_SENT.strip().splitlines()[:4], 1):
        corr.feed(parse(env.split(raw, i)))
    (snap,) = corr.open_snapshots()
    assert not snap.complete
    assert statuses(snap) == {"r@r.example": "deferred"}
    assert corr.open_snapshots() == []  # nothing changed since


def test_duplicated_lines_do_not_duplicate_attempts() -> None:
    lines = DEFERRED_THEN_SENT.strip().splitlines()
    doubled = "\n".join(ln for line in lines for ln in (line, line))
    (mail,) = emails(run(doubled))
    assert mail.recipients[0].attempts == 2


@pytest.mark.parametrize("log", [MIXED, FILTER_XFORWARD, FORWARD, REQUEUE, EXPIRED], ids=str)
def test_checkpointed_state_gives_the_same_result(log: str) -> None:
    whole = [r.to_dict() for r in run(log)]
    pieces = [r.to_dict() for r in run(log, chunks=3)]
    assert pieces == whole


def test_state_stays_bounded_on_a_long_stream() -> None:
    """Memory grows with open transactions, not with the log: 3 days of finished mail,
    remote next hops that never show up and sessions cut off without a disconnect."""
    env = EnvelopeParser(ClassicClock(2024, UTC))
    corr = Correlator()
    seq = 0
    emitted = 0
    for i in range(6000):
        minute = i  # one message a minute, three of them in flight at most
        day, rest = divmod(minute, 1440)
        stamp = f"Jun {1 + day:2d} {rest // 60:02d}:{rest % 60:02d}"
        qid = f"{0xA00000 + i:X}"
        for raw in (
            f"{stamp}:00 mx postfix/smtpd[{i % 50}]: connect from c.example[192.0.2.1]",
            f"{stamp}:01 mx postfix/smtpd[{i % 50}]: {qid}: client=c.example[192.0.2.1]",
            f"{stamp}:01 mx postfix/cleanup[2]: {qid}: message-id=<m{i}@c.example>",
            f"{stamp}:01 mx postfix/qmgr[3]: {qid}: from=<s@c.example>, size=100, nrcpt=1 (queue active)",
            f"{stamp}:02 mx postfix/smtp[4]: {qid}: to=<r@r.example>, relay=mx.r.example[192.0.2.2]:25, "
            f"delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as R{i:08d}X)",
            f"{stamp}:02 mx postfix/qmgr[3]: {qid}: removed",
        ):
            seq += 1
            corr.feed(parse(env.split(raw, seq)))
        emitted += len(corr.drain())
    assert emitted >= 5990
    assert corr.open_transactions == 0
    assert len(corr._known) < 10
    assert len(corr._sessions) <= 50
    assert len(corr._expect) <= 121  # at most two hours of unanswered hops
    assert len(corr._by_msgid) < 10
