"""Understand the message of one Postfix (or amavis) log line.

:func:`parse` turns a :class:`~else_core.records.LogLine` into an
:class:`~else_core.records.Event` whose kind and fields are documented in
:mod:`else_core.records`. It dispatches on the daemon name (the last component of
``postfix-in/submission/smtpd``) so that each line meets only the few patterns its
daemon can write; cheap ``startswith`` tests come before regular expressions because
this function runs once per line of logs that have millions of them.

Nothing here raises on odd input: a line that fits no pattern becomes ``other`` (a
Postfix line we do not know) or ``foreign`` (another program), and is kept.
"""

from __future__ import annotations

import email.errors
import email.header
import re
from collections.abc import Callable
from typing import Any, cast

from else_core import queueid
from else_core.events import Fields
from else_core.records import Event, LogLine

# Short IDs: hex (time in µs + inode). Long IDs (enable_long_queue_ids): a vowel-free
# alphabet, >= 10 characters. "NOQUEUE" stands where no queue file exists yet.
_QID = queueid.PATTERN  # the one queue-ID grammar (else_core/queueid.py)
QID_RE = re.compile(_QID + r"\Z")
_QID_PREFIX = re.compile(r"(" + _QID + r"|NOQUEUE): ")
_QID_HEAD = re.compile(r"(?:" + _QID + r"|NOQUEUE)\Z")

# A busy server's log repeats its words: the same relays, delays, session counters and,
# for a few lines each, the same queue IDs. What a pure function made of such a text is
# kept for the next line that has it (a dict lookup instead of a regular expression or a
# few float()s); each memo is cleared when full, so it stays small whatever the log.
_MEMO_MAX = 4096
#: Longer texts are not remembered: real relays, delays and counters are short, and a
#: hostile log of huge tokens must not hold _MEMO_MAX of them (4096 x 1 MB) in memory.
_MEMO_KEY_MAX = 256
_qid_heads: dict[str, bool] = {}
_relays: dict[str, tuple[bool, str, str, str]] = {}
_delays: dict[str, tuple[float, ...]] = {}
_counter_words: dict[str, dict[str, tuple[int, int]]] = {}


def _remember(memo: dict[str, Any], key: str, value: Any) -> None:
    if len(key) > _MEMO_KEY_MAX:
        return
    if len(memo) >= _MEMO_MAX:
        memo.clear()
    memo[key] = value


def _qid_prefix(text: str) -> int:
    """Where a leading ``QID: `` or ``NOQUEUE: `` ends (the ID is ``text[: end - 2]``), or -1.

    The same as ``_QID_PREFIX.match``: no character of an ID is a colon, so only the
    first ``": "`` can end one.
    """
    end = text.find(": ")
    if end < 6 or end > 32:  # shorter or longer than any ID
        return -1
    head = text[:end]
    ok = _qid_heads.get(head)
    if ok is None:
        ok = _QID_HEAD.match(head) is not None
        _remember(_qid_heads, head, ok)
    return end + 2 if ok else -1


POSTFIX_DAEMONS = frozenset(
    [
        "anvil",
        "bounce",
        "cleanup",
        "defer",
        "discard",
        "dnsblog",
        "error",
        "flush",
        "lmtp",
        "local",
        "master",
        "nqmgr",
        "oqmgr",
        "pickup",
        "pipe",
        "postalias",
        "postcat",
        "postconf",
        "postdrop",
        "postfix",
        "postfix-script",
        "postkick",
        "postlock",
        "postlog",
        "postlogd",
        "postmap",
        "postmulti",
        "postqueue",
        "postscreen",
        "postsuper",
        "proxymap",
        "qmgr",
        "qmqpd",
        "retry",
        "scache",
        "sendmail",
        "showq",
        "smtp",
        "smtpd",
        "spawn",
        "tlsmgr",
        "tlsproxy",
        "trace",
        "trivial-rewrite",
        "verify",
        "virtual",
    ]
)
AMAVIS_PROGRAMS = frozenset(("amavis", "amavisd", "amavisd-new"))

