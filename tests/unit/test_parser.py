"""One row per Postfix line type: the line, the kind it must parse to, and key fields.

Lines are real ones (from the public corpus and Postfix's own sources) with the
envelope written out, so each case also exercises the envelope splitter.
"""

from __future__ import annotations

from datetime import UTC

import pytest

from else_core.envelope import split_line
from else_core.parser import parse

H = "Mar 14 00:00:31 mx postfix"

CASES = [
    # --- smtpd sessions -------------------------------------------------------------------
    (
        f"{H}/smtpd[1]: connect from mail.example.com[192.0.2.1]",
        "connect",
        None,
        {"client_host": "mail.example.com", "client_ip": "192.0.2.1"},
    ),
    (
        f"{H}/smtpd[1]: connect from unknown[2001:db8::1]:48556",
        "connect",
        None,
        {"client_host": "unknown", "client_ip": "2001:db8::1", "client_port": 48556},
    ),
    (
        f"{H}/smtpd[1]: disconnect from a.example[192.0.2.1] ehlo=2 starttls=1 mail=1 rcpt=0/1 quit=1 commands=5/6",
        "disconnect",
        None,
        {
            "client_ip": "192.0.2.1",
            "counters": {
                "ehlo": (2, 2),
                "starttls": (1, 1),
                "mail": (1, 1),
                "rcpt": (0, 1),
                "quit": (1, 1),
                "commands": (5, 6),
            },
        },
    ),
    (
        f"{H}/smtpd[1]: lost connection after AUTH from unknown[192.0.2.9]",
        "conn_error",
        None,
        {"error": "lost connection", "stage": "AUTH", "client_ip": "192.0.2.9"},
    ),
    (
        f"{H}/smtpd[1]: timeout after DATA (1234 bytes) from a.example[192.0.2.1]",
        "conn_error",
        None,
        {"error": "timeout", "stage": "DATA"},
    ),
    (
        f"{H}/smtpd[1]: too many errors after RCPT from a.example[192.0.2.1]",
        "conn_error",
        None,
        {"error": "too many errors", "stage": "RCPT"},
    ),
    (
        f"{H}/smtpd[1]: improper command pipelining after EHLO from x[192.0.2.1]: QUIT",
        "conn_error",
        None,
        {"error": "improper command pipelining", "stage": "EHLO"},
    ),
    (
        f"{H}/smtpd[1]: NOQUEUE: lost connection after CONNECT from unknown[192.0.2.25]",
        "conn_error",
        None,
        {"stage": "CONNECT"},
    ),
    (
        f"{H}/smtpd[1]: 4PbC4x469Jz3tBr: client=mail.example.com[192.0.2.1], sasl_method=PLAIN, "
        "sasl_username=alice@example.com",
        "client",
        "4PbC4x469Jz3tBr",
        {
            "client_host": "mail.example.com",
            "client_ip": "192.0.2.1",
            "sasl_method": "PLAIN",
            "sasl_username": "alice@example.com",
        },
    ),
    (
        f"{H}/smtpd[1]: 3pJjgB6dpKz1JBPW: client=localhost[127.0.0.1], orig_queue_id=3pJjg82Vycz1JBJG, "
        "orig_client=wursti.dovecot.fi[87.106.245.223]",
        "client",
        "3pJjgB6dpKz1JBPW",
        {"orig_queue_id": "3pJjg82Vycz1JBJG", "orig_client": "wursti.dovecot.fi[87.106.245.223]"},
    ),
    (
        f"{H}/smtpd[1]: Anonymous TLS connection established from a.example[192.0.2.1]: TLSv1.3 with cipher "
        "TLS_AES_256_GCM_SHA384 (256/256 bits)",
        "tls",
        None,
        {
            "direction": "in",
            "level": "Anonymous",
            "protocol": "TLSv1.3",
            "cipher": "TLS_AES_256_GCM_SHA384",
        },
    ),
    (
        f"{H}/smtpd[1]: warning: unknown[192.0.2.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, "
        "sasl_username=bob",
        "sasl_fail",
        None,
        {"client_ip": "192.0.2.7", "method": "LOGIN", "sasl_username": "bob"},
    ),
    (
        f"{H}/smtpd[1]: warning: hostname x.example does not resolve to address 192.0.2.8",
        "warning",
        None,
        {"level": "warning"},
    ),
    # --- smtpd decisions ------------------------------------------------------------------
    (
        f"{H}/smtpd[1]: NOQUEUE: reject: RCPT from 1-2-3-4.example[192.0.2.4]: 554 5.7.1 <smtp@example.com>: "
        "Relay access denied; from=<john@example.com> to=<smtp@example.org> proto=SMTP helo=<198.51.100.17>",
        "action",
        None,
        {
            "action": "reject",
            "stage": "RCPT",
            "code": "554",
            "dsn": "5.7.1",
            "sender": "john@example.com",
            "recipient": "smtp@example.org",
            "proto": "SMTP",
            "helo": "198.51.100.17",
            "reason": "<smtp@example.com>: Relay access denied",
        },
    ),
    (
        f"{H}/smtpd[1]: NOQUEUE: reject: RCPT from example.com[192.0.43.10]: 450 4.7.1 : Helo command rejected: "
        "Host not found; from=<> to=<> proto=ESMTP helo=",
        "action",
        None,
        {"action": "reject", "code": "450", "sender": "", "recipient": ""},
    ),
    (
        f"{H}/smtpd[1]: NOQUEUE: reject_warning: RCPT from x[192.0.2.1]: 450 4.1.8 <a@b>: Sender address rejected: "
        "Domain not found; from=<a@b> to=<c@d> proto=ESMTP helo=<x>",
        "action",
        None,
        {"action": "reject_warning", "recipient": "c@d"},
    ),
    (
        f"{H}/smtpd[1]: NOQUEUE: reject: CONNECT from x[192.0.2.1]: 554 5.7.1 <x[192.0.2.1]>: Client host rejected: "
        "Access denied; proto=SMTP",
        "action",
        None,
        {"action": "reject", "stage": "CONNECT", "proto": "SMTP"},
    ),
    (
        f"{H}/smtpd[1]: A1B2C3D4E5: reject: RCPT from x[192.0.2.1]: 550 5.1.1 <no@ex.com>: Recipient address "
        "rejected: User unknown; from=<a@b.c> to=<no@ex.com> proto=ESMTP helo=<x>",
        "action",
        "A1B2C3D4E5",
        {"action": "reject", "recipient": "no@ex.com", "dsn": "5.1.1"},
    ),
    (
        f"{H}/smtpd[1]: A1B2C3D4E5: hold: RCPT from x[192.0.2.1]: <a@b.c>: Sender address triggers HOLD action; "
        "from=<a@b.c> to=<r@ex.com> proto=ESMTP helo=<x>",
        "action",
        "A1B2C3D4E5",
        {"action": "hold"},
    ),
    (
        f"{H}/smtpd[1]: A1B2C3D4E5: discard: RCPT from x[192.0.2.1]: <r@ex.com>: Recipient address triggers "
        "DISCARD action; from=<a@b.c> to=<r@ex.com> proto=ESMTP helo=<x>",
        "action",
        "A1B2C3D4E5",
        {"action": "discard", "recipient": "r@ex.com"},
    ),
    (
        f"{H}/smtpd[1]: NOQUEUE: milter-reject: END-OF-MESSAGE from x[192.0.2.1]: 5.7.1 Command rejected; "
        "from=<a@b.c> to=<r@ex.com> proto=ESMTP helo=<x>",
        "action",
        None,
        {"action": "milter-reject", "stage": "END-OF-MESSAGE", "dsn": "5.7.1"},
    ),
    (
        f"{H}/smtpd[1]: A1B2C3D4E5: proxy-accept: END-OF-MESSAGE: 250 2.0.0 Ok: queued as B2C3D4E5F6; "
        "from=<a@b.c> to=<r@ex.com> proto=ESMTP helo=<x>",
        "action",
        "A1B2C3D4E5",
        {"action": "proxy-accept", "stage": "END-OF-MESSAGE", "code": "250"},
    ),
    (
        f"{H}/smtpd[1]: NOQUEUE: proxy-reject: END-OF-MESSAGE: 554 5.7.0 Spam; from=<a@b.c> to=<r@ex.com> "
        "proto=ESMTP helo=<x>",
        "action",
        None,
        {"action": "proxy-reject", "code": "554"},
    ),
    # --- postscreen / dnsblog / anvil -----------------------------------------------------
    (
        f"{H}/postscreen[2]: CONNECT from [185.48.118.128]:36942 to [188.34.187.246]:25",
        "ps_connect",
        None,
        {"client_ip": "185.48.118.128", "client_port": 36942},
    ),
    (f"{H}/postscreen[2]: PASS OLD [185.48.118.128]:36942", "ps_pass", None, {"pass": "OLD"}),
    (
        f"{H}/postscreen[2]: PASS NEW [2001:db8::5]:36942",
        "ps_pass",
        None,
        {"pass": "NEW", "client_ip": "2001:db8::5"},
    ),
    (
        f"{H}/postscreen[2]: PREGREET 11 after 0.08 from [192.0.2.3]:4711: EHLO x\\r\\n",
        "ps_event",
        None,
        {"event": "PREGREET", "client_ip": "192.0.2.3"},
    ),
    (
        f"{H}/postscreen[2]: DNSBL rank 3 for [192.0.2.3]:4711",
        "ps_event",
        None,
        {"event": "DNSBL", "rank": 3, "client_ip": "192.0.2.3"},
    ),
    (
        f"{H}/postscreen[2]: HANGUP after 0.5 from [192.0.2.3]:4711 in tests after SMTP handshake",
        "ps_event",
        None,
        {"event": "HANGUP"},
    ),
    (
        f"{H}/postscreen[2]: DISCONNECT [192.0.2.3]:4711",
        "ps_disconnect",
        None,
        {"client_ip": "192.0.2.3"},
    ),
    (
        f"{H}/postscreen[2]: NOQUEUE: reject: RCPT from [192.0.2.3]:4711: 550 5.7.1 Service unavailable; client "
        "[192.0.2.3] blocked using zen.spamhaus.org; from=<s@x.org>, to=<r@ex.com>, proto=ESMTP, helo=<x.org>",
        "action",
        None,
        {"action": "reject", "sender": "s@x.org", "recipient": "r@ex.com", "helo": "x.org"},
    ),
    (
        f"{H}/postscreen[2]: NOQUEUE: reject: CONNECT from [192.0.2.3]:4711: too many connections",
        "action",
        None,
        {"action": "reject", "stage": "CONNECT", "reason": "too many connections"},
    ),
    (
        f"{H}/dnsblog[3]: addr 192.0.2.3 listed by domain zen.spamhaus.org as 127.0.0.4",
        "dnsbl",
        None,
        {"client_ip": "192.0.2.3", "domain": "zen.spamhaus.org", "result": "127.0.0.4"},
    ),
    (
        f"{H}/anvil[4]: statistics: max connection rate 1/60s for (smtp:192.0.2.3) at Oct 26 18:13:50",
        "anvil",
        None,
        {"stat": "connection rate", "value": "1/60s", "client": "smtp:192.0.2.3"},
    ),
    (
        f"{H}/anvil[4]: statistics: max cache size 1 at Oct 26 18:13:50",
        "anvil",
        None,
        {"stat": "cache size"},
    ),
    # --- queue file life ------------------------------------------------------------------
    (
        f"{H}/pickup[5]: 7E1A62A00F: uid=0 from=<root>",
        "pickup",
        "7E1A62A00F",
        {"uid": 0, "sender": "root"},
    ),
    (
        f"{H}/pickup[5]: 7E1A62A00F: uid=0 from=<root> orig_id=6D09C2A00E",
        "pickup",
        "7E1A62A00F",
        {"orig_id": "6D09C2A00E"},
    ),
    (
        f"{H}/cleanup[6]: 7E1A62A00F: message-id=<abc@example.com>",
        "message_id",
        "7E1A62A00F",
        {"message_id": "abc@example.com"},
    ),
    (f"{H}/cleanup[6]: 7E1A62A00F: message-id=<>", "message_id", "7E1A62A00F", {"message_id": ""}),
    (f"{H}/cleanup[6]: 7E1A62A00F: message-id=", "message_id", "7E1A62A00F", {"message_id": ""}),
    (
        f"{H}/cleanup[6]: 7E1A62A00F: resent-message-id=<r@example.com>",
        "resent_message_id",
        "7E1A62A00F",
        {"message_id": "r@example.com"},
    ),
    (
        f"{H}/cleanup[6]: 7E1A62A00F: reject: header Subject: buy now from x[192.0.2.1]; from=<a@b.c> "
        "to=<r@ex.com> proto=ESMTP helo=<x>: 5.7.1 message content rejected",
        "action",
        "7E1A62A00F",
        {
            "action": "reject",
            "stage": "header",
            "detail": "Subject: buy now",
            "dsn": "5.7.1",
            "recipient": "r@ex.com",
        },
    ),
    (
        f"{H}/cleanup[6]: 7E1A62A00F: warning: header Subject: hi from local; from=<root> to=<r@ex.com>",
        "action",
        "7E1A62A00F",
        {"action": "warning", "stage": "header", "client_host": "local"},
    ),
    (
        f"{H}/cleanup[6]: 7E1A62A00F: hold: body HOLD ME from x[192.0.2.1]; from=<a@b.c> to=<r@ex.com> "
        "proto=SMTP helo=<x>",
        "action",
        "7E1A62A00F",
        {"action": "hold", "stage": "body"},
    ),
    (
        f"{H}/cleanup[6]: 7E1A62A00F: milter-reject: END-OF-MESSAGE from x[192.0.2.1]: 5.7.1 Virus found; "
        "from=<a@b.c> to=<r@ex.com> proto=ESMTP helo=<x>",
        "action",
        "7E1A62A00F",
        {"action": "milter-reject", "stage": "END-OF-MESSAGE"},
    ),
    (
        f"{H}/cleanup[6]: 7E1A62A00F: milter-hold: END-OF-MESSAGE from x[192.0.2.1]: milter triggers HOLD "
        "action; from=<a@b.c> to=<r@ex.com> proto=ESMTP helo=<x>",
        "action",
        "7E1A62A00F",
        {"action": "milter-hold"},
    ),
    (
        f"{H}/qmgr[7]: 7E1A62A00F: from=<a@b.c>, size=1234, nrcpt=2 (queue active)",
        "qmgr_from",
        "7E1A62A00F",
        {"sender": "a@b.c", "size": 1234, "nrcpt": 2},
    ),
    (
        f"{H}/qmgr[7]: 7E1A62A00F: from=<>, size=1234, nrcpt=1 (queue active)",
        "qmgr_from",
        "7E1A62A00F",
        {"sender": ""},
    ),
    (
        f"{H}/qmgr[7]: 7E1A62A00F: from=<a@b.c>, status=expired, returned to sender",
        "expired",
        "7E1A62A00F",
        {"sender": "a@b.c"},
    ),
    (
        f"{H}/qmgr[7]: 7E1A62A00F: from=<a@b.c>, status=force-expired, returned to sender",
        "expired",
        "7E1A62A00F",
        {},
    ),
    (f"{H}/qmgr[7]: 7E1A62A00F: removed", "removed", "7E1A62A00F", {}),
    (f"{H}/qmgr[7]: 7E1A62A00F: skipped, still being delivered", "skipped", "7E1A62A00F", {}),
    # --- deliveries -----------------------------------------------------------------------
    (
        f"{H}/smtp[8]: 7E1A62A00F: to=<r@ex.com>, relay=mx.ex.com[192.0.2.2]:25, delay=1.2, "
        "delays=0.1/0/0.5/0.6, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4PbC4x469Jz3tBr)",
        "delivery",
        "7E1A62A00F",
        {
            "to": "r@ex.com",
            "status": "sent",
            "relay_host": "mx.ex.com",
            "relay_ip": "192.0.2.2",
            "relay_port": 25,
            "delay": 1.2,
            "delays": (0.1, 0.0, 0.5, 0.6),
            "dsn": "2.0.0",
            "queued_as": "4PbC4x469Jz3tBr",
        },
    ),
    (
        f"{H}/smtp[8]: 7E1A62A00F: to=<r@ex.com>, orig_to=<alias@ex.com>, relay=mx.ex.com[192.0.2.2]:25, "
        "conn_use=3, delay=1.2, delays=0.1/0/0.5/0.6, dsn=4.4.1, status=deferred (connect to mx[192.0.2.2]:25: "
        "Connection refused)",
        "delivery",
        "7E1A62A00F",
        {"orig_to": "alias@ex.com", "conn_use": 3, "status": "deferred", "dsn": "4.4.1"},
    ),
    (
        f"{H}/smtp[8]: 3pJjg82Vycz1JBJG: to=<r@ex.com>, relay=127.0.0.1[127.0.0.1]:10024, delay=0.38, "
        "delays=0.23/0.02/0/0.13, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): "
        "250 2.0.0 Ok: queued as 3pJjgB6dpKz1JBPW)",
        "delivery",
        "3pJjg82Vycz1JBJG",
        {"queued_as": "3pJjgB6dpKz1JBPW", "relay_port": 10024},
    ),
    (
        f"{H}/local[9]: 7E1A62A00F: to=<bob@ex.com>, relay=local, delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, "
        "status=sent (delivered to mailbox)",
        "delivery",
        "7E1A62A00F",
        {"relay": "local", "status": "sent"},
    ),
    (
        f"{H}/local[9]: 7E1A62A00F: to=<alias@ex.com>, relay=local, delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, "
        "status=sent (forwarded as 8F2B72A010)",
        "delivery",
        "7E1A62A00F",
        {"forwarded_as": "8F2B72A010"},
    ),
    (
        f"{H}/local[9]: 7E1A62A00F: to=<x@ex.com>, relay=local, delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, "
        'status=sent (delivered to command: procmail -a "$EXTENSION" DEFAULT=$HOME/',
        "delivery",
        "7E1A62A00F",
        {"status": "sent"},
    ),
    (
        f"{H}/virtual[9]: 7E1A62A00F: to=<v@ex.com>, relay=virtual, delay=0.03, delays=0/0/0/0.03, dsn=2.0.0, "
        "status=sent (delivered to maildir)",
        "delivery",
        "7E1A62A00F",
        {"relay": "virtual"},
    ),
    (
        f"{H}/lmtp[9]: 7E1A62A00F: to=<v@ex.com>, relay=mail.ex.com[private/dovecot-lmtp], delay=0.1, "
        "delays=0/0/0/0.1, dsn=2.0.0, status=sent (250 2.0.0 <v@ex.com> x Saved)",
        "delivery",
        "7E1A62A00F",
        {"relay_host": "mail.ex.com", "relay_ip": "private/dovecot-lmtp"},
    ),
    (
        f"{H}/pipe[9]: 7E1A62A00F: to=<v@ex.com>, relay=dovecot, delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, "
        "status=sent (delivered via dovecot service)",
        "delivery",
        "7E1A62A00F",
        {"relay": "dovecot"},
    ),
    (
        f"{H}/error[9]: 7E1A62A00F: to=<v@ex.com>, relay=none, delay=0.1, delays=0/0/0/0.1, dsn=4.4.1, "
        "status=deferred (delivery temporarily suspended: connect to x[192.0.2.2]:25: Connection timed out)",
        "delivery",
        "7E1A62A00F",
        {"relay": "none", "status": "deferred"},
    ),
    (
        f"{H}/smtp[8]: 7E1A62A00F: to=<r@ex.com>, relay=none, delay=0.09, delays=0.02/0.05/0.02/0, dsn=5.1.0, "
        "status=bounced (Domain example.com does not accept mail (nullMX))",
        "delivery",
        "7E1A62A00F",
        {"status": "bounced", "response": "Domain example.com does not accept mail (nullMX)"},
    ),
    (
        f"{H}/discard[9]: 7E1A62A00F: to=<r@ex.com>, relay=none, delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, "
        "status=sent (discarded)",
        "delivery",
        "7E1A62A00F",
        {"status": "sent"},
    ),
    # --- smtp client problems ---------------------------------------------------------------
    (
        f"{H}/smtp[8]: connect to mx.ex.com[192.0.2.2]:25: Connection refused",
        "smtp_error",
        None,
        {"peer_host": "mx.ex.com", "peer_ip": "192.0.2.2"},
    ),
    (
        f"{H}/smtp[8]: 7E1A62A00F: lost connection with mx.ex.com[192.0.2.2] while sending RCPT TO",
        "smtp_error",
        "7E1A62A00F",
        {"peer_ip": "192.0.2.2"},
    ),
    (
        f"{H}/smtp[8]: 7E1A62A00F: host mx.ex.com[192.0.2.2] said: 450 4.2.0 Greylisted (in reply to RCPT TO "
        "command)",
        "smtp_error",
        "7E1A62A00F",
        {"peer_host": "mx.ex.com"},
    ),
    (
        f"{H}/smtp[8]: Trusted TLS connection established to mx.ex.com[192.0.2.2]:25: TLSv1.2 with cipher "
        "ECDHE-RSA-AES256-SHA (256/256 bits)",
        "tls",
        None,
        {"direction": "out", "level": "Trusted"},
    ),
    # --- bounce, postsuper, master ------------------------------------------------------------
    (
        f"{H}/bounce[10]: 7E1A62A00F: sender non-delivery notification: 8F2B72A010",
        "bounce",
        "7E1A62A00F",
        {"notify": "non-delivery", "to": "sender", "new_qid": "8F2B72A010"},
    ),
    (
        f"{H}/bounce[10]: 7E1A62A00F: sender delay notification: 8F2B72A010",
        "bounce",
        "7E1A62A00F",
        {"notify": "delay"},
    ),
    (
        f"{H}/bounce[10]: 7E1A62A00F: sender delivery status notification: 8F2B72A010",
        "bounce",
        "7E1A62A00F",
        {"notify": "delivery"},
    ),
    (
        f"{H}/bounce[10]: 7E1A62A00F: postmaster non-delivery notification: 8F2B72A010",
        "bounce",
        "7E1A62A00F",
        {"to": "postmaster"},
    ),
    (f"{H}/postsuper[11]: 7E1A62A00F: removed", "postsuper", "7E1A62A00F", {"op": "removed"}),
    (f"{H}/postsuper[11]: 7E1A62A00F: requeued", "postsuper", "7E1A62A00F", {"op": "requeued"}),
    (f"{H}/postsuper[11]: 7E1A62A00F: placed on hold", "postsuper", "7E1A62A00F", {"op": "hold"}),
    (
        f"{H}/postsuper[11]: 7E1A62A00F: released from hold",
        "postsuper",
        "7E1A62A00F",
        {"op": "released"},
    ),
    (
        f"{H}/postsuper[11]: Deleted: 3 messages",
        "postsuper_summary",
        None,
        {"op": "removed", "count": 3},
    ),
    (
        f"{H}/postsuper[11]: Placed on hold: 1 message",
        "postsuper_summary",
        None,
        {"op": "hold", "count": 1},
    ),
    (
        f"{H}/master[12]: daemon started -- version 3.7.11, configuration /etc/postfix",
        "master",
        None,
        {},
    ),
    (f"{H}/master[12]: terminating on signal 15", "master", None, {}),
    (f"{H}/postfix-script[13]: starting the Postfix mail system", "master", None, {}),
    (
        f"{H}/master[12]: warning: process /usr/lib/postfix/sbin/smtpd pid 9 exit status 1",
        "warning",
        None,
        {"level": "warning"},
    ),
    (
        f"{H}/smtpd[1]: fatal: file /etc/postfix/main.cf: parameter default_privs: unknown user",
        "warning",
        None,
        {"level": "fatal"},
    ),
    (
        f"{H}/qmgr[7]: panic: myfree: corrupt or unallocated memory block",
        "warning",
        None,
        {"level": "panic"},
    ),
    (f"{H}/scache[14]: statistics: domain lookup hits=0 miss=1 success=0%", "info", None, {}),
    (f"{H}/tlsproxy[15]: CONNECT from [192.0.2.1]:47992", "info", None, {}),
    # --- multi-instance and nested service names -------------------------------------------------
    (
        "Mar 14 00:00:31 mx postfix-in/smtpd[1]: connect from a.example[192.0.2.1]",
        "connect",
        None,
        {},
    ),
    (
        "Mar 14 00:00:31 mx postfix/submission/smtpd[1]: connect from a.example[192.0.2.1]",
        "connect",
        None,
        {},
    ),
    (
        "Mar 14 00:00:31 mx postfix/scan/smtp[1]: 7E1A62A00F: to=<r@ex.com>, relay=none, delay=1, "
        "delays=0/0/0/1, dsn=4.4.1, status=deferred (x)",
        "delivery",
        "7E1A62A00F",
        {},
    ),
    (
        "Mar 14 00:00:31 mx postfix-10.20.30.40/qmgr[1]: 7E1A62A00F: removed",
        "removed",
        "7E1A62A00F",
        {},
    ),
    # --- amavis and foreign programs ---------------------------------------------------------------
    (
        "Mar 14 00:00:31 mx amavis[2000]: (02000-01) Passed CLEAN {RelayedInbound}, [192.0.2.1]:4711 "
        "[192.0.2.1] <a@b.c> -> <r@ex.com>,<s@ex.com>, Queue-ID: 3pJjg82Vycz1JBJG, Message-ID: <m@b.c>, "
        "mail_id: x, Hits: -1.2, size: 1234, queued_as: 3pJjgB6dpKz1JBPW, 245 ms",
        "amavis",
        "3pJjg82Vycz1JBJG",
        {
            "result": "Passed",
            "category": "CLEAN",
            "sender": "a@b.c",
            "recipients": ["r@ex.com", "s@ex.com"],
            "message_id": "m@b.c",
            "queued_as": ["3pJjgB6dpKz1JBPW"],
            "size": 1234,
        },
    ),
    (
        "Mar 14 00:00:31 mx amavis[2000]: (02000-02) Blocked SPAM {DiscardedInbound}, [192.0.2.1]:4711 "
        "<a@b.c> -> <r@ex.com>, Queue-ID: 7E1A62A00F, Message-ID: <m@b.c>, Hits: 12.1, 200 ms",
        "amavis",
        "7E1A62A00F",
        {"result": "Blocked", "category": "SPAM"},
    ),
    (
        "Mar 14 00:00:31 mx dovecot: imap-login: Login: user=<u@ex.com>, method=PLAIN",
        "foreign",
        None,
        {},
    ),
    (
        "Mar 14 00:00:31 mx opendkim[77]: 7E1A62A00F: DKIM-Signature field added",
        "foreign",
        None,
        {},
    ),
    ("Mar 14 00:00:31 mx postfix/smtpd[1]: something Postfix might say one day", "other", None, {}),
    ("this is not a syslog line at all", "malformed", None, {}),
]


