"""Scripted SMTP peers on 127.0.0.1 for driving a real Postfix: a sink and an after-queue filter.

A real Postfix needs someone to deliver to. These servers answer each recipient the way the
test scripted it, so the test knows the truth (what it asked for and what the peer said)
independently of the log it later checks ELSE against. Stdlib only: one asyncio loop in a
daemon thread per server, bound to loopback, port chosen by the kernel.

The sink's answer is chosen by the recipient's local part (see :func:`behaviour`), the one
rule both the sink and the tests' expectations read, so they cannot drift apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import smtplib
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import compat32

#: Local-part prefix -> what the sink does with the recipient.
BEHAVIOURS = {
    "ok": "accept",  # 250 at once
    "bad": "reject",  # 550: Postfix bounces it
    "tmp": "tempfail",  # 451 for ever: deferred, then expired
    "once": "once",  # 451 at the first attempt, 250 afterwards
    "gate": "gate",  # 451 until the test opens the gate for this address
    "slow": "stall",  # no answer at all: Postfix is still delivering when it is stopped
}


def behaviour(address: str) -> str:
    """What the sink does with ``address``, from its local part's prefix (``ok-x@..`` -> accept)."""
    local = address.rpartition("@")[0] or address
    prefix = local.split("-", 1)[0].lower()
    try:
        return BEHAVIOURS[prefix]
    except KeyError:
        raise ValueError(
            f"{address!r}: local part must start with one of {sorted(BEHAVIOURS)}"
        ) from None


@dataclass(slots=True)
class Envelope:
    """One SMTP transaction as a server saw it."""

    peer: str
    helo: str = ""
    mail_from: str | None = None
    rcpt_to: list[str] = field(default_factory=list)
    xforward: list[str] = field(default_factory=list)  # raw XFORWARD arguments, in order
    data: bytes = b""
    reply: str = ""

    @property
    def headers(self):
        return BytesHeaderParser(policy=compat32).parsebytes(self.data)

    @property
    def message_id(self) -> str | None:
        value = self.headers.get("Message-ID")
        return value.strip() if value else None


def _address(arg: str) -> str:
    """The path inside ``FROM:<a@b> SIZE=1`` / ``TO:<a@b>``: what is between the angle brackets."""
    _, _, rest = arg.partition(":")
    rest = rest.strip()
    if rest.startswith("<"):
        return rest[1 : rest.find(">")] if ">" in rest else rest[1:]
    return rest.split(" ", 1)[0]


class SmtpServer:
    """A minimal ESMTP server (no PIPELINING, no TLS) running in its own thread.

    Subclasses decide the reply to each RCPT and to the end of DATA; everything accepted
    is kept in :attr:`received` in arrival order.
    """

    hostname = "sink.test"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.received: list[Envelope] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> SmtpServer:
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError(f"{type(self).__name__} did not start")
        if self._error is not None:
            raise RuntimeError(f"{type(self).__name__} failed to start") from self._error
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is not None and self._thread is not None and self._thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(10)

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(self._session, self.host, self.port, limit=1 << 20)
            )
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as exc:  # surfaced to start() in the test thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            self._server.close()
            pending = asyncio.all_tasks(loop)  # sessions stalled on purpose, among others
            for task in pending:
                task.cancel()
            with contextlib.suppress(Exception):
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    # -- what subclasses script ---------------------------------------------------------------
    def ehlo_extensions(self) -> list[str]:
        return ["SIZE 52428800", "8BITMIME", "ENHANCEDSTATUSCODES"]

    def rcpt_reply(self, env: Envelope, address: str) -> str:
        """The reply line to RCPT TO:<address>; an empty string stalls the session."""
        return "250 2.1.5 Ok"

    async def data_reply(self, env: Envelope) -> str:
        with self._lock:
            n = len(self.received) + 1
        return f"250 2.0.0 Ok: queued as SINK{n:05d}"

    # -- queries for tests -------------------------------------------------------------------
    def envelopes(self) -> list[Envelope]:
        with self._lock:
            return list(self.received)

    def delivered_to(self, address: str) -> list[Envelope]:
        """The accepted messages that carried ``address`` (case-insensitive)."""
        want = address.lower()
        return [e for e in self.envelopes() if want in (r.lower() for r in e.rcpt_to)]

    # -- the protocol ------------------------------------------------------------------------
    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = "{}:{}".format(*writer.get_extra_info("peername")[:2])
        env = Envelope(peer)
        helo = ""
        xforward: list[str] = []

        async def reply(text: str) -> None:
            writer.write(text.encode() + b"\r\n")
            await writer.drain()

        try:
            await reply(f"220 {self.hostname} ESMTP test peer")
            while True:
                raw = await reader.readline()
                if not raw:
                    break
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                verb, _, arg = line.partition(" ")
                verb = verb.upper()
                if verb == "EHLO":
                    helo = arg
                    lines = [self.hostname, *self.ehlo_extensions()]
                    text = "\r\n".join(
                        f"250{'-' if i < len(lines) - 1 else ' '}{x}" for i, x in enumerate(lines)
                    )
                    await reply(text)
                elif verb == "HELO":
                    helo = arg
                    await reply(f"250 {self.hostname}")
                elif verb == "XFORWARD" and any(
                    x.startswith("XFORWARD") for x in self.ehlo_extensions()
                ):
                    xforward.append(arg)
                    await reply("250 2.0.0 Ok")
                elif verb == "MAIL":
                    env = Envelope(
                        peer, helo=helo, mail_from=_address(arg), xforward=list(xforward)
                    )
                    await reply("250 2.1.0 Ok")
                elif verb == "RCPT":
                    if env.mail_from is None:
                        await reply("503 5.5.1 Error: need MAIL command")
                        continue
                    address = _address(arg)
                    answer = self.rcpt_reply(env, address)
                    if not answer:  # stall: never answer (until the server stops)
                        await asyncio.Event().wait()
                    if answer.startswith("2"):
                        env.rcpt_to.append(address)
                    await reply(answer)
                elif verb == "DATA":
                    if not env.rcpt_to:
                        await reply("554 5.5.1 Error: no valid recipients")
                        continue
                    await reply("354 End data with <CR><LF>.<CR><LF>")
                    chunks = []
                    while True:
                        raw = await reader.readline()
                        if not raw or raw in (b".\r\n", b".\n"):
                            break
                        chunks.append(raw[1:] if raw.startswith(b"..") else raw)
                    env.data = b"".join(chunks)
                    env.reply = await self.data_reply(env)
                    if env.reply.startswith("2"):
                        with self._lock:
                            self.received.append(env)
                    await reply(env.reply)
                    env = Envelope(peer, helo=helo)
                    xforward = []
                elif verb == "RSET":
                    env = Envelope(peer, helo=helo)
                    xforward = []
                    await reply("250 2.0.0 Ok")
                elif verb == "NOOP":
                    await reply("250 2.0.0 Ok")
                elif verb == "QUIT":
                    await reply("221 2.0.0 Bye")
                    break
                else:
                    await reply("502 5.5.2 Error: command not recognized")
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


