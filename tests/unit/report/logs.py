"""Small realistic Postfix logs, one behaviour each, shared by the report tests."""

from __future__ import annotations

# A message scanned by amavis: smtpd -> qmgr -> amavis/smtp -> 10025/smtpd -> smtp.
AMAVIS = """
Mar 14 10:00:00 mx postfix/smtpd[100]: connect from mail.example.org[192.0.2.10]
Mar 14 10:00:01 mx postfix/smtpd[100]: 4A1B2C3D4E: client=mail.example.org[192.0.2.10]
Mar 14 10:00:01 mx postfix/cleanup[101]: 4A1B2C3D4E: message-id=<a1@example.org>
Mar 14 10:00:01 mx postfix/qmgr[102]: 4A1B2C3D4E: from=<Alice@Example.ORG>, size=2048, nrcpt=1 (queue active)
Mar 14 10:00:02 mx postfix/10025/smtpd[103]: connect from localhost[127.0.0.1]
Mar 14 10:00:02 mx postfix/10025/smtpd[103]: 5B2C3D4E5F: client=localhost[127.0.0.1]
Mar 14 10:00:02 mx postfix/cleanup[101]: 5B2C3D4E5F: message-id=<a1@example.org>
Mar 14 10:00:02 mx postfix/qmgr[102]: 5B2C3D4E5F: from=<Alice@Example.ORG>, size=2500, nrcpt=1 (queue active)
Mar 14 10:00:02 mx postfix/amavis/smtp[104]: 4A1B2C3D4E: to=<bob@Example.NET>, relay=127.0.0.1[127.0.0.1]:10024, delay=1.2, delays=0.1/0/0/1.1, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 5B2C3D4E5F)
Mar 14 10:00:02 mx postfix/qmgr[102]: 4A1B2C3D4E: removed
Mar 14 10:00:03 mx postfix/10025/smtpd[103]: disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5
Mar 14 10:00:04 mx postfix/smtp[105]: 5B2C3D4E5F: to=<bob@Example.NET>, relay=mx.example.net[198.51.100.5]:25, delay=2.5, delays=0/0/0.2/2.3, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 9ABCDEF012)
Mar 14 10:00:04 mx postfix/qmgr[102]: 5B2C3D4E5F: removed
Mar 14 10:00:05 mx postfix/smtpd[100]: disconnect from mail.example.org[192.0.2.10] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5
"""

# Another instance (ignored by pflogsumm), submission (counted), deferrals then a bounce.
INSTANCES = """
Mar 14 11:00:00 mx postfix-in/smtpd[200]: 6C3D4E5F6A: client=a.example.com[192.0.2.20]
Mar 14 11:00:00 mx postfix-in/qmgr[201]: 6C3D4E5F6A: from=<x@a.example.com>, size=100, nrcpt=1 (queue active)
Mar 14 11:00:01 mx postfix-in/smtp[202]: 6C3D4E5F6A: to=<y@b.example>, relay=b.example[198.51.100.7]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok)
Mar 14 11:00:01 mx postfix-in/qmgr[201]: 6C3D4E5F6A: removed
Mar 14 11:00:02 mx postfix/submission/smtpd[203]: 7D4E5F6A7B: client=laptop.example.com[203.0.113.9], sasl_method=PLAIN, sasl_username=carol
Mar 14 11:00:02 mx postfix/qmgr[204]: 7D4E5F6A7B: from=<carol@example.com>, size=300, nrcpt=2 (queue active)
Mar 14 11:00:03 mx postfix/smtp[205]: 7D4E5F6A7B: to=<dave@Other.example>, relay=mx.other.example[198.51.100.8]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok)
Mar 14 11:00:33 mx postfix/smtp[205]: 7D4E5F6A7B: to=<erin@other.example>, relay=none, delay=31, delays=0/0/31/0, dsn=4.4.1, status=deferred (connect to mx.other.example[198.51.100.8]:25: Connection timed out)
Mar 14 11:10:33 mx postfix/smtp[205]: 7D4E5F6A7B: to=<erin@other.example>, relay=none, delay=631, delays=600/0/31/0, dsn=4.4.1, status=deferred (connect to mx.other.example[198.51.100.8]:25: Connection timed out)
Mar 14 11:20:03 mx postfix/smtp[205]: 7D4E5F6A7B: to=<erin@other.example>, relay=mx.other.example[198.51.100.8]:25, delay=1201, delays=1200/0/0.5/0.5, dsn=5.1.1, status=bounced (host mx.other.example[198.51.100.8] said: 550 5.1.1 <erin@other.example>: Recipient address rejected: User unknown (in reply to RCPT TO command))
Mar 14 11:20:03 mx postfix/cleanup[207]: 8E4F5A6B7C: message-id=<20240314112003.8E4F5A6B7C@mx.example.com>
Mar 14 11:20:03 mx postfix/qmgr[204]: 8E4F5A6B7C: from=<>, size=2400, nrcpt=1 (queue active)
Mar 14 11:20:03 mx postfix/bounce[206]: 7D4E5F6A7B: sender non-delivery notification: 8E4F5A6B7C
Mar 14 11:20:03 mx postfix/qmgr[204]: 7D4E5F6A7B: removed
Mar 14 11:20:04 mx postfix/virtual[208]: 8E4F5A6B7C: to=<carol@example.com>, relay=virtual, delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, status=sent (delivered to maildir)
Mar 14 11:20:04 mx postfix/qmgr[204]: 8E4F5A6B7C: removed
"""

