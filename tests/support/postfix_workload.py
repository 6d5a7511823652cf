"""A varied mail workload driven through a real Postfix, with what must become of every recipient.

Each :class:`Message` says what the test sends and does (recipients, sender, filter, a
postsuper/postqueue operation, sent early or late); :func:`expected_status` derives each
recipient's final status in DESIGN.md's vocabulary from that alone, never from the log.
:class:`Workload` runs it: scripted peers, a Postfix instance, sending, the operations, and
polling until Postfix has done everything it will do, then stops Postfix so the log is
complete. The log is then the ground truth that ELSE (and pflogsumm) are checked against.
"""

from __future__ import annotations

import contextlib
import mailbox
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.dns_zone import DnsZone, listing
from tests.support.policy_server import GreylistPolicy
from tests.support.postfix import PostfixInstance, TempfailMilter, free_port, wait_until
from tests.support.smtp_sink import ContentFilter, Envelope, SmtpSink, behaviour

HOSTNAME = "pfx.test"
SINK = "sink.test"
#: A domain routed to a loopback port nobody listens on: "Connection refused", relay=none.
DOWN = "down.test"
#: Postfix's maximal_queue_lifetime for the run: long enough for the operations on deferred
#: mail, short enough that expiry happens within the test.
QUEUE_LIFETIME = 10

#: Local aliases: forwards to the sink (followed to the end of the chain by ELSE).
ALIASES = {
    "fwd-ok": f"ok-fwdtarget@{SINK}",
    "fwd-bad": f"bad-fwdtarget@{SINK}",
}

#: Client addresses postscreen's access list denies (postscreen then refuses every RCPT).
DENYLISTED = {"127.0.0.2"}

#: The DNS blocklist zone the test DNS server serves, and the clients it lists: postscreen
#: asks it (through dnsblog) and refuses every RCPT of a listed client.
DNSBL_ZONE = "bl.test"
DNSBL_LISTED = {"127.0.0.3"}

#: SASL users smtpd knows (Cyrus sasldb): log-in -> password.
SASL_USERS = {f"ann@{HOSTNAME}": "ann-secret", f"bob@{HOSTNAME}": "bob-secret"}

#: What the access map does with recipients whose local part starts with these words.
ACCESS_ACTIONS = {"reject": "REJECT", "discard": "DISCARD", "hold": "HOLD"}

#: What each operation on a deferred ``gate-*`` message leaves behind.
OP_OUTCOME = {
    "flush": "delivered",  # gate opened, `postqueue -f`
    "hold": "held",  # `postsuper -h`, never released
    "release": "delivered",  # `postsuper -h`, gate opened, `postsuper -H`, flush
    "delete": "deleted",  # `postsuper -d`
    "requeue": "delivered",  # `postsuper -r` (a new queue file via pickup), gate opened
    # `postsuper -h`, `-H`, `-r` (a new file), `-h` on the new file: held, never tried again
    "hold-requeue-hold": "held",
    # `postsuper -r` twice, each after a deferral of the file it names: expires in the end
    # (a tmp-* recipient, so its outcome does not depend on the op; listed for the drive)
    "requeue-expire": "expired",
}


@dataclass
class Message:
    """One message of the workload and, once sent, what Postfix answered."""

    name: str
    sender: str
    recipients: list[str]
    via: str = "smtp"  # smtp | sendmail
    with_message_id: bool = True
    filter: str | None = None  # "xforward" | "plain": an after-queue content filter
    op: str | None = None  # a key of OP_OUTCOME, applied once the message is deferred
    late: bool = False  # sent after the others expired, so a temporary failure stays deferred
    header_action: str | None = None  # REJECT | HOLD by cleanup's header_checks (on Subject)
    warned: bool = False  # the first recipient hits a REJECT behind warn_if_reject
    postscreen: bool = False  # connect to the port with postscreen in front of smtpd
    source: str = "127.0.0.1"  # the client's address (any of 127/8)
    message_id: str | None = None
    queue_id: str | None = None
    # every queue file of the message in order: postsuper -r makes a new one each time
    queue_ids: list[str] = field(default_factory=list)
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)
    milter_tempfail: bool = False  # the test milter refuses the first submission for now
    # the policy server greylists the first recipient once: 450 at RCPT, the retry passes
    greylisted: bool = False
    sasl_login: str | None = None  # AUTH PLAIN with this SASL user before MAIL FROM
    tempfailed: tuple[int, str] | None = None  # its answer to that first submission
    filter_queue_id: str | None = None  # the re-injected copy's queue ID (from the filter)

    @property
    def accepted(self) -> list[str]:
        return [r for r in self.recipients if r not in self.refused]

    @property
    def last_queue_id(self) -> str | None:
        """The queue file the message lives in now (after any requeue)."""
        return self.queue_ids[-1] if self.queue_ids else self.queue_id


