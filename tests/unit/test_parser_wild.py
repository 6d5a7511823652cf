"""Postfix lines as other versions and configurations write them, and hostile ones.

Each line is written here in the format the Postfix source produces (smtpd.c
``log_whatsup``, cleanup_milter.c, log_adhoc.c, bounce.c, qmgr_active.c), with the
addresses and hosts made up; none is copied from a log.
"""

from __future__ import annotations

import time
from datetime import UTC

import pytest

from else_core.envelope import split_line
from else_core.parser import parse

H = "Mar 14 00:00:31 mx postfix"
SMTPD = f"{H}/smtpd[1]: NOQUEUE: reject:"
DELIVERY = "to=<c@d.example>, relay=mx.d.example[192.0.2.2]:25, delay=0.5, delays=0.1/0/0.2/0.2"

CASES = [
    # --- smtpd decisions whose tail lacks a part (log_whatsup writes only what it knows) ----
    (
        f"{SMTPD} MAIL from x.example[192.0.2.1]: 553 5.7.1 <s@x.example>: Sender address rejected: "
        "not owned by user bob; from=<s@x.example> proto=ESMTP helo=<x.example>",
        "action",
        None,
        {
            "stage": "MAIL",
            "sender": "s@x.example",
            "recipient": None,
            "proto": "ESMTP",
            "helo": "x.example",
            "reason": "<s@x.example>: Sender address rejected: not owned by user bob",
        },
    ),
    (
        f"{SMTPD} DATA from x.example[192.0.2.1]: 550 5.5.3 <DATA>: Data command rejected: "
        "Multi-recipient bounce; from=<> proto=ESMTP helo=<x.example>",
        "action",
        None,
        {
            "stage": "DATA",
            "sender": "",
            "recipient": None,
            "reason": "<DATA>: Data command rejected: Multi-recipient bounce",
        },
    ),
    (
        f"{SMTPD} BDAT from x.example[192.0.2.1]: 552 5.3.4 Message size exceeds fixed limit; "
        "from=<a@b.example> proto=ESMTP helo=<x>",
        "action",
        None,
        {"stage": "BDAT", "sender": "a@b.example", "reason": "Message size exceeds fixed limit"},
    ),
    (
        f"{SMTPD} VRFY from x.example[192.0.2.1]: 502 5.5.1 VRFY command is disabled; to=<root> "
        "proto=SMTP helo=<x>",
        "action",
        None,
        {
            "stage": "VRFY",
            "sender": None,
            "recipient": "root",
            "helo": "x",
            "reason": "VRFY command is disabled",
        },
    ),
    (
        f"{SMTPD} RCPT from x.example[192.0.2.1]: 550 5.1.1 <c@d.example>: Recipient address "
        'rejected: User unknown; from=<"odd> name"@b.example> to=<c@d.example> proto=ESMTP '
        "helo=<[192.0.2.1]>",
        "action",
        None,
        {"sender": '"odd> name"@b.example', "recipient": "c@d.example", "helo": "[192.0.2.1]"},
    ),
    (
        f"{SMTPD} RCPT from bücher.example[192.0.2.1]: 554 5.7.1 <c@müller.example>: Relay access "
        "denied; from=<a@bücher.example> to=<c@müller.example> proto=ESMTP helo=<bücher.example>",
        "action",
        None,
        {"client_host": "bücher.example", "recipient": "c@müller.example"},
    ),
    (
        f"{SMTPD} RCPT from x.example[192.0.2.1]: 554 5.7.1 Service unavailable; Client host "
        "[192.0.2.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.1; "
        "from=<a@b.example> to=<c@d.example> proto=ESMTP helo=<x>",
        "action",
        None,
        {
            "recipient": "c@d.example",
            "reason": "Service unavailable; Client host [192.0.2.1] blocked using "
            "zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.1",
        },
    ),
    (
        f"{H}/smtpd[1]: NOQUEUE: milter-reject: CONNECT from x.example[192.0.2.1]: 554 5.7.1 go "
        "away; proto=SMTP",
        "action",
        None,
        {"action": "milter-reject", "stage": "CONNECT", "proto": "SMTP", "reason": "go away"},
    ),
    (
        f"{H}/submission/smtpd[1]: NOQUEUE: reject: RCPT from x.example[192.0.2.1]:4711: 553 5.7.1 "
        "<a@b.example>: Sender address rejected: not logged in; from=<a@b.example> "
        "to=<c@d.example> proto=ESMTP helo=<x>",
        "action",
        None,
        {"client_port": 4711, "sender": "a@b.example", "recipient": "c@d.example"},
    ),
    # Before-queue filter replies also come without a queue ID or NOQUEUE in front.
    (
        f"{H}/smtpd[1]: proxy-accept: END-OF-MESSAGE: 250 2.0.0 from MTA(smtp:[127.0.0.1]:10026): "
        "250 2.0.0 Ok: queued as 9F8E7D6C5B; from=<a@b.example> to=<c@d.example> proto=ESMTP "
        "helo=<x>",
        "action",
        None,
        {
            "action": "proxy-accept",
            "stage": "END-OF-MESSAGE",
            "code": "250",
            "sender": "a@b.example",
        },
    ),
    (
        f"{H}/smtpd[1]: proxy-reject: END-OF-MESSAGE: ; from=<a@b.example> to=<c@d.example> "
        "proto=ESMTP helo=<[192.0.2.1]>",
        "action",
        None,
        {"action": "proxy-reject", "recipient": "c@d.example", "reason": ""},
    ),
    # --- postscreen (comma-separated tail) ---------------------------------------------------
    (
        f"{H}/postscreen[2]: NOQUEUE: reject: RCPT from [2001:db8::1]:4242: 550 5.7.1 Service "
        "unavailable; client [2001:db8::1] blocked using zen.spamhaus.org; from=<>, "
        "to=<c@d.example>, proto=ESMTP, helo=<x>",
        "action",
        None,
        {"client_ip": "2001:db8::1", "sender": "", "recipient": "c@d.example", "helo": "x"},
    ),
    (
        f"{H}/postscreen[2]: COMMAND PIPELINING from [192.0.2.1]:4242 after EHLO: MAIL "
        "FROM:<a@b.example>\\r\\n",
        "ps_event",
        None,
        {"event": "COMMAND PIPELINING", "client_ip": "192.0.2.1"},
    ),
    (
        f"{H}/postscreen[2]: NON-SMTP COMMAND from [192.0.2.1]:4242 after CONNECT: GET / HTTP/1.1",
        "ps_event",
        None,
        {"event": "NON-SMTP COMMAND"},
    ),
    # --- cleanup ------------------------------------------------------------------------------
    (
        f'{H}/cleanup[8]: A1B2C3D4E5: reject: header From: "Evil" <e@v.example> from '
        "x.example[192.0.2.1]; from=<a@b.example> to=<c@d.example> proto=ESMTP helo=<x>: 5.7.1 "
        "Spoofed sender",
        "action",
        "A1B2C3D4E5",
        {"detail": 'From: "Evil" <e@v.example>', "dsn": "5.7.1", "reason": "Spoofed sender"},
    ),
    (
        f"{H}/cleanup[8]: A1B2C3D4E5: reject: header Subject: a line that syslog cut sho",
        "action",
        "A1B2C3D4E5",
        {"action": "reject", "stage": "header", "detail": "Subject: a line that syslog cut sho"},
    ),
    (
        f"{H}/cleanup[8]: A1B2C3D4E5: milter-reject: END-OF-MESSAGE from localhost[127.0.0.1]: "
        "4.7.1 Try again later; from=<a@b.example> to=<c@d.example> proto=ESMTP helo=<localhost>",
        "action",
        "A1B2C3D4E5",
        {"action": "milter-reject", "dsn": "4.7.1", "reason": "Try again later"},
    ),
    # --- deliveries -----------------------------------------------------------------------------
    (
        f"{H}/smtp[8]: A1B2C3D4E5: {DELIVERY}, dsn=5.1.1, status=SOFTBOUNCE (host "
        "mx.d.example[192.0.2.2] said: 550 5.1.1 <c@d.example>: User unknown (in reply to RCPT TO "
        "command))",
        "delivery",
        "A1B2C3D4E5",
        {"status": "deferred", "soft_bounce": True, "dsn": "5.1.1"},
    ),
    (
        f"{H}/smtp[8]: A1B2C3D4E5: {DELIVERY}, tls=starttls/(dane), dsn=2.0.0, status=sent (250 "
        "2.0.0 Ok: queued as 4Xk2Jd0Z3Hz9sWp)",
        "delivery",
        "A1B2C3D4E5",
        {
            "status": "sent",
            "delay": 0.5,
            "delays": (0.1, 0.0, 0.2, 0.2),
            "dsn": "2.0.0",
            "tls": "starttls/(dane)",
            "queued_as": "4Xk2Jd0Z3Hz9sWp",
        },
    ),
    (
        f"{H}/smtp[8]: A1B2C3D4E5: to=<c@d.example>, relay=mx.d.example[192.0.2.2]:25, delay=5, "
        "status=sent (250 Ok)",
        "delivery",
        "A1B2C3D4E5",
        {"status": "sent", "delay": 5.0, "dsn": None, "response": "250 Ok"},
    ),
    (
        f'{H}/smtp[8]: A1B2C3D4E5: to=<"odd>, name"@d.example>, relay=mx.d.example[192.0.2.2]:25, '
        "delay=5, delays=0/0/0/5, dsn=2.0.0, status=sent (250 Ok)",
        "delivery",
        "A1B2C3D4E5",
        {"to": '"odd>, name"@d.example', "relay_port": 25},
    ),
    (
        f"{H}/smtp[8]: A1B2C3D4E5: {DELIVERY}, dsn=2.1.5, status=deliverable (250 2.1.5 Ok)",
        "delivery",
        "A1B2C3D4E5",
        {"status": "deliverable"},
    ),
    (
        f"{H}/smtp[8]: A1B2C3D4E5: {DELIVERY}, dsn=2.0.0, status=sent (250 2.0.0 Ok, id=12345-01, "
        "from MTA([127.0.0.1]:10025): 250 2.0.0 Ok: queued as B2C3D4E5F6)",
        "delivery",
        "A1B2C3D4E5",
        {"queued_as": "B2C3D4E5F6"},
    ),
    (
        f"{H}/lmtp[9]: A1B2C3D4E5: to=<u@mx.example>, orig_to=<alias@mx.example>, "
        "relay=mx.example[/var/run/dovecot/lmtp], delay=0.1, delays=0/0/0/0.1, dsn=4.2.2, "
        "status=deferred (host mx.example[/var/run/dovecot/lmtp] said: 452 4.2.2 <u@mx.example> "
        "Quota exceeded (mailbox for user is full) (in reply to end of DATA command))",
        "delivery",
        "A1B2C3D4E5",
        {
            "orig_to": "alias@mx.example",
            "relay_ip": "/var/run/dovecot/lmtp",
            "response": "host mx.example[/var/run/dovecot/lmtp] said: 452 4.2.2 <u@mx.example> "
            "Quota exceeded (mailbox for user is full) (in reply to end of DATA command)",
        },
    ),
    (
        f"{H}/qmgr[7]: A1B2C3D4E5: to=<c@d.example>, relay=none, delay=0.1, delays=0.1/0/0/0, "
        "dsn=5.0.0, status=bounced (mail for d.example loops back to myself)",
        "delivery",
        "A1B2C3D4E5",
        {"status": "bounced"},
    ),
    (
        f"{H}/error[13]: A1B2C3D4E5: to=<u@yahoo.example>, relay=none, delay=0.01, "
        "delays=0.01/0/0/0, dsn=5.1.1, status=undeliverable-but-not-cached (User unknown in "
        "virtual alias table)",
        "delivery",
        "A1B2C3D4E5",
        {"status": "undeliverable", "dsn": "5.1.1"},
    ),
    # A status word this parser has never seen is kept when its "(text)" shows it is whole.
    (
        f"{H}/smtp[8]: A1B2C3D4E5: {DELIVERY}, dsn=2.0.0, status=relayed (250 ok)",
        "delivery",
        "A1B2C3D4E5",
        {"status": "relayed", "response": "250 ok"},
    ),
    # A line cut inside its status is not a delivery with a made-up status.
    (f"{H}/smtp[8]: A1B2C3D4E5: {DELIVERY}, dsn=2.0.0, status=se", "other", "A1B2C3D4E5", {}),
    (f"{H}/smtp[8]: A1B2C3D4E5: to=<c@d.example>, relay=mx.d.exa", "other", "A1B2C3D4E5", {}),
    # --- other daemons ------------------------------------------------------------------------
    (
        f"{H}/qmgr[7]: A1B2C3D4E5: status=deferred (bounce failed)",
        "info",
        "A1B2C3D4E5",
        {},
    ),
    (
        f"{H}/smtp[8]: mx.d.example[192.0.2.2]:25: re-using session with untrusted certificate, "
        "look for details earlier in the log",
        "info",
        None,
        {},
    ),
    (
        f"{H}/qmqpd[3]: A1B2C3D4E5: client=relay.example[192.0.2.3]",
        "client",
        "A1B2C3D4E5",
        {"client_host": "relay.example", "client_ip": "192.0.2.3"},
    ),
    (
        f"{H}/cleanup[8]: warning: 4Xk2Jd0Z3Hz9sWp: milter inet:127.0.0.1:8891: can't read "
        "SMFIC_BODYEOB reply packet header: Connection reset by peer",
        "warning",
        "4Xk2Jd0Z3Hz9sWp",
        {
            "level": "warning",
            "text": "4Xk2Jd0Z3Hz9sWp: milter inet:127.0.0.1:8891: can't read "
            "SMFIC_BODYEOB reply packet header: Connection reset by peer",
        },
    ),
    # Postfix < 2.5 wrote no trust level.
    (
        f"{H}/smtpd[1]: TLS connection established from unknown[192.0.2.1]: TLSv1 with cipher "
        "DHE-RSA-AES256-SHA (256/256 bits)",
        "tls",
        None,
        {"direction": "in", "level": None, "peer_ip": "192.0.2.1", "protocol": "TLSv1"},
    ),
    (
        f"{H}/smtp[8]: TLS connection established to mx.d.example[192.0.2.2]:25: TLSv1 with "
        "cipher AES256-SHA (256/256 bits)",
        "tls",
        None,
        {"direction": "out", "cipher": "AES256-SHA"},
    ),
    # postsuper -e/-f (Postfix >= 3.5, postsuper.c expire_one and its report)
    (f"{H}/postsuper[19]: A1B2C3D4E5: expired", "postsuper", "A1B2C3D4E5", {"op": "expired"}),
    (
        f"{H}/postsuper[19]: Force-expired: 2 messages",
        "postsuper_summary",
        None,
        {"op": "expired", "count": 2},
    ),
    (
        f"{H}/postsuper[19]: Renamed to match inode number: 1 message",
        "postsuper_summary",
        None,
        {"op": "renamed", "count": 1},
    ),
    (f"{H}/postlog[25]: backup finished", "info", None, {"text": "backup finished"}),
    (f"{H}/postlog[25]: warning: disk almost full", "warning", None, {"level": "warning"}),
    (
        "Mar 14 00:00:31 mx postfix-out/smtp[8]: A1B2C3D4E5: to=<c@d.example>, relay=none, "
        "delay=1, delays=0/0/1/0, dsn=4.4.1, status=deferred (connect to mx.d.example[192.0.2.2]:25: "
        "Connection timed out)",
        "delivery",
        "A1B2C3D4E5",
        {"status": "deferred"},
    ),
    (
        f"{H}/smtps/smtpd[1]: disconnect from x.example[192.0.2.1] ehlo=1 auth=0/1 quit=1 "
        "commands=2/3",
        "disconnect",
        None,
        {"counters": {"ehlo": (1, 1), "auth": (0, 1), "quit": (1, 1), "commands": (2, 3)}},
    ),
]