# Every kind of access/content decision pflogsumm counts.
DECISIONS = """
Mar 14 12:00:00 mx postfix/smtpd[300]: NOQUEUE: reject: RCPT from unknown[192.0.2.66]: 554 5.7.1 <spam@example.net>: Relay access denied; from=<spammer@example.biz> to=<spam@example.net> proto=ESMTP helo=<bad>
Mar 14 12:00:01 mx postfix/postscreen[301]: NOQUEUE: reject: RCPT from [192.0.2.67]:4711: 550 5.7.1 Service unavailable; client [192.0.2.67] blocked using zen.spamhaus.org; from=<a@b.example>, to=<c@d.example>, proto=ESMTP, helo=<x>
Mar 14 12:00:02 mx postfix/smtpd[300]: NOQUEUE: reject_warning: RCPT from unknown[192.0.2.68]: 450 4.7.1 <x>: Helo command rejected: Host not found; from=<a@b.example> to=<c@d.example> proto=ESMTP helo=<x>
Mar 14 12:00:03 mx postfix/smtpd[300]: 8E5F6A7B8C: client=good.example.com[192.0.2.69]
Mar 14 12:00:03 mx postfix/cleanup[302]: 8E5F6A7B8C: hold: header Subject: review me from good.example.com[192.0.2.69]; from=<g@good.example.com> to=<h@example.net> proto=ESMTP helo=<good.example.com>: Held by policy
Mar 14 12:00:04 mx postfix/cleanup[302]: 9F6A7B8C9D: warning: header Subject: odd from good.example.com[192.0.2.69]; from=<g@good.example.com> to=<h@example.net> proto=ESMTP helo=<good.example.com>
Mar 14 12:00:05 mx postfix/cleanup[302]: AF7B8C9DAE: reject: body buy now from good.example.com[192.0.2.69]; from=<g@good.example.com> to=<h@example.net> proto=ESMTP helo=<good.example.com>: 5.7.1 message content rejected
Mar 14 12:00:06 mx postfix/cleanup[302]: BF8C9DAEBF: milter-reject: END-OF-MESSAGE from good.example.com[192.0.2.69]: 5.7.1 Spam detected; from=<g@good.example.com> to=<h@example.net> proto=ESMTP helo=<good.example.com>
Mar 14 12:00:07 mx postfix/smtpd[300]: CF9DAEBFC0: discard: RCPT from good.example.com[192.0.2.69]: <h@example.net>: Recipient address triggers DISCARD action; from=<g@good.example.com> to=<h@example.net> proto=ESMTP helo=<good.example.com>
Mar 14 12:00:08 mx postfix/cleanup[302]: DFAEBFC0D1: milter-hold: END-OF-MESSAGE from good.example.com[192.0.2.69]: 4.7.1 quarantine; from=<g@good.example.com> to=<h@example.net> proto=ESMTP helo=<good.example.com>
Mar 14 12:00:09 mx postfix/smtpd[300]: NOQUEUE: client=unknown[192.0.2.70]
"""