# Every pattern below must stay linear on any input (a hostile or broken line must not
# stall the import): a run of characters is consumed by one quantifier only, searches
# start only where a match can start, and brackets never nest ("[^\]\[]*").
_CLIENT = re.compile(r"([^\s\[\]]*)\[([^\]]*)\](?::(\d+))?")
_CONNECT = re.compile(r"connect from ([^\s\[\]]*)\[([^\]]*)\](?::(\d+))?")
_COUNTER = re.compile(r"(?<!\w)(\w+)=(\d+)(?:/(\d+))?")
_CONN_ERROR = re.compile(
    r"(lost connection|timeout|too many errors|improper command pipelining) after (\S+)"
    r"(?: \(\d+ bytes\))? from ([^\s\[\]]*)\[([^\]]*)\](?::\d+)?"
)
_ACTION = re.compile(
    r"([a-z_]+(?:-[a-z_]+)*): ([A-Z][A-Z-]*|header|body) "
    r"from ([^\s\[\]]*)\[([^\]]*)\](?::(\d+))?: ?(.*)",
    re.S,
)
_PROXY = re.compile(r"(proxy-accept|proxy-reject): (\S+): ?(.*)", re.S)
_CODE = re.compile(r"(\d{3})(?:[ -](\d\.\d{1,3}\.\d{1,3}))? ?")
_DSN_ONLY = re.compile(r"(\d\.\d{1,3}\.\d{1,3}) ")
# The "; from=<S> to=<R> proto=P helo=<H>" tail of smtpd/cleanup/postscreen decisions.
# Postfix writes each part only when it knows it (smtpd.c log_whatsup): MAIL and DATA
# rejects have no to=, VRFY ones no from=, CONNECT ones only proto=; postscreen puts
# commas between the parts; cleanup appends ": <text>". An address ends at the ">" that
# the next part (or the end) follows, so one with ">" inside still parses, and no part
# can swallow the next one: the match is linear, whatever the line holds.
_TAIL_ADDR = r"(?:[^>]|>(?!,? (?:to=<|proto=|helo=)|: |\Z))*"
_TAIL = re.compile(
    rf"(?:from=<(?P<from>{_TAIL_ADDR})>)?(?:,? ?to=<(?P<to>{_TAIL_ADDR})>)?"
    r"(?:,? ?proto=(?P<proto>[^\s,:]*))?"
    r"(?:,? ?helo=(?:<(?P<helo>(?:[^>]|>(?!: |\Z))*)>|(?P<helo_bare>[^\s<>:]*)))?"
    r"(?:: (?P<detail>.*))?\Z",
    re.S,
)
_TAIL_STARTS = ("; from=<", "; to=<", "; proto=", "; helo=")
# The whole tail with plain addresses, as most lines have it: a cheaper first try.
_TAIL_FULL = re.compile(r"from=<([^>]*)>,? to=<([^>]*)>,? proto=([^\s,:<>]*),? helo=<([^>]*)>\Z")
_CHECK = re.compile(
    r"(reject|warning|hold|discard|redirect|replace|prepend|filter|info|bcc|strip|dunno|ignore|"
    r"reject_warning|defer): (header|body) (.*?) "
    r"from ([^\s\[\];]*)(?:\[([^\]\[]*)\](?::\d+)?)?; (.*)",
    re.S,
)
# The postfix role's header_checks "INFO" rule on Subject: (roles/postfix, issue 15):
# "info: header Subject: <text> from host[ip]; from=<s> to=<r> proto=P helo=<h>".
_SUBJECT = re.compile(
    r"info: header subject: ?(.*?)(?: from [^\s\[\];]*(?:\[[^\]\[]*\](?::\d+)?)?;.*)?$",
    re.S | re.I,
)
# The same decision with its line cut short (syslog line limits): still a decision.
_CHECK_CUT = re.compile(r"(reject|hold|discard|redirect|filter): (header|body) (.*)", re.S)
_TLS = re.compile(
    r"(?:(\w+) )?TLS connection established (from|to) ([^\s\[\]]*)\[([^\]]*)\](?::\d+)?: "
    r"(\S+) with cipher (\S+)"
)
_SASL_FAIL = re.compile(
    r"([^\s\[\]]*)\[([^\]]*)\](?::\d+)?: SASL (\S+) authentication failed: ?"
    r"(.*?)(?:, sasl_username=(.*))?\Z",
    re.S,
)
# Delivery agents' statuses (log_adhoc.c); soft_bounce=yes logs SOFTBOUNCE for what
# stays in the queue as deferred, address probes log (un)deliverable. Another word is
# kept only with its "(text)" after it: without, the line may have been cut inside it.
_DELIVERY_STATUSES = frozenset(
    ("sent", "deferred", "bounced", "expired", "deliverable", "undeliverable", "SOFTBOUNCE")
)
_RELAY = re.compile(r"(.*?)\[([^\]\[]*)\](?::(\d+))?\Z")
_QUEUED_AS = re.compile(r"queued as ([0-9A-Za-z]{5,})")
_FORWARDED_AS = re.compile(r"forwarded as ([0-9A-Za-z]{5,})")
_QMGR_FROM = re.compile(r"from=<(.*)>, size=(\d+), nrcpt=(\d+)")
_QMGR_EXPIRED = re.compile(r"from=<(.*)>, status=(?:force-)?expired, returned to sender")
_PICKUP = re.compile(r"uid=(\d+) from=<(.*?)>(?: orig_id=(\S+))?\Z")
_BOUNCE = re.compile(
    r"(sender|postmaster) (non-delivery|delivery status|delay|success) notification: (\S+)"
)
_PS_ADDR = re.compile(r"\[([^\]\[]*)\]:(\d+)")
_PS_EVENT = re.compile(
    r"(PREGREET|HANGUP|DNSBL rank|COMMAND PIPELINING|COMMAND TIME LIMIT|COMMAND COUNT LIMIT|"
    r"COMMAND LENGTH LIMIT|BARE NEWLINE|NON-SMTP COMMAND|WHITELISTED|ALLOWLISTED|BLACKLISTED|"
    r"DENYLISTED|WHITELIST VETO|ALLOWLIST VETO|BDAT|NOQUEUE)\b ?(.*)",
    re.S,
)
_DNSBLOG = re.compile(r"addr (\S+) listed by domain (\S+) as (\S+)")
_ANVIL = re.compile(r"statistics: max (.+?) (\d+(?:/\d+s)?)(?: for \(([^()]*)\))? at ")
_SMTP_PEER = re.compile(r"(?<![^\s\[\]])([^\s\[\]]*)\[([^\]\[]*)\]")
_POSTSUPER_SUMMARY = re.compile(
    r"(Deleted|Requeued|Placed on hold|Released from hold|Force-expired"
    r"|Renamed to match inode number): (\d+) messages?"
)
_AMAVIS = re.compile(
    r"\([\w-]+\) (?P<result>Passed|Blocked|Not-Delivered) (?P<cat>[A-Z-]+(?: [A-Z-]+)?)"
    r"(?: \{[^}]*\})?,(?P<rest>.*)",
    re.S,
)
_AMAVIS_ADDRS = re.compile(r"<([^<>]*)> -> ((?:<[^<>]*>,?)+)")
_LEVELS = ("warning", "error", "fatal", "panic")