def _local(address: str) -> str:
    return address.rpartition("@")[0]


def _word(address: str) -> str:
    return _local(address).split("-", 1)[0].lower()


def is_local(address: str) -> bool:
    return address.rpartition("@")[2] == HOSTNAME


def final_address(address: str) -> str:
    """Where a recipient ends up: the alias target for a local alias, else itself."""
    return ALIASES.get(_local(address), address) if is_local(address) else address


def expected_status(msg: Message, address: str) -> str:
    """The final status of ``address`` in ``msg``, from what the workload sends and does."""
    if _word(address) == "reject" or msg.header_action == "REJECT":
        return "rejected"
    if msg.postscreen and msg.source in DENYLISTED | DNSBL_LISTED:
        return "rejected"
    if msg.header_action == "HOLD":
        return "held"
    words = {_word(r) for r in msg.recipients}
    if "discard" in words:  # DISCARD applies to the whole message
        return "discarded"
    if "hold" in words:  # so does HOLD
        return "held"
    if address.endswith(f"@{DOWN}"):
        return "deferred" if msg.late else "expired"
    kind = behaviour(final_address(address))
    if kind in {"accept", "once"}:
        return "delivered"
    if kind == "reject":
        return "bounced"
    if kind == "tempfail":
        return "deferred" if msg.late else "expired"
    if kind == "stall":  # Postfix was stopped while it was delivering: no outcome logged
        return "queued"
    assert kind == "gate" and msg.op, f"{msg.name}: a gate-* recipient needs an op"
    return OP_OUTCOME[msg.op]


def expected_ndrs(msg: Message) -> int:
    """Non-delivery notifications the sender gets: one per queue file that bounces or expires.

    Forwarded recipients travel in queue files of their own (one per alias), so each
    bouncing forward is one more notification; the rest bounce together.
    """
    statuses = {r: expected_status(msg, r) for r in msg.accepted}
    forwarded = [r for r, s in statuses.items() if is_local(r) and s == "bounced"]
    direct = [r for r, s in statuses.items() if not is_local(r) and s == "bounced"]
    return len(forwarded) + bool(direct) + ("expired" in statuses.values())


