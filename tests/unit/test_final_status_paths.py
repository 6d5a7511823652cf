"""One final status per recipient on the paths an administrator meets every week (issue 12).

Requeue after deferrals, hold/release/requeue/hold, a temporary (4xx) refusal then an
accepted retry, a recipient refused before the queue file existed, and admin actions. The
logs are written the way Postfix 3.x writes them (the first one is the issue's reproduction,
verbatim); the expectations come from what the administrator and the client did.
"""

from __future__ import annotations

from datetime import UTC

import pytest

from else_core.correlate import Correlator
from else_core.envelope import ClassicClock, EnvelopeParser
from else_core.model import Email, Reject
from else_core.parser import parse
from tests.unit.test_correlate import emails, run, statuses

# postsuper -r after deferrals, as in the issue: postsuper's own "requeued" line is not in
# this log, pickup's orig_id= is the only trace of the requeue.
REQUEUE_THEN_EXPIRED = """
Mar  3 10:00:01 mail postfix/pickup[2001]: 3F1A2B4C5D: uid=1000 from=<ann@example.org>
Mar  3 10:00:01 mail postfix/cleanup[2002]: 3F1A2B4C5D: message-id=<rq-1@example.org>
Mar  3 10:00:01 mail postfix/qmgr[2003]: 3F1A2B4C5D: from=<ann@example.org>, size=900, nrcpt=1 (queue active)
Mar  3 10:00:02 mail postfix/smtp[2004]: 3F1A2B4C5D: to=<bo@remote.example>, relay=mx.remote.example[192.0.2.25]:25, delay=1, delays=0/0/0/1, dsn=4.2.0, status=deferred (host mx.remote.example[192.0.2.25] said: 450 4.2.0 Mailbox busy (in reply to RCPT TO command))
Mar  3 10:05:00 mail postfix/pickup[2001]: 7E8D9C0B1A: uid=0 from=<ann@example.org> orig_id=3F1A2B4C5D
Mar  3 10:05:00 mail postfix/cleanup[2002]: 7E8D9C0B1A: message-id=<rq-1@example.org>
Mar  3 10:05:00 mail postfix/qmgr[2003]: 7E8D9C0B1A: from=<ann@example.org>, size=1010, nrcpt=1 (queue active)
Mar  3 10:05:01 mail postfix/smtp[2004]: 7E8D9C0B1A: to=<bo@remote.example>, relay=mx.remote.example[192.0.2.25]:25, delay=300, delays=300/0/0/1, dsn=4.2.0, status=deferred (host mx.remote.example[192.0.2.25] said: 450 4.2.0 Mailbox busy (in reply to RCPT TO command))
Mar  3 11:00:00 mail postfix/qmgr[2003]: 7E8D9C0B1A: from=<ann@example.org>, status=expired, returned to sender
Mar  3 11:00:00 mail postfix/bounce[2005]: 7E8D9C0B1A: sender non-delivery notification: 5A6B7C8D9E
Mar  3 11:00:00 mail postfix/qmgr[2003]: 7E8D9C0B1A: removed
"""

# The same with postsuper's line, as a real Postfix 3.7 logs it (postsuper first).
REQUEUE_LOGGED_THEN_EXPIRED = REQUEUE_THEN_EXPIRED.replace(
    "Mar  3 10:05:00 mail postfix/pickup",
    "Mar  3 10:04:59 mail postfix/postsuper[2100]: 3F1A2B4C5D: requeued\n"
    "Mar  3 10:04:59 mail postfix/postsuper[2100]: Requeued: 1 message\n"
    "Mar  3 10:05:00 mail postfix/pickup",
)

# pickup's line before postsuper's (one second, reordered on the way to the log server).
REQUEUE_LOGGED_AFTER_PICKUP = REQUEUE_THEN_EXPIRED.replace(
    "Mar  3 10:05:00 mail postfix/cleanup[2002]: 7E8D9C0B1A",
    "Mar  3 10:05:00 mail postfix/postsuper[2100]: 3F1A2B4C5D: requeued\n"
    "Mar  3 10:05:00 mail postfix/cleanup[2002]: 7E8D9C0B1A",
)