def _kv_list(text: str) -> dict[str, str]:
    """``a=1, b=<x>, c=y`` -> dict; values keep what is inside <...>."""
    out: dict[str, str] = {}
    for part in text.split(", "):
        key, sep, value = part.partition("=")
        if sep:
            if value.startswith("<") and value.endswith(">"):
                value = value[1:-1]
            out[key.strip()] = value
    return out


def _code_dsn_reason(text: str, f: Fields) -> None:
    """Split ``554 5.7.1 <x>: Relay access denied`` into code, dsn and reason."""
    m = _CODE.match(text)
    if m is not None:
        f["code"] = m.group(1)
        if m.group(2):
            f["dsn"] = m.group(2)
        text = text[m.end() :]
    else:
        m = _DSN_ONLY.match(text)
        if m is not None:
            f["dsn"] = m.group(1)
            text = text[m.end() :]
    f["reason"] = text


def _split_tail(body: str, f: Fields) -> str:
    """Cut the ``; from=<S> to=<R> proto=P helo=<H>`` tail off ``body`` into ``f``."""
    cut = body.rfind("; from=<")
    if cut >= 0:
        m = _TAIL_FULL.match(body, cut + 2)
        if m is not None:
            f["sender"], f["recipient"], proto, f["helo"] = m.groups()
            if proto:
                f["proto"] = proto
            return body[:cut]
    for start in _TAIL_STARTS:
        cut = body.rfind(start)
        if cut < 0:
            continue
        m = _TAIL.match(body, cut + 2)
        if m is not None:
            _tail_fields(m, f)
            return body[:cut]
    return body


def _tail_fields(m: re.Match[str], f: Fields) -> None:
    g = m.groupdict()
    if g.get("from") is not None:
        f["sender"] = g["from"]
    if g.get("to") is not None:
        f["recipient"] = g["to"]
    if g.get("proto"):
        f["proto"] = g["proto"]
    if g.get("helo") is not None:
        f["helo"] = g["helo"]
    elif g.get("helo_bare") is not None:
        f["helo"] = g["helo_bare"]
    if g.get("detail"):
        f["detail"] = g["detail"]


def _proxy_action(line: LogLine, qid: str | None, m: re.Match[str]) -> Event:
    """A before-queue filter's reply (``proxy-accept``/``proxy-reject``): no client part."""
    f: Fields = {"action": m.group(1), "stage": m.group(2)}
    rest = _split_tail(m.group(3), f)
    _code_dsn_reason(rest, f)
    return Event(line, "action", qid, f)


def _action(line: LogLine, qid: str | None, m: re.Match[str]) -> Event:
    action, stage, host, ip, port, rest = m.groups()
    f: Fields = {"action": action, "stage": stage, "client_host": host, "client_ip": ip}
    if port:
        f["client_port"] = int(port)
    rest = _split_tail(rest, f)
    _code_dsn_reason(rest, f)
    return Event(line, "action", qid, f)