@pytest.mark.parametrize(("raw", "kind", "qid", "fields"), CASES, ids=[c[0][30:90] for c in CASES])
def test_line_parses_to_its_event(raw: str, kind: str, qid: str | None, fields: dict) -> None:
    ev = parse(split_line(raw, 1, 2023, UTC))
    assert ev.kind == kind
    assert ev.qid == qid
    for key, value in fields.items():
        assert ev.f.get(key) == value, key


@pytest.mark.parametrize(
    "raw",
    [
        "Mar 14 00:00:31 mx postfix/smtpd[1]: connect from \x00\x00[192.0.2.1]",
        "Mar 14 00:00:31 mx postfix/smtpd[1]: " + "A" * 1_000_000,
        "Mar 14 00:00:31 mx postfix/smtp[8]: 7E1A62A00F: to=<\ufffd\ufffd>, relay=x, delay=x",
        "Mar 14 00:00:31 mx postfix/qmgr[7]: 7E1A62A00F: from=<a>, size=999999999999999999999, nrcpt=1",
        "Mar 14 00:00:31 mx postfix/smtpd[1]:",
        "Mar 14 00:00:31 mx postfix/smtpd[]: connect from x[1.2.3.4]",
        "2023-13-45T99:99:99+01:00 mx postfix/smtpd[1]: connect from x[1.2.3.4]",
        "",
    ],
    ids=[
        "nul",
        "huge",
        "replacement-chars",
        "huge-number",
        "empty-message",
        "empty-pid",
        "bad-date",
        "empty",
    ],
)
def test_hostile_line_never_raises(raw: str) -> None:
    ev = parse(split_line(raw, 1, 2023, UTC))
    assert ev.kind in {"connect", "other", "delivery", "qmgr_from", "malformed", "foreign", "info"}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (
            "Mar 14 12:00:04 mx postfix/cleanup[302]: 9F6A7B8C9D: warning: header Subject: odd from "
            "good.example.com[192.0.2.69]; from=<g@good.example.com> to=<h@example.net> proto=ESMTP "
            "helo=<good.example.com>",
            None,
        ),
        (
            "Mar 14 12:00:04 mx postfix/cleanup[302]: 9F6A7B8C9D: reject: body viagra from "
            "x.example[192.0.2.69]; from=<g@x.example> to=<h@example.net> proto=ESMTP helo=<x>: "
            "5.7.1 no pills",
            "no pills",
        ),
    ],
    ids=["no-reply-text", "reply-text"],
)
def test_content_check_reason_is_only_the_reply(raw: str, reason: str | None) -> None:
    ev = parse(split_line(raw, 1, 2023, UTC))
    assert ev.f.get("reason") == reason
    assert ev.f["detail"] in {"Subject: odd", "viagra"}