# postsuper -r while smtp was delivering the file: the agent's deferral comes after the
# requeue (seen from a real Postfix 3.7 in the workload) and still belongs to the old file.
REQUEUE_DURING_DELIVERY = REQUEUE_LOGGED_THEN_EXPIRED.replace(
    "Mar  3 10:04:59 mail postfix/postsuper[2100]: Requeued: 1 message\n",
    "Mar  3 10:04:59 mail postfix/postsuper[2100]: Requeued: 1 message\n"
    "Mar  3 10:04:59 mail postfix/smtp[2004]: 3F1A2B4C5D: to=<bo@remote.example>, relay=mx.remote.example[192.0.2.25]:25, delay=298, delays=297/0/0/1, dsn=4.2.0, status=deferred (host mx.remote.example[192.0.2.25] said: 450 4.2.0 Mailbox busy (in reply to RCPT TO command))\n",
)
_HELD_START = """
Mar  3 10:00:00 mail postfix/smtpd[3001]: connect from c.example[192.0.2.1]
Mar  3 10:00:01 mail postfix/smtpd[3001]: 4BA2D20C85F: client=c.example[192.0.2.1]
Mar  3 10:00:01 mail postfix/cleanup[3002]: 4BA2D20C85F: message-id=<hold-1@c.example>
Mar  3 10:00:01 mail postfix/qmgr[3003]: 4BA2D20C85F: from=<s@c.example>, size=700, nrcpt=1 (queue active)
Mar  3 10:00:01 mail postfix/smtpd[3001]: disconnect from c.example[192.0.2.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5
Mar  3 10:00:02 mail postfix/smtp[3004]: 4BA2D20C85F: to=<r@remote.example>, relay=mx.remote.example[192.0.2.25]:25, delay=1, delays=0/0/0/1, dsn=4.3.0, status=deferred (host mx.remote.example[192.0.2.25] said: 451 4.3.0 try again later (in reply to RCPT TO command))
Mar  3 10:10:00 mail postfix/postsuper[3100]: 4BA2D20C85F: placed on hold
Mar  3 10:10:00 mail postfix/postsuper[3100]: Placed on hold: 1 message
"""
_REQUEUED_AND_HELD = """
Mar  3 10:20:00 mail postfix/postsuper[3102]: 4BA2D20C85F: requeued
Mar  3 10:20:00 mail postfix/postsuper[3102]: Requeued: 1 message
Mar  3 10:20:01 mail postfix/pickup[3005]: 4F12020C865: uid=0 from=<s@c.example> orig_id=4BA2D20C85F
Mar  3 10:20:01 mail postfix/cleanup[3002]: 4F12020C865: message-id=<hold-1@c.example>
Mar  3 10:20:01 mail postfix/qmgr[3003]: 4F12020C865: from=<s@c.example>, size=800, nrcpt=1 (queue active)
Mar  3 10:20:01 mail postfix/postsuper[3103]: 4F12020C865: placed on hold
Mar  3 10:20:01 mail postfix/postsuper[3103]: Placed on hold: 1 message
"""
HOLD_RELEASE_REQUEUE_HOLD = (
    _HELD_START
    + """
Mar  3 10:15:00 mail postfix/postsuper[3101]: 4BA2D20C85F: released from hold
Mar  3 10:15:00 mail postfix/postsuper[3101]: Released from hold: 1 message
"""
    + _REQUEUED_AND_HELD
)
# postsuper -r takes a held message out of the hold queue as well (no release first).
HOLD_REQUEUE_HOLD = _HELD_START + _REQUEUED_AND_HELD
# ... and the requeued copy is tried and deferred again before the new hold.
HOLD_RELEASE_REQUEUE_DEFER_HOLD = HOLD_RELEASE_REQUEUE_HOLD.replace(
    "Mar  3 10:20:01 mail postfix/postsuper[3103]",
    "Mar  3 10:20:02 mail postfix/smtp[3004]: 4F12020C865: to=<r@remote.example>, relay=mx.remote.example[192.0.2.25]:25, delay=1200, delays=1200/0/0/1, dsn=4.3.0, status=deferred (host mx.remote.example[192.0.2.25] said: 451 4.3.0 try again later (in reply to RCPT TO command))\n"
    "Mar  3 10:20:03 mail postfix/postsuper[3103]",
)
# The variant: held by the access map at RCPT (never tried), released, requeued
# with postsuper's line missing from the log, held again.
ACCESS_HOLD_RELEASE_REQUEUE_HOLD = """
Mar  3 10:00:00 mail postfix/smtpd[3001]: connect from c.example[192.0.2.1]
Mar  3 10:00:01 mail postfix/smtpd[3001]: 4BA2D20C85F: client=c.example[192.0.2.1]
Mar  3 10:00:01 mail postfix/smtpd[3001]: 4BA2D20C85F: hold: RCPT from c.example[192.0.2.1]: <r@remote.example>: Recipient address triggers HOLD action; from=<s@c.example> to=<r@remote.example> proto=ESMTP helo=<c.example>
Mar  3 10:00:01 mail postfix/cleanup[3002]: 4BA2D20C85F: message-id=<hold-1@c.example>
Mar  3 10:00:01 mail postfix/smtpd[3001]: disconnect from c.example[192.0.2.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5
Mar  3 10:15:00 mail postfix/postsuper[3101]: 4BA2D20C85F: released from hold
Mar  3 10:15:00 mail postfix/postsuper[3101]: Released from hold: 1 message
Mar  3 10:20:01 mail postfix/pickup[3005]: 4F12020C865: uid=0 from=<s@c.example> orig_id=4BA2D20C85F
Mar  3 10:20:01 mail postfix/cleanup[3002]: 4F12020C865: message-id=<hold-1@c.example>
Mar  3 10:20:01 mail postfix/qmgr[3003]: 4F12020C865: from=<s@c.example>, size=800, nrcpt=1 (queue active)
Mar  3 10:20:01 mail postfix/postsuper[3103]: 4F12020C865: placed on hold
Mar  3 10:20:01 mail postfix/postsuper[3103]: Placed on hold: 1 message
"""
# Requeued, then delivered from the new file.
HOLD_REQUEUE_DELIVERED = (
    _HELD_START
    + """
Mar  3 10:20:00 mail postfix/postsuper[3102]: 4BA2D20C85F: requeued
Mar  3 10:20:01 mail postfix/pickup[3005]: 4F12020C865: uid=0 from=<s@c.example> orig_id=4BA2D20C85F
Mar  3 10:20:01 mail postfix/cleanup[3002]: 4F12020C865: message-id=<hold-1@c.example>
Mar  3 10:20:01 mail postfix/qmgr[3003]: 4F12020C865: from=<s@c.example>, size=800, nrcpt=1 (queue active)
Mar  3 10:20:02 mail postfix/smtp[3004]: 4F12020C865: to=<r@remote.example>, relay=mx.remote.example[192.0.2.25]:25, delay=1200, delays=1200/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 Ok)
Mar  3 10:20:02 mail postfix/qmgr[3003]: 4F12020C865: removed
"""
)