def _warning(line: LogLine, qid: str | None, text: str) -> Event | None:
    for level in _LEVELS:
        if text.startswith(level) and text[len(level) : len(level) + 2] == ": ":
            f: Fields = {"level": level, "text": text[len(level) + 2 :]}
            if qid is None:  # "warning: 4Xk2Jd0Z3Hz9sWp: milter ...": about that queue file
                m = _QID_PREFIX.match(text, len(level) + 2)
                if m is not None and m.group(1) != "NOQUEUE":
                    qid = m.group(1)
            return Event(line, "warning", qid, f)
    return None


def _delivery(line: LogLine, qid: str, text: str) -> Event | None:
    """``to=<R>, [orig_to=<O>, ]relay=X, [conn_use=N, ]delay=D, delays=a/b/c/d, [tls=T, ]
    dsn=X.Y.Z, status=S (text)`` (log_adhoc.c), cut with ``str.find``: a regular
    expression with several lazy groups takes minutes on a hostile line. The fields
    between relay= and status= are read by name, so old lines without delays=/dsn=
    (Postfix < 2.3) and new ones with more fields (tls=, Postfix 3.11) keep what they
    have. A line cut before its status is not a delivery."""
    rpos = text.find(", relay=")
    if rpos < 0:
        return None
    head = text[3:rpos]
    orig = None
    opos = head.find(", orig_to=")
    if opos >= 0:
        head, orig = head[:opos], head[opos + 10 :]
        orig = orig[1:-1] if orig[:1] == "<" and orig[-1:] == ">" else orig
    to = head[1:-1] if head[:1] == "<" and head[-1:] == ">" else head
    pos = rpos + 8
    end = text.find(", ", pos)
    if end < 0:
        return None
    f: Fields = {"to": to, "relay": text[pos:end]}
    if orig is not None:
        f["orig_to"] = orig
    pos = end + 2
    resp = None
    while True:
        eq = text.find("=", pos)
        if eq < 0:
            return None
        key = text[pos:eq]
        if key == "status":
            rest = text[eq + 1 :]
            status, sep, resp = rest.partition(" (")
            if sep:
                if resp[-1:] == ")":
                    resp = resp[:-1]
            else:
                status, sep, resp = rest.partition(", ")  # "status=expired, returned to sender"
                if not sep:
                    resp = None
            break
        end = text.find(", ", eq)
        if end < 0:
            return None
        value = text[eq + 1 : end]
        pos = end + 2
        try:
            if key == "delay":
                f["delay"] = float(value)
            elif key == "delays":
                delays = _delays.get(value)
                if delays is None:
                    delays = tuple([float(x) for x in value.split("/")])
                    _remember(_delays, value, delays)
                f["delays"] = delays
            elif key == "dsn":
                f["dsn"] = value
            elif key == "conn_use":
                f["conn_use"] = int(value)
            elif key == "tls":
                f["tls"] = value
        except ValueError:
            pass
    if status not in _DELIVERY_STATUSES:
        if status.startswith(("deliverable-", "undeliverable-")):
            # verify(8) probes whose result was not cached: "undeliverable-but-not-cached"
            status = status.partition("-")[0]
        elif resp is None or not status.isidentifier():
            return None  # cut inside the status, or not a status at all
    if status == "SOFTBOUNCE":
        status = "deferred"
        f["soft_bounce"] = True
    f["status"] = status
    if resp is not None:
        f["response"] = resp
        if status == "sent":
            if resp.startswith("forwarded as"):
                fm = _FORWARDED_AS.match(resp)
                if fm is not None:
                    f["forwarded_as"] = fm.group(1)
            else:
                found = _QUEUED_AS.findall(resp)
                if found:
                    f["queued_as"] = found[-1]
    relay = f["relay"]
    parts = _relays.get(relay)
    if parts is None:
        rm = _RELAY.match(relay)
        parts = (True, rm.group(1), rm.group(2), rm.group(3) or "") if rm else (False, "", "", "")
        _remember(_relays, relay, parts)
    if parts[0]:
        f["relay_host"], f["relay_ip"] = parts[1], parts[2]
        if parts[3]:
            f["relay_port"] = int(parts[3])
    return Event(line, "delivery", qid, f)


# --- daemons -----------------------------------------------------------------------------


