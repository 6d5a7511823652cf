"""Plain words for what Postfix logs in codes: DSN status codes, SMTP replies, delays.

Users of the WUI are not all postmasters: "5.1.1" or "delays=0.1/0/0.3/0.2" mean little
to them. The tables here are small and cover what real logs show most (RFC 3463 enhanced
status codes, RFC 5321 reply codes, the most common remote answers); anything else gets
its class ("permanent failure") and the remote text as it was.
"""

from __future__ import annotations

import re

DSN_CLASS = {
    "2": "success",
    "4": "temporary failure (Postfix keeps trying)",
    "5": "permanent failure (the message was returned or refused)",
}

#: RFC 3463 subject.detail (the part after the class).
DSN_DETAIL = {
    "0.0": "no further detail given",
    "1.0": "something is wrong with an address",
    "1.1": "the mailbox does not exist (user unknown)",
    "1.2": "the destination domain does not exist or accepts no mail",
    "1.3": "the address is malformed",
    "1.6": "the mailbox has moved",
    "1.7": "the sender's address is not valid",
    "1.8": "the sender's domain is not valid",
    "1.10": "the domain accepts no mail at all (null MX)",
    "2.0": "a problem with the mailbox",
    "2.1": "the mailbox is disabled",
    "2.2": "the mailbox is full",
    "2.3": "the message is larger than the mailbox accepts",
    "2.4": "a mailing-list expansion problem",
    "3.0": "a problem on the receiving mail system",
    "3.1": "the receiving mail system is out of disk space",
    "3.2": "the receiving system does not accept mail now",
    "3.4": "the message is too big for the receiving system",
    "4.0": "a network or routing problem",
    "4.1": "no answer from the receiving server",
    "4.2": "the connection broke off",
    "4.3": "a DNS lookup failed (name server problem)",
    "4.4": "no route to the destination (no MX or address found)",
    "4.6": "mail loop: the message went round in circles",
    "4.7": "the message was too old and expired in the queue",
    "5.0": "a protocol problem",
    "5.1": "an invalid command",
    "5.2": "a syntax error in the conversation",
    "5.3": "too many recipients",
    "5.4": "invalid command arguments",
    "6.0": "a problem with the message content",
    "6.3": "a conversion was needed but not allowed",
    "7.0": "a security or policy refusal",
    "7.1": "refused: the sender or client is not allowed (policy, blocklist, relay denied)",
    "7.7": "the message's integrity check failed",
    "7.8": "authentication failed",
    "7.9": "the authentication mechanism is too weak",
    "7.23": "SPF check failed",
    "7.25": "reverse DNS of the client did not match",
    "7.26": "several authentication checks failed (SPF/DKIM/DMARC)",
    "7.27": "the sender's domain accepts no mail (null MX)",
}

SMTP_REPLY = {
    "250": "accepted",
    "251": "accepted, will forward",
    "421": "service not available, closing the connection (try later)",
    "450": "mailbox unavailable for now (busy, greylisted or blocked for a while)",
    "451": "local error at the receiver, try later",
    "452": "the receiver is short of storage or got too many recipients",
    "454": "TLS or authentication is temporarily unavailable",
    "500": "the receiver did not understand a command",
    "501": "a command argument was wrong",
    "502": "a command is not implemented",
    "503": "commands in the wrong order",
    "504": "a parameter is not implemented",
    "521": "the receiver accepts no mail at all",
    "530": "authentication required",
    "535": "authentication failed",
    "550": "refused: mailbox unavailable or the message refused by policy",
    "551": "the user is not local here",
    "552": "storage limit exceeded (mailbox full or message too big)",
    "553": "the mailbox name is not allowed",
    "554": "transaction failed (often: refused as spam or by policy)",
    "556": "the domain accepts no mail",
}

#: (pattern in the remote answer, plain words). The first match wins.
RESPONSE_HINTS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p, re.IGNORECASE), words)
    for p, words in (
        (r"connection refused", "the receiving server refused the connection (not listening)"),
        (r"connection timed out|timed out while", "the receiving server did not answer in time"),
        (r"host not found|name service error|domain not found", "the domain does not exist in DNS"),
        (r"no route to host|network is unreachable", "the network path to the server is broken"),
        (
            r"user unknown|no such user|mailbox unavailable|does not exist|unknown user",
            "the recipient's mailbox does not exist",
        ),
        (r"mailbox full|quota|over quota|insufficient storage", "the recipient's mailbox is full"),
        (r"greylist", "greylisting: the server asks to try later"),
        (r"try again later|please try later", "a temporary refusal: the server asks to try later"),
        (r"spf", "SPF: the sending server is not allowed to send for this domain"),
        (r"dmarc", "DMARC policy refused the message"),
        (
            r"spam|blocked|blacklist|blocklist|listed|rbl|reputation",
            "refused as spam or because the sender is on a blocklist",
        ),
        (r"relay access denied", "the server refused to relay for this destination"),
        (r"message size exceeds|too large|size limit", "the message is too large"),
        (r"tls", "a TLS (encryption) problem"),
        (r"message expired|too long in queue", "the message stayed too long in the queue"),
        (r"queued as", "the next server accepted the message"),
        (r"delivered to (maildir|mailbox)|delivered via", "delivered into the mailbox"),
    )
)