# Local submission forwarded by an alias; null sender; a queue ID used twice.
LOCAL = """
Mar 14 13:00:00 mx postfix/pickup[400]: E0BFC0D1E2: uid=0 from=<root>
Mar 14 13:00:00 mx postfix/cleanup[401]: E0BFC0D1E2: message-id=<p1@mx.example.com>
Mar 14 13:00:00 mx postfix/qmgr[402]: E0BFC0D1E2: from=<root@mx.example.com>, size=500, nrcpt=1 (queue active)
Mar 14 13:00:00 mx postfix/cleanup[401]: F1C0D1E2F3: message-id=<p1@mx.example.com>
Mar 14 13:00:00 mx postfix/local[403]: E0BFC0D1E2: to=<root@mx.example.com>, orig_to=<root>, relay=local, delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, status=sent (forwarded as F1C0D1E2F3)
Mar 14 13:00:00 mx postfix/qmgr[402]: E0BFC0D1E2: removed
Mar 14 13:00:00 mx postfix/qmgr[402]: F1C0D1E2F3: from=<root@mx.example.com>, size=650, nrcpt=1 (queue active)
Mar 14 13:00:01 mx postfix/smtp[404]: F1C0D1E2F3: to=<admin@example.org>, orig_to=<root@mx.example.com>, relay=mx.example.org[192.0.2.30]:25, delay=1.1, delays=0/0/0.5/0.6, dsn=2.0.0, status=sent (250 2.0.0 Ok)
Mar 14 13:00:01 mx postfix/qmgr[402]: F1C0D1E2F3: removed
Mar 14 13:00:02 mx postfix/smtpd[405]: 1A2B3C4D5E: client=unknown[192.0.2.40]
Mar 14 13:00:02 mx postfix/qmgr[402]: 1A2B3C4D5E: from=<>, size=1200, nrcpt=1 (queue active)
Mar 14 13:00:03 mx postfix/virtual[406]: 1A2B3C4D5E: to=<Box@Example.com>, relay=virtual, delay=0.2, delays=0.1/0/0/0.1, dsn=2.0.0, status=sent (delivered to maildir)
Mar 14 13:00:03 mx postfix/qmgr[402]: 1A2B3C4D5E: removed
Mar 14 13:30:00 mx postfix/smtpd[405]: 1A2B3C4D5E: client=mail.news.example.co.uk[192.0.2.41]
Mar 14 13:30:00 mx postfix/qmgr[402]: 1A2B3C4D5E: from=<news@example.co.uk>, size=999, nrcpt=1 (queue active)
Mar 14 13:30:01 mx postfix/virtual[406]: 1A2B3C4D5E: to=<box@example.com>, relay=virtual, delay=0.2, delays=0.1/0/0/0.1, dsn=2.0.0, status=sent (delivered to maildir)
Mar 14 13:30:01 mx postfix/qmgr[402]: 1A2B3C4D5E: removed
"""

# Stamps pflogsumm takes (RFC 3339 with a zone, Solaris IDs) and ones it ignores.
STAMPS = """
2024-03-14T14:00:00.123456+01:00 mx postfix/smtpd[500]: 2B3C4D5E6F: client=a.example.org[192.0.2.50]
2024-03-14T14:00:00 mx postfix/smtpd[500]: 3C4D5E6F7A: client=b.example.org[192.0.2.51]
Mar 14 14:00:00.123 mx postfix/smtpd[500]: 4D5E6F7A8B: client=c.example.org[192.0.2.52]
Mar 14 14:00:01 mx postfix/smtpd[500]: [ID 197553 mail.info] 5E6F7A8B9C: client=d.example.org[192.0.2.53]
Mar 14 14:00:01 mx postfix/qmgr[502]: [ID 197553 mail.info] 5E6F7A8B9C: from=<u@d.example.org>, size=77, nrcpt=1 (queue active)
Mar 14 14:00:02 mx postfix-script[501]: starting the Postfix mail system
"""