def _smtpd(line: LogLine, qid: str | None, text: str) -> Event | None:
    if text.startswith("proxy-"):  # before-queue filter replies, also logged without an ID
        m = _PROXY.match(text)
        if m is not None:
            return _proxy_action(line, qid, m)
    if qid is not None:
        if text.startswith("client="):
            # The keys are the line's own (sasl_method=, orig_queue_id= ...), all str;
            # tests/unit/test_events_contract.py holds them to the contract at run time.
            f = cast(Fields, _kv_list(text))
            client = f.pop("client", "")
            cm = _CLIENT.match(client)
            if cm is not None:
                f["client_host"], f["client_ip"] = cm.group(1), cm.group(2)
                if cm.group(3):
                    f["client_port"] = int(cm.group(3))
            else:
                f["client_host"] = client
            return Event(line, "client", qid, f)
        m = _ACTION.match(text)
        if m is not None:
            return _action(line, qid, m)
        return None
    if text.startswith("connect from "):
        m = _CONNECT.match(text)
        if m is not None:
            f = {"client_host": m.group(1), "client_ip": m.group(2)}
            if m.group(3):
                f["client_port"] = int(m.group(3))
            return Event(line, "connect", None, f)
    elif text.startswith("disconnect from "):
        m = _CLIENT.match(text, 16)
        if m is not None:
            counters = _counters(text, m.end())
            return Event(
                line,
                "disconnect",
                None,
                {"client_host": m.group(1), "client_ip": m.group(2), "counters": counters},
            )
    m = _CONN_ERROR.match(text)
    if m is not None:
        return _conn_error(line, m)
    if "TLS connection established " in text:  # no trust level before Postfix 2.5
        return _tls(line, text)
    return None


def _counters(text: str, pos: int) -> dict[str, tuple[int, int]]:
    """``ehlo=1 mail=1 rcpt=0/1 ... commands=3/4`` from ``pos`` on: name -> (ok, total).

    Split into words when every word has the plain ASCII shape Postfix writes (a regular
    expression per counter was a third of the cost of an smtpd line); anything else goes
    to :data:`_COUNTER`, which defines the result. Words that split cleanly are
    remembered (:data:`_MEMO_MAX`); each caller gets its own dict.
    """
    words = text[pos:]
    seen = _counter_words.get(words)
    if seen is not None:
        return seen.copy()
    out: dict[str, tuple[int, int]] = {}
    for word in words.split():
        name, eq, value = word.partition("=")
        ok, slash, total = value.partition("/")
        if not (
            eq
            and name.isascii()
            and name.replace("_", "a").isalnum()
            and ok.isascii()
            and ok.isdigit()
            and (not slash or (total.isascii() and total.isdigit()))
        ):
            return {
                c.group(1): (int(c.group(2)), int(c.group(3) or c.group(2)))
                for c in _COUNTER.finditer(text, pos)
            }
        out[name] = (int(ok), int(total or ok))
    _remember(_counter_words, words, out)
    return out.copy()


def _conn_error(line: LogLine, m: re.Match[str]) -> Event:
    f: Fields = {
        "error": m.group(1),
        "stage": m.group(2),
        "client_host": m.group(3),
        "client_ip": m.group(4),
    }
    return Event(line, "conn_error", None, f)


def _tls(line: LogLine, text: str) -> Event | None:
    m = _TLS.match(text)
    if m is None:
        return None
    level, direction, host, ip, proto, cipher = m.groups()
    f: Fields = {
        "direction": "in" if direction == "from" else "out",
        "peer_host": host,
        "peer_ip": ip,
        "protocol": proto,
        "cipher": cipher,
    }
    if level is not None:
        f["level"] = level
    return Event(line, "tls", None, f)


def _smtpd_warning(line: LogLine, ev: Event) -> Event:
    """SASL failures are warnings in Postfix, but first-class events for ELSE."""
    text = ev.f["text"]
    if "authentication failed" in text:
        m = _SASL_FAIL.match(text)
        if m is not None:
            f: Fields = {
                "client_host": m.group(1),
                "client_ip": m.group(2),
                "method": m.group(3),
                "reason": m.group(4),
            }
            if m.group(5):
                f["sasl_username"] = m.group(5)
            return Event(line, "sasl_fail", None, f)
    return ev


def _postscreen(line: LogLine, qid: str | None, text: str) -> Event | None:
    if text.startswith("CONNECT from "):
        m = _PS_ADDR.match(text, 13)
        if m is not None:
            return Event(
                line, "ps_connect", None, {"client_ip": m.group(1), "client_port": int(m.group(2))}
            )
    elif text.startswith("PASS "):
        kind, _, addr = text[5:].partition(" ")
        m = _PS_ADDR.match(addr)
        if m is not None:
            return Event(line, "ps_pass", None, {"pass": kind, "client_ip": m.group(1)})
    elif text.startswith("DISCONNECT "):
        m = _PS_ADDR.match(text, 11)
        if m is not None:
            return Event(line, "ps_disconnect", None, {"client_ip": m.group(1)})
    if qid is not None:  # postscreen has no queue files; NOQUEUE lines went to _noqueue
        return None
    m = _PS_EVENT.match(text)
    if m is not None:
        event, rest = m.group(1), m.group(2)
        f2: Fields = {"event": event}
        am = _PS_ADDR.search(rest)
        if am is not None:
            f2["client_ip"] = am.group(1)
        if event == "DNSBL rank":
            f2["event"] = "DNSBL"
            rank, _, _ = rest.partition(" ")
            if rank.isdigit():
                f2["rank"] = int(rank)
        else:
            f2["detail"] = rest
        return Event(line, "ps_event", None, f2)
    if text.startswith("cache ") or text.startswith("reject: "):
        return Event(line, "info", None, {"text": text})
    return None