DELAYS = (
    ("a", "before the queue manager", "receiving the message, including its transmission"),
    ("b", "in the queue manager", "waiting in the queue (e.g. for a retry or a free slot)"),
    ("c", "connection setup", "DNS look-up, connecting, greeting, HELO and TLS"),
    ("d", "transmission", "sending the message to the next server or mailbox"),
)

_CODE = re.compile(r"^\s*(\d{3})[ -]")
_DSN = re.compile(r"^([245])\.(\d{1,3}\.\d{1,3})$")


def dsn_words(dsn: str | None) -> str | None:
    if not dsn:
        return None
    m = _DSN.match(dsn.strip())
    if not m:
        return None
    cls = DSN_CLASS[m.group(1)]
    detail = DSN_DETAIL.get(m.group(2))
    if detail is None:
        subject = m.group(2).split(".")[0] + ".0"
        detail = DSN_DETAIL.get(subject, "")
    return f"{cls}: {detail}" if detail else cls


def smtp_code(response: str | None) -> str | None:
    """The remote SMTP reply code in a Postfix response (``host said: 550 ...``)."""
    if not response:
        return None
    said = response.split("said:", 1)[-1]
    m = _CODE.match(said)
    return m.group(1) if m else None


def response_words(response: str | None) -> str | None:
    if not response:
        return None
    for pattern, words in RESPONSE_HINTS:
        if pattern.search(response):
            return words
    code = smtp_code(response)
    return SMTP_REPLY.get(code) if code else None


def explain(dsn: str | None, response: str | None) -> str:
    """One sentence for the e-mail story: the DSN meaning, then the remote answer's."""
    parts = [p for p in (dsn_words(dsn), response_words(response)) if p]
    seen: list[str] = []
    for p in parts:
        if p not in seen:
            seen.append(p)
    return "; ".join(seen)


def split_delays(delays: list[float] | tuple[float, ...] | None) -> list[tuple[str, str, float]]:
    """``[(letter, meaning, seconds)]`` for a ``delays=a/b/c/d`` tuple."""
    if not delays:
        return []
    return [(d[0], d[1], float(v)) for d, v in zip(DELAYS, delays, strict=False)]


#: (pattern in a refusal's reason, plain words) for rejects (NOQUEUE and queue-ID
#: refusals): Postfix's own restriction texts first, then the generic answers above.
REJECT_HINTS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p, re.IGNORECASE), words)
    for p, words in (
        (
            r"recipient address rejected: (user unknown|undeliverable address)",
            "the recipient's mailbox does not exist here",
        ),
        (
            r"relay access denied",
            "this server does not pass mail on to that domain for this client",
        ),
        (r"sender address rejected: domain not found", "the sender's domain does not exist in DNS"),
        (r"recipient address rejected: domain not found", "the recipient's domain does not exist"),
        (r"sender address rejected", "the sender's address was refused"),
        (r"recipient address rejected", "the recipient's address was refused"),
        (
            r"client host rejected: cannot find your (reverse )?hostname",
            "the sending server's IP address has no matching host name (reverse DNS)",
        ),
        (r"client host rejected", "the sending server was refused"),
        (r"helo command rejected", "the name the sending server greeted with (HELO) was refused"),
        (r"blocked using|listed (at|on|in)", "the sending server is on a blocklist (DNSBL)"),
        (r"greylist", "greylisting: the sending server is asked to try again later"),
        (r"message size exceeds|too large", "the message is larger than this server accepts"),
        (r"try again later", "refused for now: the sending server should try again later"),
        (r"spam", "refused as spam"),
    )
)


def reject_words(code: str | None, dsn: str | None, reason: str | None) -> str:
    """One phrase for a refusal shown to a helpdesk: why the mail was not taken in."""
    text = reason or ""
    for pattern, words in REJECT_HINTS:
        if pattern.search(text):
            return words
    return explain(dsn, f"{code} {text}" if code else text) or "refused"
