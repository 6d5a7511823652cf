#!/usr/bin/env python3
"""The lab's mail sink: the "remote MTA" PFX relays `sink.test` to, living in its own namespace.

It decides per recipient from the local part, so the test mail can ask for each outcome:
`defer*` gets 451 (Postfix keeps it queued: deferred), `bounce*` gets 550 (Postfix bounces it),
anything else 250 (delivered). Every SMTP transaction is appended as one JSON line to --record,
so tests can check what really arrived. Stdlib asyncio only: it runs with the machine's python3.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.parser
import email.policy
import itertools
import json
import re
import signal
import time
from pathlib import Path

ADDR = re.compile(r"<([^>]*)>")
_ids = itertools.count(1)


def verdict(rcpt: str) -> tuple[int, str]:
    """SMTP reply for one recipient address, from its local part."""
    local = rcpt.rsplit("@", 1)[0].lower()
    if local.startswith("defer"):
        return 451, f"4.3.0 <{rcpt}>: try again later (sink: deferred on purpose)"
    if local.startswith("bounce"):
        return 550, f"5.1.1 <{rcpt}>: no such user (sink: bounced on purpose)"
    return 250, "2.1.5 Ok"


def address(arg: str) -> str:
    m = ADDR.search(arg)
    return m.group(1) if m else arg.split(":", 1)[-1].strip().split()[0]


class Sink:
    def __init__(self, hostname: str, record: Path) -> None:
        self.hostname = hostname
        self.record = record

    def write(self, entry: dict) -> None:
        with self.record.open("a") as fh:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")[0]

        async def reply(code: int, text: str, *more: str) -> None:
            lines = [text, *more]
            out = "".join(
                f"{code}{'-' if i < len(lines) - 1 else ' '}{line}\r\n"
                for i, line in enumerate(lines)
            )
            writer.write(out.encode())
            await writer.drain()

        helo, sender, accepted, refused = None, None, [], []

        def flush(data: bytes | None) -> str | None:
            nonlocal sender, accepted, refused
            if sender is None and not refused:
                return None
            qid = f"SINK{next(_ids):06d}"
            entry = {
                "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "peer": peer,
                "helo": helo,
                "mail_from": sender,
                "accepted": accepted,
                "refused": refused,
                "queue_id": qid if data is not None else None,
            }
            if data is not None:
                msg = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(data)
                entry["message_id"] = (msg.get("Message-ID") or "").strip() or None
                entry["subject"] = msg.get("Subject")
                entry["size"] = len(data)
            self.write(entry)
            sender, accepted, refused = None, [], []
            return qid

        await reply(220, f"{self.hostname} ESMTP lab sink")
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                cmd, _, arg = line.decode("utf-8", "replace").rstrip("\r\n").partition(" ")
                verb = cmd.upper()
                if verb in ("EHLO", "HELO"):
                    helo = arg.strip()
                    if verb == "EHLO":
                        await reply(250, self.hostname, "PIPELINING", "8BITMIME", "SIZE 52428800")
                    else:
                        await reply(250, self.hostname)
                elif verb == "MAIL":
                    flush(None)
                    sender = address(arg)
                    await reply(250, "2.1.0 Ok")
                elif verb == "RCPT":
                    if sender is None:
                        await reply(503, "5.5.1 Error: need MAIL command")
                        continue
                    rcpt = address(arg)
                    code, text = verdict(rcpt)
                    (accepted if code == 250 else refused).append(
                        rcpt if code == 250 else {"rcpt": rcpt, "code": code}
                    )
                    await reply(code, text)
                elif verb == "DATA":
                    if not accepted:
                        await reply(554, "5.5.1 Error: no valid recipients")
                        continue
                    await reply(354, "End data with <CR><LF>.<CR><LF>")
                    chunks = []
                    while True:
                        data = await reader.readline()
                        if not data or data in (b".\r\n", b".\n"):
                            break
                        chunks.append(data[1:] if data.startswith(b"..") else data)
                    qid = flush(b"".join(chunks))
                    await reply(250, f"2.0.0 Ok: queued as {qid}")
                elif verb == "RSET":
                    flush(None)
                    await reply(250, "2.0.0 Ok")
                elif verb == "NOOP":
                    await reply(250, "2.0.0 Ok")
                elif verb == "VRFY":
                    await reply(252, "2.0.0 Cannot VRFY")
                elif verb == "QUIT":
                    await reply(221, "2.0.0 Bye")
                    break
                else:
                    await reply(502, "5.5.2 Error: command not recognized")
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            flush(None)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def serve(args: argparse.Namespace) -> None:
    sink = Sink(args.hostname, args.record)
    server = await asyncio.start_server(sink.session, args.listen, args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"sink listening on {args.listen}:{args.port}, recording to {args.record}", flush=True)
    async with server:
        await stop.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=2525)
    ap.add_argument("--hostname", default="sink.test")
    ap.add_argument("--record", type=Path, required=True, help="JSON lines file to append to")
    asyncio.run(serve(ap.parse_args()))


if __name__ == "__main__":
    main()