def _dnsblog(line: LogLine, qid: str | None, text: str) -> Event | None:
    m = _DNSBLOG.match(text)
    if m is not None:
        return Event(
            line,
            "dnsbl",
            None,
            {"client_ip": m.group(1), "domain": m.group(2), "result": m.group(3)},
        )
    return None


def _anvil(line: LogLine, qid: str | None, text: str) -> Event | None:
    m = _ANVIL.match(text)
    if m is not None:
        f: Fields = {"stat": m.group(1), "value": m.group(2)}
        if m.group(3):
            f["client"] = m.group(3)
        return Event(line, "anvil", None, f)
    return None


def _pickup(line: LogLine, qid: str | None, text: str) -> Event | None:
    if qid is None:
        return None
    m = _PICKUP.match(text)
    if m is None:
        return None
    f: Fields = {"uid": int(m.group(1)), "sender": m.group(2)}
    if m.group(3):
        f["orig_id"] = m.group(3)
    return Event(line, "pickup", qid, f)


def _cleanup(line: LogLine, qid: str | None, text: str) -> Event | None:
    if qid is None:
        return None
    if text.startswith("message-id="):
        return Event(line, "message_id", qid, {"message_id": _msgid(text[11:])})
    if text.startswith("resent-message-id="):
        return Event(line, "resent_message_id", qid, {"message_id": _msgid(text[18:])})
    if text[:21].lower() == "info: header subject:":
        m = _SUBJECT.match(text)
        if m is not None:  # the header_checks INFO rule of the postfix role (issue 15)
            return Event(line, "subject", qid, {"subject": decode_subject(m.group(1))})
    m = _CHECK.match(text)
    if m is not None:
        action, what, detail, host, ip, tail = m.groups()
        f: Fields = {"action": action, "stage": what, "client_host": host}
        if ip is not None:
            f["client_ip"] = ip
        _split_tail("; " + tail, f)
        # "...helo=<h>: 5.7.1 message content rejected": the reply (if any) follows the
        # tail, where _split_tail put it as "detail"; the checked header/body text is ours.
        reply = f.pop("detail", None)
        f["detail"] = detail
        if reply:
            _code_dsn_reason(reply, f)
        return Event(line, "action", qid, f)
    m = _ACTION.match(text)  # milter-reject: END-OF-MESSAGE from ...
    if m is not None:
        return _action(line, qid, m)
    if text.startswith("milter-"):
        action, _, rest = text.partition(": ")
        f = {"action": action, "stage": rest.partition(" ")[0]}
        _split_tail(rest, f)
        return Event(line, "action", qid, f)
    m = _CHECK_CUT.match(text)
    if m is not None:
        return Event(
            line, "action", qid, {"action": m.group(1), "stage": m.group(2), "detail": m.group(3)}
        )
    return None


def decode_subject(raw: str) -> str:
    """A Subject header as people read it: RFC 2047 encoded words decoded
    (``=?UTF-8?B?...?=``), folded white space joined; undecodable parts stay as logged."""
    text = raw.strip()
    if "=?" not in text:
        return text[:998]
    try:
        decoded = str(email.header.make_header(email.header.decode_header(text)))
    except (ValueError, LookupError, UnicodeError, email.errors.HeaderParseError):
        return text[:998]
    return " ".join(decoded.split())[:998]


def _msgid(value: str) -> str:
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        return value[1:-1]
    return value


def _qmgr(line: LogLine, qid: str | None, text: str) -> Event | None:
    if qid is None:
        return None
    if text == "removed":
        return Event(line, "removed", qid, {})
    if text.startswith("from=<"):
        m = _QMGR_FROM.match(text)
        if m is not None:
            return Event(
                line,
                "qmgr_from",
                qid,
                {"sender": m.group(1), "size": int(m.group(2)), "nrcpt": int(m.group(3))},
            )
        m = _QMGR_EXPIRED.match(text)
        if m is not None:
            return Event(line, "expired", qid, {"sender": m.group(1)})
        return None
    if text.startswith("skipped"):
        return Event(line, "skipped", qid, {})
    if text.startswith("status=deferred (bounce failed)"):
        # bounce.c: the notice could not be sent; the file stays in the queue.
        return Event(line, "info", qid, {"text": text})
    return None


def _bounce(line: LogLine, qid: str | None, text: str) -> Event | None:
    if qid is None:
        return None
    m = _BOUNCE.match(text)
    if m is None:
        return None
    notify = {"delivery status": "delivery"}.get(m.group(2), m.group(2))
    return Event(line, "bounce", qid, {"to": m.group(1), "notify": notify, "new_qid": m.group(3)})