# A milter answers 451 at the end of the first submission; the client retries and the
# retry is delivered.
MILTER_TEMPFAIL_THEN_RETRY = """
Mar  3 10:00:00 mail postfix/smtpd[3201]: connect from c.example[192.0.2.1]
Mar  3 10:00:01 mail postfix/smtpd[3201]: 1A2B3C4D5E: client=c.example[192.0.2.1]
Mar  3 10:00:01 mail postfix/cleanup[3202]: 1A2B3C4D5E: message-id=<tf-1@c.example>
Mar  3 10:00:01 mail postfix/cleanup[3202]: 1A2B3C4D5E: milter-reject: END-OF-MESSAGE from c.example[192.0.2.1]: 4.7.1 Service unavailable - try again later; from=<s@c.example> to=<r@mail.example> proto=ESMTP helo=<c.example>
Mar  3 10:00:01 mail postfix/smtpd[3201]: disconnect from c.example[192.0.2.1] ehlo=1 mail=1 rcpt=1 data=0/1 quit=1 commands=4/5
Mar  3 10:00:31 mail postfix/smtpd[3201]: connect from c.example[192.0.2.1]
Mar  3 10:00:31 mail postfix/smtpd[3201]: 2B3C4D5E6F: client=c.example[192.0.2.1]
Mar  3 10:00:31 mail postfix/cleanup[3202]: 2B3C4D5E6F: message-id=<tf-1@c.example>
Mar  3 10:00:31 mail postfix/qmgr[3203]: 2B3C4D5E6F: from=<s@c.example>, size=700, nrcpt=1 (queue active)
Mar  3 10:00:31 mail postfix/smtpd[3201]: disconnect from c.example[192.0.2.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5
Mar  3 10:00:32 mail postfix/local[3204]: 2B3C4D5E6F: to=<r@mail.example>, relay=local, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (delivered to mailbox)
Mar  3 10:00:32 mail postfix/qmgr[3203]: 2B3C4D5E6F: removed
"""
# A greylisting client comes back 20 minutes later: still the same e-mail.
MILTER_TEMPFAIL_THEN_LATE_RETRY = MILTER_TEMPFAIL_THEN_RETRY.replace("10:00:3", "10:20:3")
# Greylisting by a policy service at RCPT: no queue file the first time; the client comes
# back ten minutes later and the message is accepted.
GREYLISTED_THEN_ACCEPTED = """
Mar  3 10:00:00 mail postfix/smtpd[3401]: connect from c.example[192.0.2.1]
Mar  3 10:00:01 mail postfix/smtpd[3401]: NOQUEUE: reject: RCPT from c.example[192.0.2.1]: 450 4.2.0 <r@mail.example>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/mail.example.html; from=<s@c.example> to=<r@mail.example> proto=ESMTP helo=<c.example>
Mar  3 10:00:01 mail postfix/smtpd[3401]: disconnect from c.example[192.0.2.1] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4
Mar  3 10:10:00 mail postfix/smtpd[3402]: connect from c.example[192.0.2.1]
Mar  3 10:10:01 mail postfix/smtpd[3402]: 4D5E6F7A8B: client=c.example[192.0.2.1]
Mar  3 10:10:01 mail postfix/cleanup[3403]: 4D5E6F7A8B: message-id=<gl-1@c.example>
Mar  3 10:10:01 mail postfix/qmgr[3404]: 4D5E6F7A8B: from=<s@c.example>, size=700, nrcpt=1 (queue active)
Mar  3 10:10:01 mail postfix/smtpd[3402]: disconnect from c.example[192.0.2.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5
Mar  3 10:10:02 mail postfix/local[3405]: 4D5E6F7A8B: to=<r@mail.example>, relay=local, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (delivered to mailbox)
Mar  3 10:10:02 mail postfix/qmgr[3404]: 4D5E6F7A8B: removed
"""
# The same from a policy service in smtpd_end_of_data_restrictions (smtpd logs it).
POLICY_TEMPFAIL_THEN_RETRY = MILTER_TEMPFAIL_THEN_RETRY.replace(
    "mail postfix/cleanup[3202]: 1A2B3C4D5E: milter-reject: END-OF-MESSAGE from c.example[192.0.2.1]: 4.7.1 Service unavailable - try again later;",
    "mail postfix/smtpd[3201]: 1A2B3C4D5E: reject: END-OF-MESSAGE from c.example[192.0.2.1]: 451 4.7.1 <r@mail.example>: End-of-data rejected: try again later;",
)
# A permanent refusal stays one: the 5xx is not folded into a later outcome.
MILTER_REJECT_THEN_RESENT = MILTER_TEMPFAIL_THEN_RETRY.replace(
    "4.7.1 Service unavailable - try again later", "5.7.1 Spam message rejected"
)
# The retry is refused again for now: one entry, the last refusal, the first before it.
MILTER_TEMPFAIL_TWICE = """
Mar  3 10:00:00 mail postfix/smtpd[3201]: connect from c.example[192.0.2.1]
Mar  3 10:00:01 mail postfix/smtpd[3201]: 1A2B3C4D5E: client=c.example[192.0.2.1]
Mar  3 10:00:01 mail postfix/cleanup[3202]: 1A2B3C4D5E: message-id=<tf-1@c.example>
Mar  3 10:00:01 mail postfix/cleanup[3202]: 1A2B3C4D5E: milter-reject: END-OF-MESSAGE from c.example[192.0.2.1]: 4.7.1 Service unavailable - try again later; from=<s@c.example> to=<r@mail.example> proto=ESMTP helo=<c.example>
Mar  3 10:00:01 mail postfix/smtpd[3201]: disconnect from c.example[192.0.2.1] ehlo=1 mail=1 rcpt=1 data=0/1 quit=1 commands=4/5
Mar  3 10:00:31 mail postfix/smtpd[3201]: connect from c.example[192.0.2.1]
Mar  3 10:00:31 mail postfix/smtpd[3201]: 2B3C4D5E6F: client=c.example[192.0.2.1]
Mar  3 10:00:31 mail postfix/cleanup[3202]: 2B3C4D5E6F: message-id=<tf-1@c.example>
Mar  3 10:00:31 mail postfix/cleanup[3202]: 2B3C4D5E6F: milter-reject: END-OF-MESSAGE from c.example[192.0.2.1]: 4.7.1 Service unavailable - try again later; from=<s@c.example> to=<r@mail.example> proto=ESMTP helo=<c.example>
Mar  3 10:00:31 mail postfix/smtpd[3201]: disconnect from c.example[192.0.2.1] ehlo=1 mail=1 rcpt=1 data=0/1 quit=1 commands=4/5
"""