class SmtpSink(SmtpServer):
    """The final destination: answers each recipient by :func:`behaviour` of its local part.

    ``attempts`` counts RCPTs per address (every try Postfix made), and ``open_gate`` lets a
    ``gate-*`` address through from then on (deferred mail that a flush then delivers).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.attempts: dict[str, int] = defaultdict(int)
        self.replies: dict[str, list[str]] = defaultdict(list)
        self._open: set[str] = set()

    def open_gate(self, address: str) -> None:
        with self._lock:
            self._open.add(address.lower())

    def rcpt_reply(self, env: Envelope, address: str) -> str:
        key = address.lower()
        with self._lock:
            self.attempts[key] += 1
            first = self.attempts[key] == 1
            gate_open = key in self._open
        if not address:  # the null recipient never happens; keep the protocol sane
            answer = "501 5.1.3 Bad recipient address syntax"
        else:
            kind = behaviour(address)
            if kind == "accept" or (kind == "once" and not first) or (kind == "gate" and gate_open):
                answer = "250 2.1.5 Ok"
            elif kind == "reject":
                answer = f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
            elif kind == "stall":
                answer = ""
            else:
                answer = f"451 4.3.0 <{address}>: Temporary failure, try again later"
        with self._lock:
            self.replies[key].append(answer)
        return answer


class ContentFilter(SmtpServer):
    """An after-queue content filter: accepts everything, re-injects it into Postfix.

    It answers Postfix with the re-injecting smtpd's own reply (``250 2.0.0 Ok: queued as
    NEWQID``), as amavis does, so the log carries the old->new queue-ID link. With
    ``xforward`` it advertises XFORWARD and replays what Postfix sent it, so the new queue
    file logs ``orig_queue_id=`` and ``orig_client=``; without, the link is only that reply.
    """

    hostname = "filter.test"

    def __init__(self, reinject_port: int, *, xforward: bool, host: str = "127.0.0.1") -> None:
        super().__init__(host, 0)
        self.reinject_port = reinject_port
        self.xforward = xforward

    def ehlo_extensions(self) -> list[str]:
        ext = super().ehlo_extensions()
        if self.xforward:
            ext.append("XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT")
        return ext

    async def data_reply(self, env: Envelope) -> str:
        return await asyncio.to_thread(self._reinject, env)

    def _reinject(self, env: Envelope) -> str:
        try:
            with smtplib.SMTP(self.host, self.reinject_port, "filter.test", timeout=30) as smtp:
                smtp.ehlo()
                if self.xforward and smtp.has_extn("xforward"):
                    for arg in env.xforward:
                        code, msg = smtp.docmd("XFORWARD", arg)
                        if code != 250:
                            return f"451 4.3.0 re-injection refused XFORWARD: {code} {msg.decode()}"
                code, msg = smtp.mail(env.mail_from or "")
                if code != 250:
                    return f"451 4.3.0 re-injection refused MAIL: {code} {msg.decode()}"
                for rcpt in env.rcpt_to:
                    code, msg = smtp.rcpt(rcpt)
                    if code not in (250, 251):
                        return f"451 4.3.0 re-injection refused RCPT: {code} {msg.decode()}"
                code, msg = smtp.data(env.data)
                return f"{code} {msg.decode()}"
        except smtplib.SMTPResponseException as exc:
            return f"451 4.3.0 re-injection failed: {exc.smtp_code} {exc.smtp_error!r}"
        except OSError as exc:
            return f"451 4.3.0 re-injection failed: {exc}"
