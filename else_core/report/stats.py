"""The full ``elsectl report``: pflogsumm's sections, counted per e-mail instead of per line.

:class:`ReportBuilder` reads events once. Line-level facts (rejects, warnings, smtpd
sessions, postscreen, deferral/bounce reasons) are counted from the events as they
pass; message-level facts (received, delivered, bounced, bytes, senders, recipients,
per-day/per-hour traffic) are counted from the e-mails the :class:`Correlator` emits,
so a message that went through a content filter (amavis re-injection, a second
cleanup) or was forwarded counts once, where pflogsumm counts each hop. Nothing is kept
per line or per e-mail: only counters keyed by day, hour, domain, address and reason,
and the correlator's own open state.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from else_core.correlate import Correlator
from else_core.model import STATUSES, Email, Reject, Transaction
from else_core.reader import ReadStats
from else_core.records import Event, field_values

SCHEMA = "else-report/1"

REJECT_KINDS = {
    "reject": "rejected",
    "milter-reject": "rejected",
    "proxy-reject": "rejected",
    "reject_warning": "reject_warnings",
    "warning": "reject_warnings",
    "hold": "held",
    "milter-hold": "held",
    "discard": "discarded",
    "milter-discard": "discarded",
}
_RECEIVED_ORIGINS = frozenset(("smtpd", "pickup"))
TRAFFIC = ("received", "delivered", "deferred", "bounced", "rejected")

DIFFERENCES = (
    "Messages are counted once per e-mail: a content-filter hop (amavis re-injection,"
    " postfix/10025/smtpd) or an alias forward does not count again, where pflogsumm"
    " counts every status=sent line as a delivery.",
    "received counts e-mails that entered by smtpd or pickup (any syslog name,"
    " multi-instance too); pflogsumm ignores names other than postfix/, postfix/smtps/"
    " and postfix/submission/.",
    "delivered, bounced and recipients use each recipient's final status across every"
    " hop; deferred counts e-mails with at least one deferral, deferrals every attempt.",
    "bytes delivered is the e-mail's size per delivered recipient, taken from the first"
    " hop, so filter hops do not add it again.",
    "Notifications Postfix generates (bounce, delay, success DSNs) belong to the e-mail"
    " they report on: counted as notifications, not as received or delivered e-mails.",
    "Use --compat pflogsumm for pflogsumm's own Grand Totals, quirks included.",
)

_ADDR_PREFIX = re.compile(r"^<[^>]*>: ")
_BLOCKED = re.compile(r"(client|Client host|Sender address) .+? blocked")
_BLOCKED_USING = re.compile(r"blocked using ([^\s;,]+)")
_TRAILING_IP = re.compile(r",? \[[0-9a-fA-F.:]+\]$")
_SAID = re.compile(r"^.* said: ")
_ANY_COLON = re.compile(r"^.*?: +")
_LEAD_CODE = re.compile(r"^\d{3} ")
_GD_BRACKET = re.compile(r"([^\[]*)\[((?:\d{1,3}\.){3}\d{1,3})\]")
_GD_ANY = re.compile(r"([^\[\(/]*)[\[\(/]([^\]\)]+)[\]\)]:?\d*$")
_GD_TWO = re.compile(r"(.*)\.([^\.]+)\.([^\.]{3}|[^\.]{2,3}\.[^\.]{2})$")


def host_domain(host: str | None, ip: str | None = None) -> str:
    """A client's "host/domain" as pflogsumm names it: the registered domain, else the IP."""
    host = (host or "").lower()
    if not host or host == "unknown":
        return ip or "unknown"
    t = _GD_TWO.match(host)
    return f"{t.group(2)}.{t.group(3)}" if t is not None else host


def client_domain(client: str) -> str:
    """``mx.example.org[192.0.2.1]`` -> ``example.org``; ``unknown[192.0.2.1]`` -> the IP."""
    m = _GD_BRACKET.match(client) or _GD_ANY.match(client)
    if m is None:
        return host_domain(client)
    return host_domain(m.group(1), m.group(2))


def fold_address(addr: str) -> str:
    """Lower-case the domain part only (local parts can be case-sensitive), as pflogsumm."""
    local, at, domain = addr.rpartition("@")
    return f"{local}@{domain.lower()}" if at else addr


def address_domain(addr: str) -> str:
    return addr.rpartition("@")[2].lower() if "@" in addr else addr.lower()