# The first RCPT is refused before the queue file exists (NOQUEUE), the next ones accepted.
FIRST_RCPT_REFUSED = """
Mar  3 10:00:00 mail postfix/smtpd[3301]: connect from c.example[192.0.2.1]
Mar  3 10:00:01 mail postfix/smtpd[3301]: NOQUEUE: reject: RCPT from c.example[192.0.2.1]: 550 5.1.1 <nobody@mail.example>: Recipient address rejected: User unknown in local recipient table; from=<s@c.example> to=<nobody@mail.example> proto=ESMTP helo=<c.example>
Mar  3 10:00:01 mail postfix/smtpd[3301]: 3C4D5E6F7A: client=c.example[192.0.2.1]
Mar  3 10:00:01 mail postfix/cleanup[3302]: 3C4D5E6F7A: message-id=<nq-1@c.example>
Mar  3 10:00:01 mail postfix/qmgr[3303]: 3C4D5E6F7A: from=<s@c.example>, size=700, nrcpt=2 (queue active)
Mar  3 10:00:01 mail postfix/smtpd[3301]: disconnect from c.example[192.0.2.1] ehlo=1 mail=1 rcpt=2/3 data=1 quit=1 commands=6/7
Mar  3 10:00:02 mail postfix/local[3304]: 3C4D5E6F7A: to=<a@mail.example>, relay=local, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (delivered to mailbox)
Mar  3 10:00:02 mail postfix/local[3304]: 3C4D5E6F7A: to=<b@mail.example>, relay=local, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (delivered to mailbox)
Mar  3 10:00:02 mail postfix/qmgr[3303]: 3C4D5E6F7A: removed
"""
# The refusal was for an earlier MAIL FROM of the session (then RSET and another sender).
REFUSED_FOR_ANOTHER_SENDER = FIRST_RCPT_REFUSED.replace(
    "from=<s@c.example> to=<nobody", "from=<other@c.example> to=<nobody"
)
# The "connect from" line is missing (the log starts mid-session, or a RELP de-duplication
# dropped it as equal to another session's): the session still links the refusal.
FIRST_RCPT_REFUSED_NO_CONNECT = "\n".join(
    line for line in FIRST_RCPT_REFUSED.splitlines() if "connect from" not in line
)
# The same smtpd process, another client: not this message's refusal.
REFUSED_FROM_ANOTHER_CLIENT = FIRST_RCPT_REFUSED_NO_CONNECT.replace(
    "NOQUEUE: reject: RCPT from c.example[192.0.2.1]",
    "NOQUEUE: reject: RCPT from x.example[192.0.2.9]",
)
# Nobody accepted, no queue file: the refusal stands alone.
ONLY_RCPT_REFUSED = "\n".join(
    line for line in FIRST_RCPT_REFUSED.splitlines() if "3C4D5E6F7A" not in line
)
# A queue file was opened but the client gave up before DATA: no e-mail, a lone refusal.
REFUSED_THEN_NO_DATA = """
Mar  3 10:00:00 mail postfix/smtpd[3301]: connect from c.example[192.0.2.1]
Mar  3 10:00:01 mail postfix/smtpd[3301]: NOQUEUE: reject: RCPT from c.example[192.0.2.1]: 550 5.1.1 <nobody@mail.example>: Recipient address rejected: User unknown in local recipient table; from=<s@c.example> to=<nobody@mail.example> proto=ESMTP helo=<c.example>
Mar  3 10:00:01 mail postfix/smtpd[3301]: 3C4D5E6F7B: client=c.example[192.0.2.1]
Mar  3 10:00:05 mail postfix/smtpd[3301]: lost connection after RCPT from c.example[192.0.2.1]
Mar  3 10:00:05 mail postfix/smtpd[3301]: disconnect from c.example[192.0.2.1] ehlo=1 mail=1 rcpt=1/2 commands=3/4
"""