# Problems: warnings, fatal, panic, master, an smtp connection failure.
PROBLEMS = """
Mar 14 15:00:00 mx postfix/smtpd[600]: warning: hostname x.example does not resolve to address 192.0.2.90
Mar 14 15:00:00 mx postfix/smtpd[600]: warning: hostname x.example does not resolve to address 192.0.2.90
Mar 14 15:00:01 mx postfix/qmgr[601]: fatal: open lock file /var/lib/postfix/master.lock: cannot open file: Permission denied
Mar 14 15:00:02 mx postfix/cleanup[602]: panic: myfree: corrupt or unallocated memory block
Mar 14 15:00:03 mx postfix/master[603]: daemon started -- version 3.7.11, configuration /etc/postfix
Mar 14 15:00:04 mx postfix/smtp[604]: connect to mx.down.example[198.51.100.99]:25: Connection refused
"""

POSTSCREEN = """
Mar 14 16:00:00 mx postfix/postscreen[700]: CONNECT from [192.0.2.80]:5000 to [192.0.2.1]:25
Mar 14 16:00:00 mx postfix/postscreen[700]: PREGREET 11 after 0.1 from [192.0.2.80]:5000: EHLO x\\r\\n
Mar 14 16:00:00 mx postfix/postscreen[700]: HANGUP after 0.2 from [192.0.2.80]:5000 in tests after SMTP handshake
Mar 14 16:00:01 mx postfix/postscreen[700]: CONNECT from [192.0.2.81]:5001 to [192.0.2.1]:25
Mar 14 16:00:01 mx postfix/dnsblog[701]: addr 192.0.2.81 listed by domain zen.spamhaus.org as 127.0.0.2
Mar 14 16:00:01 mx postfix/postscreen[700]: DNSBL rank 3 for [192.0.2.81]:5001
Mar 14 16:00:02 mx postfix/postscreen[700]: CONNECT from [192.0.2.82]:5002 to [192.0.2.1]:25
Mar 14 16:00:02 mx postfix/postscreen[700]: PASS NEW [192.0.2.82]:5002
Mar 14 16:00:03 mx postfix/postscreen[700]: CONNECT from [192.0.2.83]:5003 to [192.0.2.1]:25
Mar 14 16:00:03 mx postfix/postscreen[700]: PASS OLD [192.0.2.83]:5003
"""

# The same one-message traffic on two days, at 10:xx.
TWO_DAYS = """
Mar 14 10:00:01 mx postfix/smtpd[800]: 1B2C3D4E5F: client=a.example.org[192.0.2.11]
Mar 14 10:00:01 mx postfix/qmgr[801]: 1B2C3D4E5F: from=<a@example.org>, size=10, nrcpt=1 (queue active)
Mar 14 10:00:02 mx postfix/local[802]: 1B2C3D4E5F: to=<u@mx.example.com>, relay=local, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (delivered to mailbox)
Mar 14 10:00:02 mx postfix/qmgr[801]: 1B2C3D4E5F: removed
Mar 15 10:30:01 mx postfix/smtpd[800]: 2C3D4E5F6A: client=b.example.org[192.0.2.12]
Mar 15 10:30:01 mx postfix/qmgr[801]: 2C3D4E5F6A: from=<b@example.org>, size=20, nrcpt=1 (queue active)
Mar 15 10:30:02 mx postfix/local[802]: 2C3D4E5F6A: to=<u@mx.example.com>, relay=local, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (delivered to mailbox)
Mar 15 10:30:02 mx postfix/qmgr[801]: 2C3D4E5F6A: removed
"""

# A custom syslog_name, as pflogsumm --syslog-name sees it.
SYSLOG_NAME = """
Mar 14 17:00:00 mx postfix-out/smtpd[900]: 3D4E5F6A7B: client=c.example.org[192.0.2.13]
Mar 14 17:00:00 mx postfix-out/qmgr[901]: 3D4E5F6A7B: from=<c@example.org>, size=30, nrcpt=1 (queue active)
Mar 14 17:00:01 mx postfix-out/smtp[902]: 3D4E5F6A7B: to=<v@example.net>, relay=mx.example.net[198.51.100.5]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok)
Mar 14 17:00:01 mx postfix/smtpd[903]: 4E5F6A7B8C: client=d.example.org[192.0.2.14]
"""

ALL = {
    "amavis": AMAVIS,
    "instances": INSTANCES,
    "decisions": DECISIONS,
    "local": LOCAL,
    "stamps": STAMPS,
    "problems": PROBLEMS,
    "postscreen": POSTSCREEN,
    "two_days": TWO_DAYS,
    "syslog_name": SYSLOG_NAME,
}