def trim(text: str, limit: int, keep: bool) -> str:
    if keep or len(text) <= limit:
        return text
    return text[: limit - 3] + "..."


def said_trim(text: str, limit: int, keep: bool) -> str:
    """pflogsumm's ``said_string_trimmer``: drop the "host said:" preamble, then cut."""
    if keep:
        return text
    while len(text) > limit:
        if _SAID.match(text):
            text = _SAID.sub("", text, count=1)
        elif _ANY_COLON.match(text) and ":" in text:
            new = _ANY_COLON.sub("", text, count=1)
            if new == text:
                break
            text = new
        else:
            return text[: limit - 3] + "..."
    return text


def reject_reason(reason: str, keep: bool) -> str:
    """Group rejects by reason, not by the address, client or IP each line names.

    ``<u@x>: Relay access denied`` -> ``Relay access denied``; ``Service unavailable;
    client [192.0.2.1] blocked using zen.spamhaus.org`` -> ``Service unavailable; blocked
    using zen.spamhaus.org``; ``cannot find your hostname, [192.0.2.1]`` loses the IP.
    """
    if not keep:
        head = _ADDR_PREFIX.sub("", reason).split(";", 1)[0]
        head = _TRAILING_IP.sub("", _BLOCKED.sub("blocked", head))
        dnsbl = _BLOCKED_USING.search(reason)
        if dnsbl is not None and "blocked using" not in head:
            head = f"{head}; blocked using {dnsbl.group(1)}"
        reason = head
    return trim(reason, 64, keep)


@dataclass(slots=True, init=False)
class _Volume:
    count: int = 0
    bytes: int = 0

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), field_values(self))  # see records.field_values

    # Written out (init=False): mypyc compiles it; a dataclass's generated one is interpreted.
    def __init__(
        self,
        count: int = 0,
        bytes: int = 0,
    ) -> None:
        self.count = count
        self.bytes = bytes


@dataclass(slots=True, init=False)
class _RcptDomain:
    delivered: int = 0
    bytes: int = 0
    defers: int = 0
    delay_sum: float = 0.0
    delay_max: float = 0.0

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), field_values(self))  # see records.field_values

    # Written out (init=False): mypyc compiles it; a dataclass's generated one is interpreted.
    def __init__(
        self,
        delivered: int = 0,
        bytes: int = 0,
        defers: int = 0,
        delay_sum: float = 0.0,
        delay_max: float = 0.0,
    ) -> None:
        self.delivered = delivered
        self.bytes = bytes
        self.defers = defers
        self.delay_sum = delay_sum
        self.delay_max = delay_max