@pytest.mark.parametrize(("raw", "kind", "qid", "fields"), CASES, ids=[c[0][27:90] for c in CASES])
def test_line_as_postfix_writes_it_parses(
    raw: str, kind: str, qid: str | None, fields: dict
) -> None:
    ev = parse(split_line(raw, 1, 2023, UTC))
    assert ev.kind == kind
    assert ev.qid == qid
    for key, value in fields.items():
        assert ev.f.get(key) == value, key


N = 20_000
HOSTILE = {
    # Each of these took from 50 s to 3 min with the earlier regular expressions.
    "tail-of-empty-addresses": f"{SMTPD} RCPT from x[192.0.2.1]: 554 x; from=<"
    + "> to=<>" * N
    + "x",
    "delivery-of-relays": f"{H}/smtp[1]: A1B2C3D4E5: to=<" + ">, relay=x, " * N,
    # And shapes aimed at the linear replacements.
    "tail-of-markers": f"{SMTPD} RCPT from x[192.0.2.1]: 554 x; from=<" + "> to=<" * N + "!",
    "tail-of-details": f"{SMTPD} RCPT from x[192.0.2.1]: 554 x; from=<a> to=<" + ">: " * N + "> x",
    "tail-of-protos": f"{SMTPD} RCPT from x[192.0.2.1]: 554 x; from=<" + ">, proto=" * N + "!",
    "delivery-of-fields": f"{H}/smtp[1]: A1B2C3D4E5: to=<a>, relay=x, " + "delay=1, " * N,
    "check-of-clients": f"{H}/cleanup[1]: A1B2C3D4E5: reject: header " + "a from x[1.2.3.4]; " * N,
    # Found by repeating pieces of the lines above (seconds each, quadratic).
    "disconnect-long-word": f"{H}/smtpd[1]: disconnect from a.example[192.0.2.1] ehlo=1 "
    + "starttls" * N,
    "peer-long-host": f"{H}/smtp[8]: connect to " + "mx.ex.com" * N + ": Connection refused",
    "relay-of-brackets": f"{H}/smtp[8]: A1B2C3D4E5: to=<a>, relay=" + "[192." * N + ", delay=1, "
    "status=sent (250 ok)",
    "amavis-of-angles": "Mar 14 00:00:31 mx amavis[2]: (02000-01) Passed CLEAN, "
    + "<" * N
    + "> -> <r@ex.com>",
    "anvil-of-fors": f"{H}/anvil[4]: statistics: max " + "rate 1 for (" * N,
    "check-of-brackets": f"{H}/cleanup[1]: A1B2C3D4E5: reject: header " + " from x[" * N,
    "postscreen-of-brackets": f"{H}/postscreen[2]: HANGUP after 1 from " + "[" * N,
    # Numbers too long for int() are odd fields, not exceptions.
    "amavis-huge-size": "Mar 14 00:00:31 mx amavis[2]: (02000-01) Passed CLEAN, <a@b.c> -> <r@ex.com>,"
    " size: " + "9" * N,
    "postscreen-huge-port": f"{H}/postscreen[2]: CONNECT from [192.0.2.1]:" + "9" * N,
    "relay-huge-port": f"{H}/smtp[8]: A1B2C3D4E5: to=<a>, relay=mx[192.0.2.2]:"
    + "9" * N
    + ", delay=1, status=sent (250 ok)",
}