_POSTSUPER_OPS = {
    "removed": "removed",
    "requeued": "requeued",
    "placed on hold": "hold",
    "released from hold": "released",
    "expired": "expired",  # postsuper -e/-f (Postfix >= 3.5); qmgr returns it later
}


_POSTSUPER_SUMMARY_OPS = {
    "Deleted": "removed",
    "Requeued": "requeued",
    "Placed on hold": "hold",
    "Released from hold": "released",
    "Force-expired": "expired",
    "Renamed to match inode number": "renamed",
}


def _postsuper(line: LogLine, qid: str | None, text: str) -> Event | None:
    if qid is not None:
        op = _POSTSUPER_OPS.get(text)
        return Event(line, "postsuper", qid, {"op": op}) if op else None
    m = _POSTSUPER_SUMMARY.match(text)
    if m is not None:
        op = _POSTSUPER_SUMMARY_OPS[m.group(1)]
        return Event(line, "postsuper_summary", None, {"op": op, "count": int(m.group(2))})
    return None


_MASTER_PREFIXES = (
    "daemon started",
    "reload",
    "terminating on signal",
    "starting the Postfix",
    "stopping the Postfix",
    "refreshing the Postfix",
    "daemon already running",
    "waiting on",
    "waiting for the Postfix mail system",
    "the Postfix mail system is running",
)


def _master(line: LogLine, qid: str | None, text: str) -> Event | None:
    if text.startswith(_MASTER_PREFIXES):
        return Event(line, "master", None, {"text": text})
    return None


_SMTP_ERRORS = (
    "connect to ",
    "lost connection with ",
    "conversation with ",
    "host ",
    "SSL_connect error",
    "SASL authentication failed",
    "certificate verification failed",
    "server certificate verification failed",
    "Protocol error",
    "TLS is required",
    "unreadable mail queue entry",
    "mail for ",
)


def _smtp(line: LogLine, qid: str | None, text: str) -> Event | None:
    if text.startswith(_SMTP_ERRORS):
        f: Fields = {"error": text}
        m = _SMTP_PEER.search(text)
        if m is not None:
            f["peer_host"], f["peer_ip"] = m.group(1), m.group(2)
        return Event(line, "smtp_error", qid, f)
    if "TLS connection established " in text:  # no trust level before Postfix 2.5
        return _tls(line, text)
    if ": re-using session with " in text:
        return Event(line, "info", qid, {"text": text})
    return None


def _postlog(line: LogLine, qid: str | None, text: str) -> Event | None:
    """postlog(1) writes whatever an administrator's script hands it."""
    return _warning(line, qid, text) or Event(line, "info", qid, {"text": text})


# Informational messages: recognised, counted as Postfix, but no bearing on mail.
_INFO_PREFIXES = (
    "statistics:",
    "setting up TLS connection",
    "discarding EHLO keywords",
    "enabling PIX workarounds",
    "breaking line",
    "SSL_accept error",
    "SSL_connect error",
    "TLS handshake failed",
    "CONNECT from",
    "DISCONNECT ",
    "table ",
    "cache ",
    "certificate verification failed",
    "server certificate verification failed",
    "client certificate",
    "using backwards-compatible default setting",
    "To disable backwards compatibility",
    "Read the RELEASE_NOTES",
    "host ",
    "connect to subsystem",
    "lookup table",
    "NOQUEUE: client=",
    "the Postfix mail system is",
    "bare <LF> received",
    "virtual_dns_lookup:",
    "Postfix is running",
)

_DAEMON: dict[str, Callable[[LogLine, str | None, str], Event | None]] = {
    "smtpd": _smtpd,
    "postscreen": _postscreen,
    "dnsblog": _dnsblog,
    "anvil": _anvil,
    "pickup": _pickup,
    "cleanup": _cleanup,
    "qmgr": _qmgr,
    "nqmgr": _qmgr,
    "oqmgr": _qmgr,
    "smtp": _smtp,
    "lmtp": _smtp,
    "bounce": _bounce,
    "defer": _bounce,
    "trace": _bounce,
    "postsuper": _postsuper,
    "master": _master,
    "postfix-script": _master,
    "postfix": _master,
    "tlsproxy": _smtpd,
    "qmqpd": _smtpd,
    "postlog": _postlog,
}


def is_postfix_program(program: str) -> bool:
    """``postfix/smtpd``, ``postfix-in/submission/smtpd``, ``postfix-10.0.0.1/smtp`` ..."""
    service = program.rpartition("/")[2]
    if service not in POSTFIX_DAEMONS:
        return False
    return "/" in program or service in (
        "postfix",
        "postfix-script",
        "postsuper",
        "postqueue",
        "postdrop",
    )