# An administrator deletes a deferred message.
DEFERRED_THEN_DELETED = """
Mar  3 10:00:01 mail postfix/pickup[2001]: 5D6E7F8A9B: uid=1000 from=<ann@example.org>
Mar  3 10:00:01 mail postfix/cleanup[2002]: 5D6E7F8A9B: message-id=<del-1@example.org>
Mar  3 10:00:01 mail postfix/qmgr[2003]: 5D6E7F8A9B: from=<ann@example.org>, size=900, nrcpt=1 (queue active)
Mar  3 10:00:02 mail postfix/smtp[2004]: 5D6E7F8A9B: to=<bo@remote.example>, relay=mx.remote.example[192.0.2.25]:25, delay=1, delays=0/0/0/1, dsn=4.2.0, status=deferred (host mx.remote.example[192.0.2.25] said: 450 4.2.0 Mailbox busy (in reply to RCPT TO command))
Mar  3 10:30:00 mail postfix/postsuper[2100]: 5D6E7F8A9B: removed
Mar  3 10:30:00 mail postfix/postsuper[2100]: Deleted: 1 message
"""
# ... and postsuper -d likewise.
DELETE_DURING_DELIVERY = DEFERRED_THEN_DELETED.replace(
    "Mar  3 10:30:00 mail postfix/postsuper[2100]: Deleted: 1 message",
    "Mar  3 10:30:00 mail postfix/postsuper[2100]: Deleted: 1 message\n"
    "Mar  3 10:30:01 mail postfix/smtp[2004]: 5D6E7F8A9B: to=<bo@remote.example>, relay=mx.remote.example[192.0.2.25]:25, delay=1800, delays=1799/0/0/1, dsn=4.2.0, status=deferred (host mx.remote.example[192.0.2.25] said: 450 4.2.0 Mailbox busy (in reply to RCPT TO command))",
)