@pytest.mark.parametrize("raw", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_line_parses_in_linear_time_without_raising(raw: str) -> None:
    start = time.perf_counter()
    parse(split_line(raw, 1, 2023, UTC))
    assert time.perf_counter() - start < 1.0  # milliseconds here; minutes if quadratic


WHOLE = [
    f"{H}/smtp[8]: A1B2C3D4E5: to=<c@d.example>, orig_to=<o@d.example>, relay=mx[192.0.2.2]:25, "
    "conn_use=2, delay=0.5, delays=0.1/0/0.2/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued "
    "as 4Xk2Jd0Z3Hz9sWp)",
    f"{SMTPD} RCPT from x[192.0.2.1]: 554 5.7.1 <c@d.example>: Relay access denied; "
    "from=<a@b.example> to=<c@d.example> proto=ESMTP helo=<x>",
    f"{H}/cleanup[8]: A1B2C3D4E5: reject: header Subject: x from x[192.0.2.1]; from=<a@b.example> "
    "to=<c@d.example> proto=ESMTP helo=<x>: 5.7.1 nope",
    f"{H}/qmgr[7]: A1B2C3D4E5: from=<a@b.example>, status=expired, returned to sender",
    f"{H}/smtpd[1]: A1B2C3D4E5: client=x[192.0.2.1]:4711, sasl_method=PLAIN, sasl_username=u",
]


@pytest.mark.parametrize("whole", WHOLE, ids=lambda w: w[27:60])
def test_line_cut_anywhere_never_raises_nor_invents_a_status(whole: str) -> None:
    for end in range(len(H), len(whole) + 1):
        ev = parse(split_line(whole[:end], 1, 2023, UTC))
        if ev.kind == "delivery":
            assert ev.f["status"] in {"sent", "deferred", "bounced"}, whole[:end]