def workload() -> list[Message]:
    """The cases, one behaviour each (names are unique and name every address)."""
    mine = f"@{HOSTNAME}"
    return [
        Message("single", f"ok-snd-single@{SINK}", [f"ok-single@{SINK}"]),
        Message(
            "mixed",
            f"owner-mixed{mine}",
            [f"ok-mixed@{SINK}", f"bad-mixed@{SINK}", f"tmp-mixed@{SINK}"],
        ),
        Message("retry", f"ok-snd-retry@{SINK}", [f"once-retry@{SINK}"]),
        Message("flush", f"ok-snd-flush@{SINK}", [f"gate-flush@{SINK}"], op="flush"),
        Message("expire", f"owner-expire{mine}", [f"tmp-expire@{SINK}"]),
        Message("unreachable", f"ok-snd-unreach@{SINK}", [f"unreach@{DOWN}"]),
        Message("bounce", f"owner-bounce{mine}", [f"bad-bounce@{SINK}"]),
        Message(
            "filter-xforward",
            f"ok-snd-filterx@{SINK}",
            [f"ok-filterx@{SINK}", f"bad-filterx@{SINK}"],
            filter="xforward",
        ),
        Message("filter-plain", f"ok-snd-filterp@{SINK}", [f"ok-filterp@{SINK}"], filter="plain"),
        Message("forward", f"ok-snd-forward@{SINK}", [f"fwd-ok{mine}", f"fwd-bad{mine}"]),
        Message("reject-only", f"ok-snd-rejonly@{SINK}", [f"reject-only@{SINK}"]),
        Message(
            "reject-after",
            f"ok-snd-rejafter@{SINK}",
            [f"ok-rejafter@{SINK}", f"reject-after@{SINK}"],
        ),
        Message(
            "reject-before",
            f"ok-snd-rejbefore@{SINK}",
            [f"reject-before@{SINK}", f"ok-rejbefore@{SINK}"],
        ),
        # One recipient: after DISCARD smtpd accepts further RCPTs without logging them.
        Message("discard", f"ok-snd-discard@{SINK}", [f"discard-it@{SINK}"]),
        Message("hold-access", f"ok-snd-holdacc@{SINK}", [f"hold-it@{SINK}"]),
        Message("hold", f"ok-snd-hold@{SINK}", [f"gate-hold@{SINK}"], op="hold"),
        Message("release", f"ok-snd-release@{SINK}", [f"gate-release@{SINK}"], op="release"),
        Message("delete", f"ok-snd-delete@{SINK}", [f"gate-delete@{SINK}"], op="delete"),
        Message("requeue", f"ok-snd-requeue@{SINK}", [f"gate-requeue@{SINK}"], op="requeue"),
        Message(
            "hold-requeue-hold", f"ok-snd-hrh@{SINK}", [f"gate-hrh@{SINK}"], op="hold-requeue-hold"
        ),
        Message("requeue-expire", f"owner-rqexp{mine}", [f"tmp-rqexp@{SINK}"], op="requeue-expire"),
        Message(
            "milter-retry", f"ok-snd-milter@{SINK}", [f"ok-milter@{SINK}"], milter_tempfail=True
        ),
        Message("greylist", f"ok-snd-grey@{SINK}", [f"ok-grey@{SINK}"], greylisted=True),
        Message(
            "sasl",
            f"ok-snd-sasl@{SINK}",
            [f"ok-sasl@{SINK}", f"bad-sasl@{SINK}"],
            sasl_login=f"ann@{HOSTNAME}",
        ),
        Message(
            "no-message-id", f"ok-snd-nomid@{SINK}", [f"ok-nomid@{SINK}"], with_message_id=False
        ),
        Message("sendmail", f"owner-pickup{mine}", [f"ok-pickup@{SINK}"], via="sendmail"),
        Message("warned", f"ok-snd-warned@{SINK}", [f"ok-warned@{SINK}"], warned=True),
        Message("postscreen-pass", f"ok-snd-pspass@{SINK}", [f"ok-pspass@{SINK}"], postscreen=True),
        Message(
            "postscreen-deny",
            f"ok-snd-psdeny@{SINK}",
            [f"ok-psdeny@{SINK}"],
            postscreen=True,
            source="127.0.0.2",
        ),
        Message(
            "postscreen-dnsbl",
            f"ok-snd-psdnsbl@{SINK}",
            [f"ok-psdnsbl@{SINK}"],
            postscreen=True,
            source="127.0.0.3",
        ),
        Message(
            "header-reject", f"ok-snd-hdrrej@{SINK}", [f"ok-hdrrej@{SINK}"], header_action="REJECT"
        ),
        Message(
            "header-hold", f"ok-snd-hdrhold@{SINK}", [f"ok-hdrhold@{SINK}"], header_action="HOLD"
        ),
        Message(
            "late",
            f"owner-late{mine}",
            [f"ok-late@{SINK}", f"tmp-late@{SINK}", f"bad-late@{SINK}"],
            late=True,
        ),
        Message("in-flight", f"ok-snd-inflight@{SINK}", [f"slow-inflight@{SINK}"], late=True),
    ]