def parse(line: LogLine) -> Event:
    """Classify one line; never raises."""
    if line.ts is None:
        return Event(line, "malformed")
    program = line.program
    service = program.rpartition("/")[2]
    if service not in POSTFIX_DAEMONS or ("/" not in program and not program.startswith("post")):
        if program in AMAVIS_PROGRAMS:
            try:
                return _amavis(line)
            except (ValueError, IndexError, TypeError):  # a number too long for int(), say
                return Event(line, "foreign")
        return Event(line, "foreign")
    text = line.message
    qid = None
    end = _qid_prefix(text)
    if end > 0:
        qid = text[: end - 2]
        text = text[end:]
        if qid == "NOQUEUE":
            qid = None
            if service in {"smtpd", "postscreen", "cleanup"}:
                # NOQUEUE lines are decisions made before a queue file exists.
                try:
                    return _noqueue(line, service, text) or Event(line, "other")
                except (ValueError, IndexError, TypeError):
                    return Event(line, "other")
    try:
        if text.startswith("to=") and qid is not None:
            ev = _delivery(line, qid, text)
            if ev is not None:
                return ev
        handler = _DAEMON.get(service)
        ev = handler(line, qid, text) if handler is not None else None
    # Defensive: odd numbers (a 5000-digit port) in odd lines; a TypeError is a compiled
    # module's type check meeting a line nobody foresaw: the line is kept, as "other".
    except (ValueError, IndexError, TypeError):
        ev = None
    if ev is not None:
        return ev
    if text[:1] in "wefp":
        warn = _warning(line, qid, text)
        if warn is not None:
            if service in {"smtpd", "postscreen"}:
                return _smtpd_warning(line, warn)
            return warn
    if service in {"smtp", "lmtp"}:
        ev = _smtp(line, qid, text)
        if ev is not None:
            return ev
    if text.startswith(_INFO_PREFIXES) or (qid is not None and text.startswith(_INFO_QID_PREFIXES)):
        return Event(line, "info", qid, {"text": text})
    return Event(line, "other", qid)


_INFO_QID_PREFIXES = (
    "enabling PIX",
    "host ",
    "lost connection",
    "conversation with",
    "sender delivery status",
    "skipped",
    "info:",
    "filter:",
    "redirect:",
    "sasl_",
    "Cannot start TLS",
    "breaking line",
    "hold:",
    "discard:",
    "uid=",
    "cannot",
    "mail for",
)


def _noqueue(line: LogLine, service: str, text: str) -> Event | None:
    m = _CONN_ERROR.match(text)
    if m is not None:
        return _conn_error(line, m)
    m = _ACTION.match(text)
    if m is not None:
        return _action(line, None, m)
    m = _PROXY.match(text)
    if m is not None:
        return _proxy_action(line, None, m)
    if service == "postscreen" and text.startswith("reject: CONNECT from "):
        am = _PS_ADDR.match(text, 21)
        if am is not None:
            f: Fields = {
                "action": "reject",
                "stage": "CONNECT",
                "client_host": "",
                "client_ip": am.group(1),
            }
            _code_dsn_reason(text[am.end() :].lstrip(": "), f)
            return Event(line, "action", None, f)
    if text.startswith("client="):
        return Event(line, "info", None, {"text": text})
    return None


def _amavis(line: LogLine) -> Event:
    text = line.message
    m = _AMAVIS.match(text)
    if m is None:
        return Event(line, "foreign")
    rest = m.group("rest")
    f: dict[str, Any] = {"result": m.group("result"), "category": m.group("cat")}
    am = _AMAVIS_ADDRS.search(rest)
    if am is not None:
        f["sender"] = am.group(1)
        f["recipients"] = [r.strip("<>") for r in am.group(2).rstrip(",").split(",")]
    ip = re.search(r"\[(\d[\d.:a-fA-F]*)\]", rest)
    if ip is not None:
        f["client_ip"] = ip.group(1)
    for key, name in (
        ("Queue-ID: ", "qid"),
        ("Message-ID: ", "message_id"),
        ("Hits: ", "hits"),
        ("size: ", "size"),
        ("queued_as: ", "queued_as"),
    ):
        pos = rest.find(key)
        if pos < 0:
            continue
        value = rest[pos + len(key) :]
        if name == "queued_as":
            ids = []
            for chunk in value.split(", "):
                part = chunk.strip().rstrip(",")
                if QID_RE.match(part):
                    ids.append(part)
                else:
                    break
            f[name] = ids
            continue
        value = value.split(", ", 1)[0].strip().rstrip(",")
        if name == "message_id":
            value = _msgid(value)
        elif name == "size":
            value = int(value) if value.isdigit() else None
        f[name] = value
    qid = f.pop("qid", None)
    # Keys named by the loop above, not literals mypy could check; the contract test
    # holds amavis events to events.Amavis at run time.
    return Event(line, "amavis", qid, cast(Fields, f))