@pytest.mark.parametrize(
    ("log", "expected", "complete"),
    [
        (REQUEUE_THEN_EXPIRED, {"bo@remote.example": "expired"}, True),
        (REQUEUE_LOGGED_THEN_EXPIRED, {"bo@remote.example": "expired"}, True),
        (REQUEUE_LOGGED_AFTER_PICKUP, {"bo@remote.example": "expired"}, True),
        (REQUEUE_DURING_DELIVERY, {"bo@remote.example": "expired"}, True),
        (HOLD_RELEASE_REQUEUE_HOLD, {"r@remote.example": "held"}, False),
        (HOLD_REQUEUE_HOLD, {"r@remote.example": "held"}, False),
        (ACCESS_HOLD_RELEASE_REQUEUE_HOLD, {"r@remote.example": "held"}, False),
        (HOLD_RELEASE_REQUEUE_DEFER_HOLD, {"r@remote.example": "held"}, False),
        (HOLD_REQUEUE_DELIVERED, {"r@remote.example": "delivered"}, True),
        (MILTER_TEMPFAIL_THEN_RETRY, {"r@mail.example": "delivered"}, True),
        (MILTER_TEMPFAIL_THEN_LATE_RETRY, {"r@mail.example": "delivered"}, True),
        (POLICY_TEMPFAIL_THEN_RETRY, {"r@mail.example": "delivered"}, True),
        (GREYLISTED_THEN_ACCEPTED, {"r@mail.example": "delivered"}, True),
        (MILTER_TEMPFAIL_TWICE, {"r@mail.example": "rejected"}, True),
        (
            FIRST_RCPT_REFUSED,
            {
                "nobody@mail.example": "rejected",
                "a@mail.example": "delivered",
                "b@mail.example": "delivered",
            },
            True,
        ),
        (
            REFUSED_FOR_ANOTHER_SENDER,
            {"a@mail.example": "delivered", "b@mail.example": "delivered"},
            True,
        ),
        (
            FIRST_RCPT_REFUSED_NO_CONNECT,
            {
                "nobody@mail.example": "rejected",
                "a@mail.example": "delivered",
                "b@mail.example": "delivered",
            },
            True,
        ),
        (DEFERRED_THEN_DELETED, {"bo@remote.example": "deleted"}, True),
        (DELETE_DURING_DELIVERY, {"bo@remote.example": "deleted"}, True),
    ],
    ids=[
        "requeue-after-deferrals-then-expired",
        "requeue-logged-by-postsuper-then-expired",
        "requeue-logged-after-pickup-then-expired",
        "requeue-while-smtp-delivers-then-expired",
        "hold-release-requeue-hold-again",
        "hold-requeue-hold-again",
        "access-hold-release-unlogged-requeue-hold-again",
        "hold-release-requeue-deferred-hold-again",
        "hold-requeue-delivered",
        "milter-4xx-then-accepted-retry",
        "milter-4xx-then-retry-20-minutes-later",
        "policy-451-end-of-data-then-accepted-retry",
        "greylisted-at-rcpt-then-accepted",
        "milter-4xx-twice",
        "first-rcpt-refused-before-the-queue-file",
        "refusal-of-an-earlier-mail-from",
        "first-rcpt-refused-connect-line-missing",
        "deferred-then-deleted",
        "delete-while-smtp-delivers",
    ],
)
def test_each_recipient_has_one_final_status(
    log: str, expected: dict[str, str], complete: bool
) -> None:
    (mail,) = emails(run(log))
    assert len(mail.recipients) == len(expected), [r.to_dict() for r in mail.recipients]
    assert statuses(mail) == expected
    assert mail.complete is complete


