"""Make a Postfix log with N e-mails (default 1,000,000) for bench/search.

Real log corpora are mostly connection noise (pixelpark: 178 e-mails in 70,000 lines),
so a million e-mails would take hundreds of millions of lines. This writes five real
line shapes per e-mail (smtpd client=, cleanup message-id=, qmgr from=, smtp to=,
qmgr removed), with a few percent bounced and deferred-then-sent, over ten days on two
servers; senders and recipients come from fixed pools (seeded, so runs are comparable).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

START = datetime(2026, 3, 1, tzinfo=UTC)
DAYS = 10
WORDS = (
    "alpha", "bravo", "delta", "echo", "kilo", "lima", "mike", "oscar", "papa", "romeo",
    "sierra", "tango", "victor", "xray", "zulu", "nova", "orbit", "pixel", "quartz", "river",
)  # fmt: skip


def pools(rng: random.Random) -> tuple[list[str], list[str], list[str], list[str]]:
    sdomains = [f"{rng.choice(WORDS)}{i}.example.com" for i in range(5000)]
    rdomains = [f"{rng.choice(WORDS)}-{i}.example.net" for i in range(2000)]
    senders = [f"{rng.choice(WORDS)}.{i}@{rng.choice(sdomains)}" for i in range(100_000)]
    recipients = [f"user{i}.{rng.choice(WORDS)}@{rng.choice(rdomains)}" for i in range(200_000)]
    return sdomains, rdomains, senders, recipients


def write_log(path: Path, emails: int, seed: int = 42) -> dict[str, list[str]]:
    """Write the log; returns samples (recipients, senders, message ids, queue ids)."""
    rng = random.Random(seed)
    _, _, senders, recipients = pools(rng)
    step = DAYS * 86400 / emails
    samples: dict[str, list[str]] = {
        "recipient": [],
        "sender": [],
        "message_id": [],
        "queue_id": [],
    }
    with path.open("w") as out:
        w = out.write
        for i in range(emails):
            ts = START + timedelta(seconds=i * step)
            t0 = ts.isoformat()
            t1 = (ts + timedelta(milliseconds=300)).isoformat()
            host = "mx1" if i % 3 else "mx2"
            qid = f"{i + 0x10000000:X}"[:12]
            sender = senders[rng.randrange(len(senders))]
            rcpt = recipients[rng.randrange(len(recipients))]
            mid = f"{i:x}.{rng.randrange(1 << 30):x}@{sender.rpartition('@')[2]}"
            size = rng.randrange(800, 400_000)
            pid = 1000 + i % 30000
            cip = f"203.0.{i % 250}.{i % 200 + 1}"
            if i % 997 == 0:
                for k, v in (("recipient", rcpt), ("sender", sender), ("message_id", mid),
                             ("queue_id", qid)):  # fmt: skip
                    samples[k].append(v)
            client = f"mail{i % 5000}.example.org[{cip}]"
            w(f"{t0} {host} postfix/smtpd[{pid}]: {qid}: client={client}\n")
            w(f"{t0} {host} postfix/cleanup[{pid + 1}]: {qid}: message-id=<{mid}>\n")
            w(f"{t0} {host} postfix/qmgr[900]: {qid}: from=<{sender}>, size={size}, nrcpt=1"
              " (queue active)\n")  # fmt: skip
            relay = f"mx.{rcpt.rpartition('@')[2]}[198.51.100.{i % 250}]:25"
            r = rng.random()
            if r < 0.03:
                w(f"{t1} {host} postfix/smtp[{pid + 2}]: {qid}: to=<{rcpt}>, relay={relay},"
                  " delay=0.4, delays=0.01/0/0.2/0.19, dsn=5.1.1, status=bounced (host"
                  f" mx.{rcpt.rpartition('@')[2]}[198.51.100.{i % 250}] said: 550 5.1.1"
                  f" <{rcpt}>: Recipient address rejected: User unknown"
                  " (in reply to RCPT TO command))\n")  # fmt: skip
            else:
                if r < 0.06:
                    w(f"{t1} {host} postfix/smtp[{pid + 2}]: {qid}: to=<{rcpt}>, relay=none,"
                      " delay=30, delays=0.01/0/30/0, dsn=4.4.1, status=deferred (connect to"
                      f" mx.{rcpt.rpartition('@')[2]}[198.51.100.{i % 250}]:25: Connection"
                      " timed out)\n")  # fmt: skip
                w(f"{t1} {host} postfix/smtp[{pid + 2}]: {qid}: to=<{rcpt}>, relay={relay},"
                  " delay=0.52, delays=0.01/0/0.2/0.31, dsn=2.0.0, status=sent (250 2.0.0 Ok:"
                  f" queued as R{i:X})\n")  # fmt: skip
            w(f"{t1} {host} postfix/qmgr[900]: {qid}: removed\n")
    return samples