class Workload:
    """Runs :func:`workload` against a fresh Postfix; afterwards :attr:`maillog` is complete."""

    def __init__(self, root: Path, *, long_queue_ids: bool = False) -> None:
        self.root = root
        self.long_queue_ids = long_queue_ids
        self.messages = workload()
        self.sink = SmtpSink()
        self.postfix: PostfixInstance | None = None
        self.filters: dict[str, ContentFilter] = {}
        self.milter = TempfailMilter()
        self.policy = GreylistPolicy({m.recipients[0] for m in self.messages if m.greylisted})
        self.dns = DnsZone.on_port_53()
        self.dns.listed |= {listing(ip, DNSBL_ZONE) for ip in DNSBL_LISTED}
        self.ops_output: dict[str, str] = {}
        self.seconds = 0.0

    # -- what the test knows ---------------------------------------------------------------------
    def message(self, name: str) -> Message:
        return next(m for m in self.messages if m.name == name)

    @property
    def maillog(self) -> Path:
        assert self.postfix is not None
        return self.postfix.maillog

    def log_text(self) -> str:
        return self.maillog.read_text(errors="replace")

    def log_path(self, fmt: str = "classic") -> Path:
        """The maillog as Postfix wrote it (``classic``) or converted to ``rfc3339`` stamps."""
        return self.maillog if fmt == "classic" else self.maillog.with_name("maillog.rfc3339")

    def lines_about(self, *needles: str | None) -> str:
        """The log lines that mention any of ``needles`` (queue IDs, addresses): for messages."""
        wanted = [n for n in needles if n]
        return "".join(
            line
            for line in self.log_text().splitlines(keepends=True)
            if any(n in line for n in wanted)
        )

    def mailbox_of(self, local_sender: str) -> list[mailbox.mboxMessage]:
        """What local(8) appended to the file an ``owner-*`` alias delivers to."""
        assert self.postfix is not None
        path = self.postfix.mail_dir / _local(local_sender)
        return list(mailbox.mbox(path)) if path.exists() else []

    def ndrs_received(self, sender: str) -> list[Envelope] | list[mailbox.mboxMessage]:
        """The bounces that reached ``sender`` (in its mailbox file, or at the sink)."""
        if is_local(sender):
            return self.mailbox_of(sender)
        return [e for e in self.sink.delivered_to(sender) if e.mail_from == ""]

    # -- running ---------------------------------------------------------------------------------
    def run(self) -> Workload:
        started = time.monotonic()
        self.sink.start()
        self.milter.start()  # first: the Postfix configuration names the port it got
        self.policy.start()
        self.dns.start()
        aliases = dict(ALIASES)
        for m in self.messages:
            if is_local(m.sender):
                aliases[_local(m.sender)] = str(self.root / "mail" / _local(m.sender))
        pf = PostfixInstance(
            self.root,
            relay_port=self.sink.port,
            hostname=HOSTNAME,
            long_queue_ids=self.long_queue_ids,
            queue_lifetime=QUEUE_LIFETIME,
            aliases=aliases,
            postscreen_access={f"{ip}/32": "reject" for ip in sorted(DENYLISTED)},
            # postscreen trusts only 127.0.0.1, so its DNSBL test runs for the other clients.
            postscreen_mynetworks="127.0.0.1/32",
            dnsbl_resolver=self.dns.host,
            dnsbl_sites=f"{DNSBL_ZONE}*2",
            transports={DOWN: f"smtp:[127.0.0.1]:{free_port()}"},
            milter_port=self.milter.port,
            policy_port=self.policy.port,
            sasl_users=SASL_USERS,
        )
        self.postfix = pf
        for kind in ("xforward", "plain"):
            self.filters[kind] = ContentFilter(
                pf.reinject_port, xforward=kind == "xforward"
            ).start()
        for m in self.messages:
            for r in m.recipients:
                if _word(r) in ACCESS_ACTIONS:
                    pf.recipient_access[r] = ACCESS_ACTIONS[_word(r)]
            if m.filter:
                port = self.filters[m.filter].port
                pf.recipient_access[m.recipients[0]] = f"FILTER filter:[127.0.0.1]:{port}"
            if m.warned:
                pf.warn_access[m.recipients[0]] = "REJECT"
            if m.header_action:
                subject = re.escape(_subject(m))
                pf.header_checks.append(f"/^Subject: {subject}$/ {m.header_action} by the test")
        try:
            pf.start()
            self._drive(pf)
        except Exception as exc:
            exc.add_note(f"Postfix instance and its maillog: {self.root}")
            raise
        finally:
            pf.stop()
            for f in self.filters.values():
                f.stop()
            self.milter.stop()
            self.policy.stop()
            self.dns.stop()
            self.sink.stop()
        for m in self.messages:
            if m.filter and m.queue_id:
                replies = [
                    e.reply for e in self.filters[m.filter].envelopes() if e.mail_from == m.sender
                ]
                m.filter_queue_id = next(
                    (r.rsplit(" ", 1)[1] for r in replies if "queued as" in r), None
                )
        self.seconds = time.monotonic() - started
        return self

    def _drive(self, pf: PostfixInstance) -> None:
        early = [m for m in self.messages if not m.late]
        for m in early:
            self._send(pf, m)

        # Operations on deferred mail: wait until each gate-* message was tried once. Each is
        # retried every 1-2 s, so on a loaded machine a poll may catch one of them active
        # again: a message counts from the first poll that shows it deferred (requiring all
        # of them deferred in one poll timed out once, until the mail expired).
        ops = [m for m in early if m.op]
        tried: set[str | None] = set()

        def first_deferrals(q: list[dict]) -> bool:
            tried.update(m.queue_id for m in ops if _deferred_in(q, m.queue_id))
            return len(tried) == len(ops)

        pf.wait_queue(first_deferrals, 20, "the first deferrals")
        by_op = {m.op: m for m in ops}
        # postsuper first, while every gate is shut (else a retry may deliver the mail first).
        self.ops_output["hold"] = pf.postsuper("-h", by_op["hold"].queue_id)
        self.ops_output["release:hold"] = pf.postsuper("-h", by_op["release"].queue_id)
        self.ops_output["delete"] = pf.postsuper("-d", by_op["delete"].queue_id)
        self.ops_output["requeue"] = pf.postsuper("-r", by_op["requeue"].queue_id)
        self._requeued(pf, by_op["requeue"], by_op["requeue"].queue_id)
        self._requeue_after_deferrals(pf, by_op["requeue-expire"])
        self._hold_release_requeue_hold(pf, by_op["hold-requeue-hold"])
        for op in ("flush", "release", "requeue"):
            for r in by_op[op].recipients:
                self.sink.open_gate(r)
        self.ops_output["release"] = pf.postsuper("-H", by_op["release"].queue_id)
        pf.flush()

        # Everything settles: expired mail returned, bounces delivered; only held mail stays.
        held = {m.last_queue_id for m in early if "held" in self._statuses(m)}
        pf.wait_queue(
            lambda q: {x["queue_id"] for x in q} == held,
            QUEUE_LIFETIME + 30,
            f"the queue to hold only {sorted(held)}",
        )

        # Late mail: its temporary failure must still be pending when Postfix stops.
        late = [m for m in self.messages if m.late]
        for m in late:
            self._send(pf, m)
        pending = held | {m.queue_id for m in late}
        stalled = [m for m in late if "queued" in self._statuses(m)]
        waiting = [m for m in late if m not in stalled]
        pf.wait_queue(
            lambda q: (
                {x["queue_id"] for x in q} == pending
                and all(_deferred_in(q, m.queue_id) for m in waiting)
            ),
            30,
            "the late mail to be deferred and its bounces delivered",
        )
        for m in stalled:  # Postfix is in the middle of delivering it
            wait_until(
                lambda m=m: all(self.sink.attempts.get(r.lower()) for r in m.recipients),
                20,
                f"{m.name}: the delivery attempt to start",
            )
        for m in late:
            if expected_ndrs(m):
                wait_until(lambda m=m: self.ndrs_received(m.sender), 10, f"{m.name}: its bounce")

    def _requeued(self, pf: PostfixInstance, m: Message, qid: str | None) -> str:
        """Wait for pickup to turn the requeued ``qid`` into a new file; its queue ID."""
        new = pf.wait_log(
            rf"postfix/pickup\[\d+\]: (\w+): uid=\d+ from=<{re.escape(m.sender)}> orig_id={qid}$",
            20,
        )[0].group(1)
        m.queue_ids.append(new)
        return new

    def _requeue_after_deferrals(self, pf: PostfixInstance, m: Message) -> None:
        """postsuper -r after the first deferral, and again after the new file's deferral."""
        assert m.queue_id is not None
        self.ops_output["requeue-expire"] = pf.postsuper("-r", m.queue_id)
        new = self._requeued(pf, m, m.queue_id)
        pf.wait_log(rf"\b{new}: to=<{re.escape(m.recipients[0])}>.* status=deferred", 20)
        self.ops_output["requeue-expire:again"] = pf.postsuper("-r", new)
        self._requeued(pf, m, new)

    def _hold_release_requeue_hold(self, pf: PostfixInstance, m: Message) -> None:
        """Hold, release, requeue, then hold the new file: it ends held."""
        assert m.queue_id is not None
        self.ops_output["hold-requeue-hold:hold"] = pf.postsuper("-h", m.queue_id)
        self.ops_output["hold-requeue-hold:release"] = pf.postsuper("-H", m.queue_id)
        self.ops_output["hold-requeue-hold:requeue"] = pf.postsuper("-r", m.queue_id)
        new = self._requeued(pf, m, m.queue_id)
        self.ops_output["hold-requeue-hold:hold-again"] = pf.postsuper("-h", new)

    def _statuses(self, m: Message) -> set[str]:
        return {expected_status(m, r) for r in m.recipients}

    def _send(self, pf: PostfixInstance, m: Message) -> None:
        headers = []
        if m.with_message_id:  # first: cleanup logs it before any header_checks action
            m.message_id = f"{m.name}.{time.time_ns()}@client.test"
            headers.append(f"Message-ID: <{m.message_id}>")
        if m.milter_tempfail:
            headers.append("X-Else-Test: tempfail-once")
        headers += [
            f"From: <{m.sender}>",
            f"To: {', '.join(f'<{r}>' for r in m.recipients)}",
            f"Subject: {_subject(m)}",
            "Date: Thu, 01 Jan 2026 00:00:00 +0000",
        ]
        body = f"This is the {m.name} case of the ELSE ground-truth workload.\r\n"
        data = ("\r\n".join(headers) + "\r\n\r\n" + body).encode()
        if m.via == "sendmail":
            before = {x["queue_id"] for x in pf.queue()}
            pf.sendmail(m.sender, m.recipients, data.replace(b"\r\n", b"\n"))
            m.queue_id = pf.wait_log(
                rf"postfix/pickup\[\d+\]: (\w+): uid=\d+ from=<{re.escape(m.sender)}>", 20
            )[0].group(1)
            assert m.queue_id not in before
            m.queue_ids = [m.queue_id]
            return
        self._smtp_send(pf, m, data)
        if m.milter_tempfail:  # refused for now, as the milter was told to: send it again
            assert m.queue_id is None and m.tempfailed is not None, (m.name, m.tempfailed)
            self._smtp_send(pf, m, data)
        if m.greylisted:  # refused for now at RCPT, as a client meets greylisting: retry
            first = m.recipients[0]
            assert m.queue_id is None and first in m.refused, (m.name, m.refused)
            m.tempfailed = m.refused.pop(first)
            self._smtp_send(pf, m, data)
        if m.queue_id:
            m.queue_ids = [m.queue_id]

    def _smtp_send(self, pf: PostfixInstance, m: Message, data: bytes) -> None:
        with contextlib.closing(pf.smtp(postscreen=m.postscreen, source=m.source)) as smtp:
            smtp.ehlo()
            if m.sasl_login:
                smtp.login(m.sasl_login, SASL_USERS[m.sasl_login])
            code, reply = smtp.mail(m.sender)
            assert code == 250, (m.name, code, reply)
            for r in m.recipients:
                code, reply = smtp.rcpt(r)
                if code >= 400:
                    m.refused[r] = (code, reply.decode())
            if m.accepted:
                code, reply = smtp.data(data)
                if m.header_action == "REJECT":  # cleanup refused it: every recipient is refused
                    assert code >= 500, (m.name, code, reply)
                    m.refused.update({r: (code, reply.decode()) for r in m.accepted})
                elif m.milter_tempfail and m.tempfailed is None:
                    assert 400 <= code < 500, (m.name, code, reply)
                    m.tempfailed = (code, reply.decode())
                else:
                    assert code == 250, (m.name, code, reply)
                    m.queue_id = reply.decode().rsplit(" ", 1)[1]
            smtp.quit()


def _subject(m: Message) -> str:
    return f"ELSE ground truth: {m.name}"


def _deferred_in(queue: list[dict], queue_id: str | None) -> bool:
    """Whether ``queue_id`` sits in the deferred queue with a reason for every recipient."""
    for x in queue:
        if x["queue_id"] == queue_id:
            return x["queue_name"] == "deferred" and all(
                r.get("delay_reason") for r in x["recipients"]
            )
    return False


def run_workload(long_queue_ids: bool = False, base: Path | None = None) -> Workload:
    """Build a temp dir and run the workload in it (the caller removes ``root`` when done)."""
    root = Path(tempfile.mkdtemp(prefix="else-pfx-", dir=base))
    return Workload(root, long_queue_ids=long_queue_ids).run()