@pytest.mark.parametrize(
    ("log", "inferred"),
    [
        (REQUEUE_THEN_EXPIRED, True),
        (REQUEUE_LOGGED_THEN_EXPIRED, None),
        (REQUEUE_LOGGED_AFTER_PICKUP, None),
    ],
    ids=["inferred", "logged", "logged-after-pickup"],
)
def test_requeued_file_ends_at_the_requeue(log: str, inferred: bool | None) -> None:
    out = run(log)
    assert len(out) == 1  # no second e-mail for a postsuper line that came late
    (mail,) = emails(out)
    assert [(t.queue_id, t.state) for t in mail.transactions] == [
        ("3F1A2B4C5D", "requeued"),
        ("7E8D9C0B1A", "removed"),
    ]
    assert [a.get("inferred") for a in mail.transactions[0].actions] == [inferred]
    (bo,) = mail.recipients
    assert (bo.queue_id, bo.attempts) == ("7E8D9C0B1A", 2)


@pytest.mark.parametrize(
    "log",
    [REQUEUE_THEN_EXPIRED, HOLD_RELEASE_REQUEUE_HOLD, MILTER_TEMPFAIL_THEN_RETRY],
    ids=["requeue", "hold-requeue-hold", "milter-4xx-retry"],
)
def test_checkpointed_state_gives_the_same_result(log: str) -> None:
    assert [r.to_dict() for r in run(log, chunks=4)] == [r.to_dict() for r in run(log)]


def test_temporary_refusal_is_an_earlier_step_of_the_retry() -> None:
    (mail,) = emails(run(MILTER_TEMPFAIL_THEN_RETRY))
    (r,) = mail.recipients
    assert (r.status, r.queue_id) == ("delivered", "2B3C4D5E6F")
    assert [(x["queue_id"], x["status"], x["dsn"]) for x in r.earlier] == [
        ("1A2B3C4D5E", "rejected", "4.7.1")
    ]
    assert r.to_dict()["earlier"] == r.earlier
    assert [j.dsn for j in mail.rejects] == ["4.7.1"]  # the refusal itself is still listed


def test_permanent_refusal_is_not_folded_into_a_resend() -> None:
    (mail,) = emails(run(MILTER_REJECT_THEN_RESENT))
    assert sorted((r.queue_id, r.status) for r in mail.recipients) == [
        ("1A2B3C4D5E", "rejected"),
        ("2B3C4D5E6F", "delivered"),
    ]
    assert all(not r.earlier for r in mail.recipients)


def test_refused_first_recipient_belongs_to_the_email_that_follows() -> None:
    out = run(FIRST_RCPT_REFUSED)
    assert [o for o in out if isinstance(o, Reject)] == []
    (mail,) = emails(out)
    assert [(j.recipient, j.queue_id, j.code) for j in mail.rejects] == [
        ("nobody@mail.example", None, "550")
    ]
    (nobody,) = [r for r in mail.recipients if r.address == "nobody@mail.example"]
    assert (nobody.dsn, nobody.queue_id) == ("5.1.1", "3C4D5E6F7A")


@pytest.mark.parametrize(
    ("log", "mails"),
    [
        (REFUSED_FOR_ANOTHER_SENDER, 1),
        (REFUSED_FROM_ANOTHER_CLIENT, 1),
        (ONLY_RCPT_REFUSED, 0),
        (REFUSED_THEN_NO_DATA, 0),
    ],
    ids=["another-sender", "another-client", "nobody-accepted", "no-data"],
)
def test_refusal_no_email_claims_stands_alone(log: str, mails: int) -> None:
    out = run(log)
    assert len(emails(out)) == mails
    assert all(not m.rejects for m in emails(out))
    assert [(o.recipient, o.code) for o in out if isinstance(o, Reject)] == [
        ("nobody@mail.example", "550")
    ]