@dataclass(slots=True, init=False)
class _Conn:
    count: int = 0
    total: float = 0.0
    max: float = 0.0

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), field_values(self))  # see records.field_values

    # Written out (init=False): mypyc compiles it; a dataclass's generated one is interpreted.
    def __init__(
        self,
        count: int = 0,
        total: float = 0.0,
        max: float = 0.0,
    ) -> None:
        self.count = count
        self.total = total
        self.max = max

    def add(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        self.max = max(self.max, seconds)


@dataclass
class ReportBuilder:
    """Feed events in log order (:meth:`feed`), then :meth:`finish` for the report dict."""

    top: int = 10
    detail: bool = False
    correlator: Correlator = field(default_factory=Correlator)
    first: datetime | None = None
    last: datetime | None = None
    totals: Counter[str] = field(default_factory=Counter)
    per_day: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    per_hour: dict[int, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    days: set[str] = field(default_factory=set)
    rcpt_domains: dict[str, _RcptDomain] = field(default_factory=lambda: defaultdict(_RcptDomain))
    send_domains: dict[str, _Volume] = field(default_factory=lambda: defaultdict(_Volume))
    senders: dict[str, _Volume] = field(default_factory=lambda: defaultdict(_Volume))
    recipients: dict[str, _Volume] = field(default_factory=lambda: defaultdict(_Volume))
    deferral_reasons: Counter[tuple[str, str]] = field(default_factory=Counter)
    bounce_reasons: Counter[tuple[str, str]] = field(default_factory=Counter)
    decisions: dict[str, Counter[tuple[str, str, str]]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    smtp_failures: Counter[tuple[str, str]] = field(default_factory=Counter)
    warnings: dict[str, Counter[tuple[str, str]]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    master: Counter[str] = field(default_factory=Counter)
    sessions: dict[tuple[str, str, int | None], datetime] = field(default_factory=dict)
    conn_total: _Conn = field(default_factory=_Conn)
    conn_domains: dict[str, _Conn] = field(default_factory=lambda: defaultdict(_Conn))
    conn_hours: dict[int, _Conn] = field(default_factory=lambda: defaultdict(_Conn))
    postscreen: Counter[str] = field(default_factory=Counter)
    dnsbl_sites: Counter[str] = field(default_factory=Counter)
    email_status: Counter[str] = field(default_factory=Counter)
    recipient_status: Counter[str] = field(default_factory=Counter)
    #: Server name -> role (``[[servers]]`` of else.toml); None: no "ways" section.
    roles: dict[str, str] | None = None
    ways: Counter[str] = field(default_factory=Counter)
    _day: tuple[datetime, datetime] | None = None  # the current day's [start, end)

    # -- input -------------------------------------------------------------------------------

    def feed(self, ev: Event) -> None:
        ts = ev.line.ts
        if ts is not None:
            # Two comparisons per line; the date is worked out once per day, not per line.
            if self._day is None or not (self._day[0] <= ts < self._day[1]):
                self._new_day(ts)
            elif ts > self.last:  # type: ignore[operator]  # set with _day (_new_day)
                self.last = ts
        handler = _HANDLERS.get(ev.kind)
        if handler is not None:
            handler(self, ev)
        corr = self.correlator
        corr.feed(ev)
        if corr._out:
            self._take(corr.drain())

    def _new_day(self, ts: datetime) -> None:
        day = ts.date()
        self.days.add(day.isoformat())
        start = datetime.combine(day, time(), tzinfo=ts.tzinfo)
        self._day = (start, start + timedelta(days=1))
        if self.first is None or ts < self.first:
            self.first = ts
        if self.last is None or ts > self.last:
            self.last = ts

    def feed_all(self, events: Iterable[Event]) -> None:
        for ev in events:
            self.feed(ev)

    def _traffic(self, ts: datetime | None, what: str, n: int = 1) -> None:
        if ts is None:
            return
        self.per_day[ts.date().isoformat()][what] += n
        self.per_hour[ts.hour][what] += n

    def _on_action(self, ev: Event) -> None:
        f = ev.f
        kind = REJECT_KINDS.get(f.get("action", ""))
        if kind is None:
            return
        self.totals[kind] += 1
        if kind == "rejected":
            self._traffic(ev.line.ts, "rejected")
            if ev.daemon == "postscreen":
                self.postscreen["rejects"] += 1
        reason = f.get("reason") or f.get("detail") or ""
        detail = f.get("detail")
        if f.get("stage") in ("header", "body") and detail:
            # the checked text, then the optional reply text (the parser repeats the
            # text as reason when there is no reply: shown once)
            extra = f.get("reason")
            reason = f"{detail} ({extra})" if extra and extra != detail else detail
        key = (ev.daemon, f.get("stage", ""), reject_reason(reason, self.detail))
        self.decisions[kind][key] += 1

    def _on_delivery(self, ev: Event) -> None:
        f = ev.f
        status = f.get("status")
        if status == "deferred":
            reason = said_trim(f.get("response", ""), 65, self.detail)
            if not self.detail:
                reason = _LEAD_CODE.sub("", reason)
                reason = reason.removeprefix("connect to ")
            self.deferral_reasons[(ev.daemon, reason)] += 1
        elif status == "bounced":
            reason = said_trim(f.get("response", ""), 66, self.detail)
            if not self.detail:
                reason = _LEAD_CODE.sub("", reason)
            self.bounce_reasons[(f.get("relay", ""), reason)] += 1

    def _on_smtp_error(self, ev: Event) -> None:
        err = ev.f.get("error", "")
        peer = ev.f.get("peer_host") or ev.f.get("peer_ip") or ""
        if err.startswith("connect to "):
            reason = err.rpartition(": ")[2]
            self.smtp_failures[(trim(reason, 66, self.detail), peer)] += 1
        else:
            self.smtp_failures[(trim(err, 66, self.detail), peer)] += 1

    def _on_warning(self, ev: Event) -> None:
        level = ev.f.get("level", "warning")
        text = trim(ev.f.get("text", ""), 66, self.detail)
        self.warnings[level][(ev.daemon, text)] += 1

    def _on_sasl_fail(self, ev: Event) -> None:
        text = f"{ev.f.get('client_host')}[{ev.f.get('client_ip')}]: SASL authentication failed"
        self.warnings["warning"][(ev.daemon, trim(text, 66, self.detail))] += 1

    def _on_master(self, ev: Event) -> None:
        self.master[ev.f.get("text", "")] += 1

    def _on_connect(self, ev: Event) -> None:
        if ev.daemon != "smtpd" or ev.line.ts is None:
            return
        self.sessions[(ev.line.host, ev.line.program, ev.line.pid)] = ev.line.ts
        if len(self.sessions) > 100_000:  # a log cut mid-session must not grow us forever
            self.sessions.clear()

    def _on_disconnect(self, ev: Event) -> None:
        if ev.daemon != "smtpd" or ev.line.ts is None:
            return
        start = self.sessions.pop((ev.line.host, ev.line.program, ev.line.pid), None)
        if start is None:
            return
        seconds = max(0.0, (ev.line.ts - start).total_seconds())
        self.conn_total.add(seconds)
        self.conn_domains[host_domain(ev.f.get("client_host"), ev.f.get("client_ip"))].add(seconds)
        self.conn_hours[ev.line.ts.hour].add(seconds)

    def _on_ps_connect(self, ev: Event) -> None:
        self.postscreen["connects"] += 1

    def _on_ps_pass(self, ev: Event) -> None:
        self.postscreen[f"pass_{ev.f.get('pass', '').lower()}"] += 1

    def _on_ps_event(self, ev: Event) -> None:
        self.postscreen[ev.f.get("event", "other").lower().replace(" ", "_")] += 1

    def _on_dnsbl(self, ev: Event) -> None:
        self.dnsbl_sites[ev.f.get("domain", "")] += 1

    # -- e-mails from the correlator -----------------------------------------------------

    def _take(self, records: list[Email | Reject]) -> None:
        for rec in records:
            if isinstance(rec, Email):
                self._email(rec)

    def _email(self, email: Email) -> None:
        self.email_status[email.status] += 1
        if self.roles is not None:
            self.ways[way(email, self.roles)] += 1
        root = _root(email)
        size = email.size or 0
        if root is not None and root.origin in _RECEIVED_ORIGINS:
            self.totals["received"] += 1
            self.totals["bytes_received"] += size
            self._traffic(root.first_seen, "received")
            sender = fold_address(email.sender) if email.sender else "<>"
            self.senders[sender].count += 1
            self.senders[sender].bytes += size
            if email.sender and "@" in email.sender:
                domain = address_domain(email.sender)
            elif email.client:
                domain = host_domain(email.client, email.client_ip)
            else:
                domain = "pickup" if root.origin == "pickup" else (email.client_ip or "unknown")
            self.send_domains[domain].count += 1
            self.send_domains[domain].bytes += size
        deferred = False
        for tx in email.transactions:
            if tx.origin == "bounce":
                self.totals["notifications"] += 1
            for at in tx.attempts:
                if at.status == "deferred":
                    deferred = True
                    self.totals["deferrals"] += 1
                    self.rcpt_domains[address_domain(at.to)].defers += 1
                    self._traffic(at.at, "deferred")
                elif at.status == "sent" and (at.response or "").startswith("forwarded as"):
                    self.totals["forwarded"] += 1
        if deferred:
            self.totals["deferred"] += 1
        for r in email.recipients:
            self.recipient_status[r.status] += 1
            if r.status == "delivered":
                addr = fold_address(r.address)
                self.totals["delivered"] += 1
                self.totals["bytes_delivered"] += size
                self._traffic(r.at, "delivered")
                d = self.rcpt_domains[address_domain(r.address)]
                d.delivered += 1
                d.bytes += size
                delay = r.delay or 0.0
                d.delay_sum += delay
                d.delay_max = max(d.delay_max, delay)
                self.recipients[addr].count += 1
                self.recipients[addr].bytes += size
            elif r.status == "bounced":
                self.totals["bounced"] += 1
                self._traffic(r.at, "bounced")

    # -- output ----------------------------------------------------------------------------

    def finish(self, stats: ReadStats | None = None) -> dict[str, Any]:
        """End of input: flush the correlator and return the report (docs/report.md)."""
        self._take(self.correlator.finish())
        return self.report(stats)

    def report(self, stats: ReadStats | None = None) -> dict[str, Any]:
        t = self.totals
        top = self.top if self.top > 0 else None
        dtop = None if self.detail else top
        counted = t["delivered"] + t["rejected"] + t["discarded"]
        totals = {
            "received": t["received"],
            "delivered": t["delivered"],
            "forwarded": t["forwarded"],
            "deferred": t["deferred"],
            "deferrals": t["deferrals"],
            "bounced": t["bounced"],
            "rejected": t["rejected"],
            "rejected_pct": _pct(t["rejected"], counted),
            "reject_warnings": t["reject_warnings"],
            "held": t["held"],
            "discarded": t["discarded"],
            "discarded_pct": _pct(t["discarded"], counted),
            "bytes_received": t["bytes_received"],
            "bytes_delivered": t["bytes_delivered"],
            "senders": len(self.senders),
            "sending_hosts_domains": len(self.send_domains),
            "recipients": len(self.recipients),
            "recipient_hosts_domains": sum(1 for d in self.rcpt_domains.values() if d.delivered),
            "notifications": t["notifications"],
        }
        ndays = len(self.days)
        per_hour = []
        for hour in range(24):
            c = self.per_hour.get(hour, Counter())
            row: dict[str, Any] = {"hour": hour}
            row.update({k: c[k] for k in TRAFFIC})
            row.update({f"avg_{k}": round(c[k] / ndays, 2) if ndays else 0.0 for k in TRAFFIC})
            per_hour.append(row)
        rcpt_domains = sorted(
            self.rcpt_domains.items(), key=lambda kv: (-kv[1].delivered, -kv[1].bytes, kv[0])
        )
        conn = self.conn_total
        return {
            "schema": SCHEMA,
            "input": (stats.as_dict() if stats is not None else {}),
            "period": {"first": _iso(self.first), "last": _iso(self.last), "days": ndays},
            "totals": totals,
            "per_day": [
                {"date": day, **{k: self.per_day[day][k] for k in TRAFFIC}}
                for day in sorted(self.per_day)
            ],
            "per_hour": per_hour,
            "recipient_domains": [
                {
                    "domain": name,
                    "delivered": d.delivered,
                    "bytes": d.bytes,
                    "defers": d.defers,
                    "avg_delay": round(d.delay_sum / d.delivered, 3) if d.delivered else 0.0,
                    "max_delay": round(d.delay_max, 3),
                }
                for name, d in rcpt_domains[:top]
            ],
            "sending_domains": _volumes(self.send_domains, "domain", "received", top, False),
            "senders_by_count": _volumes(self.senders, "address", "messages", top, False),
            "recipients_by_count": _volumes(self.recipients, "address", "messages", top, False),
            "senders_by_size": _volumes(self.senders, "address", "messages", top, True),
            "recipients_by_size": _volumes(self.recipients, "address", "messages", top, True),
            "deferrals": _rows(self.deferral_reasons, ("daemon", "reason"), dtop),
            "bounces": _rows(self.bounce_reasons, ("relay", "reason"), dtop),
            "rejects": _rows(self.decisions["rejected"], ("daemon", "stage", "reason"), dtop),
            "reject_warnings": _rows(
                self.decisions["reject_warnings"], ("daemon", "stage", "reason"), dtop
            ),
            "holds": _rows(self.decisions["held"], ("daemon", "stage", "reason"), dtop),
            "discards": _rows(self.decisions["discarded"], ("daemon", "stage", "reason"), dtop),
            "smtp_failures": _rows(self.smtp_failures, ("reason", "host"), dtop),
            "warnings": _rows(self.warnings["warning"], ("daemon", "text"), dtop),
            "errors": _rows(self.warnings["error"], ("daemon", "text"), dtop),
            "fatals": _rows(self.warnings["fatal"], ("daemon", "text"), dtop),
            "panics": _rows(self.warnings["panic"], ("daemon", "text"), dtop),
            "master": _rows(Counter({(k,): v for k, v in self.master.items()}), ("text",), dtop),
            "smtpd": {
                "connections": conn.count,
                "hosts_domains": len(self.conn_domains),
                "total_seconds": round(conn.total, 3),
                "avg_seconds": round(conn.total / conn.count, 3) if conn.count else 0.0,
                "max_seconds": round(conn.max, 3),
                "per_hour": [
                    _conn_row({"hour": h}, self.conn_hours[h])
                    for h in range(24)
                    if h in self.conn_hours
                ],
                "domains": [
                    _conn_row({"domain": name}, c)
                    for name, c in sorted(
                        self.conn_domains.items(), key=lambda kv: (-kv[1].count, kv[0])
                    )[:top]
                ],
            },
            "postscreen": {
                "connects": self.postscreen["connects"],
                "pass_new": self.postscreen["pass_new"],
                "pass_old": self.postscreen["pass_old"],
                "rejects": self.postscreen["rejects"],
                "events": {
                    k: v
                    for k, v in sorted(self.postscreen.items())
                    if k not in ("connects", "pass_new", "pass_old", "rejects")
                },
                "dnsbl_sites": [
                    {"domain": k, "count": v}
                    for k, v in sorted(self.dnsbl_sites.items(), key=lambda kv: (-kv[1], kv[0]))[
                        :top
                    ]
                ],
            },
            "emails": {
                "total": sum(self.email_status.values()),
                "by_status": {s: self.email_status[s] for s in (*STATUSES, "mixed")},
                "recipients_by_status": {s: self.recipient_status[s] for s in STATUSES},
            },
            "differences_from_pflogsumm": list(DIFFERENCES),
        } | (
            {}
            if self.roles is None
            else {
                "ways": [
                    {"way": k, "emails": n}
                    for k, n in sorted(self.ways.items(), key=lambda kv: (-kv[1], kv[0]))
                ]
            }
        )


def way(email: Email, roles: dict[str, str]) -> str:
    """The roles of the servers an e-mail crossed, in the order it reached them
    ("incoming → outgoing"); bounces sent back are not part of its way. The database's
    "way" report (else_core.stats.WAY_SQL) says the same."""
    hops = sorted(
        (t for t in email.transactions if t.origin != "bounce"),
        key=lambda t: (t.first_seen is None, t.first_seen),
    )
    seen: list[str] = []
    for t in hops:
        role = roles.get(t.host, "unknown")
        if role not in seen:
            seen.append(role)
    return " → ".join(seen) or "unknown"


def _root(email: Email) -> Transaction | None:
    keys = {(t.host, t.queue_id) for t in email.transactions}
    for tx in email.transactions:
        if tx.parent is None or (tx.parent_host or tx.host, tx.parent) not in keys:
            return tx
    return email.transactions[0] if email.transactions else None


def _pct(part: int, whole: int) -> int:
    return int(part / whole * 100) if whole else 0


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts is not None else None


def _volumes(
    table: dict[str, _Volume], key: str, count: str, top: int | None, by_size: bool
) -> list[dict[str, Any]]:
    if by_size:
        order = sorted(table.items(), key=lambda kv: (-kv[1].bytes, -kv[1].count, kv[0]))
    else:
        order = sorted(table.items(), key=lambda kv: (-kv[1].count, -kv[1].bytes, kv[0]))
    return [{key: k, count: v.count, "bytes": v.bytes} for k, v in order[:top]]


def _rows(counter: Counter[Any], keys: tuple[str, ...], top: int | None) -> list[dict[str, Any]]:
    order = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    return [{**dict(zip(keys, k, strict=True)), "count": v} for k, v in order[:top]]


def _conn_row(head: dict[str, Any], c: _Conn) -> dict[str, Any]:
    return {
        **head,
        "connections": c.count,
        "total_seconds": round(c.total, 3),
        "avg_seconds": round(c.total / c.count, 3) if c.count else 0.0,
        "max_seconds": round(c.max, 3),
    }


_HANDLERS = {
    "action": ReportBuilder._on_action,
    "delivery": ReportBuilder._on_delivery,
    "smtp_error": ReportBuilder._on_smtp_error,
    "warning": ReportBuilder._on_warning,
    "sasl_fail": ReportBuilder._on_sasl_fail,
    "master": ReportBuilder._on_master,
    "connect": ReportBuilder._on_connect,
    "disconnect": ReportBuilder._on_disconnect,
    "ps_connect": ReportBuilder._on_ps_connect,
    "ps_pass": ReportBuilder._on_ps_pass,
    "ps_event": ReportBuilder._on_ps_event,
    "dnsbl": ReportBuilder._on_dnsbl,
}