@pytest.mark.parametrize(
    ("log", "actions"),
    [
        (DEFERRED_THEN_DELETED, [("5D6E7F8A9B", "postsuper removed")]),
        (
            HOLD_RELEASE_REQUEUE_HOLD,
            [
                ("4BA2D20C85F", "postsuper hold"),
                ("4BA2D20C85F", "postsuper released"),
                ("4BA2D20C85F", "postsuper requeued"),
                ("4F12020C865", "postsuper hold"),
            ],
        ),
        (REQUEUE_THEN_EXPIRED, [("3F1A2B4C5D", "postsuper requeued")]),
    ],
    ids=["delete", "hold-release-requeue-hold", "requeue-inferred"],
)
def test_admin_actions_are_kept_with_their_queue_file(
    log: str, actions: list[tuple[str, str]]
) -> None:
    (mail,) = emails(run(log))
    assert [(t.queue_id, a["action"]) for t in mail.transactions for a in t.actions] == actions


def _stream(log: str, later: str) -> tuple[Correlator, list[Email | Reject]]:
    """Feed ``log`` then one unrelated ``later`` line; what came out before the end."""
    env = EnvelopeParser(ClassicClock(2024, UTC))
    corr = Correlator()
    out: list[Email | Reject] = []
    for i, raw in enumerate([*log.strip().splitlines(), later], 1):
        corr.feed(parse(env.split(raw, i)))
        out.extend(corr.drain())
    return corr, out


@pytest.mark.parametrize(
    ("later", "emitted"),
    [("10:30:00", 0), ("11:00:02", 1)],
    ids=["waits-for-the-retry", "then-goes-out"],
)
def test_refused_for_now_waits_an_hour_for_the_retry(later: str, emitted: int) -> None:
    refused_once = MILTER_TEMPFAIL_THEN_RETRY.split("Mar  3 10:00:31", maxsplit=1)[0]
    line = f"Mar  3 {later} mail postfix/smtpd[9]: connect from x.example[192.0.2.9]"
    corr, out = _stream(refused_once, line)
    assert len(emails(out)) == emitted
    if emitted:
        (mail,) = emails(out)
        assert (mail.complete, statuses(mail)) == (True, {"r@mail.example": "rejected"})
    else:
        (snap,) = corr.open_snapshots()  # visible meanwhile, as it stands
        assert statuses(snap) == {"r@mail.example": "rejected"}


@pytest.mark.parametrize(
    ("change", "steps"),
    [
        ({}, [("450", "4.2.0")]),
        ({"from=<s@c.example> to=<r@": "from=<other@c.example> to=<r@"}, []),
        ({"RCPT from c.example[192.0.2.1]": "RCPT from x.example[192.0.2.9]"}, []),
        ({"Mar  3 10:10:": "Mar  3 11:10:"}, []),  # more than an hour later
    ],
    ids=["same-client-sender-recipient", "other-sender", "other-client", "too-late"],
)
def test_greylisting_is_an_earlier_step_of_the_accepted_retry(
    change: dict[str, str], steps: list[tuple[str, str]]
) -> None:
    log = GREYLISTED_THEN_ACCEPTED
    for old, new in change.items():
        assert old in log
        log = log.replace(old, new)
    out = run(log)
    (mail,) = emails(out)
    (r,) = mail.recipients
    assert r.status == "delivered"
    assert [(x["response"].split()[0], x["dsn"]) for x in r.earlier] == steps
    assert [j.recipient for j in out if isinstance(j, Reject)] == ["r@mail.example"]


def test_a_checkpoint_from_before_these_fields_still_loads() -> None:
    """The live worker's pickled correlator from an older version: no retry queue, no
    greylisting memory."""
    env = EnvelopeParser(ClassicClock(2024, UTC))
    corr = Correlator()
    lines = FIRST_RCPT_REFUSED.strip().splitlines()
    for i, raw in enumerate(lines[:1], 1):  # a session is open
        corr.feed(parse(env.split(raw, i)))
    state = corr.__getstate__()
    for name in ("retry_wait", "_retry", "_greylisted"):
        del state[name]
    old = Correlator.__new__(Correlator)
    old.__setstate__(state)
    out: list[Email | Reject] = []
    for i, raw in enumerate(lines[1:], 2):
        old.feed(parse(env.split(raw, i)))
        out.extend(old.drain())
    out.extend(old.finish())
    (mail,) = emails(out)
    assert statuses(mail)["nobody@mail.example"] == "rejected"
