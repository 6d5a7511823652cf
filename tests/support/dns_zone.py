"""A tiny authoritative DNS server on a loopback address: a DNS blocklist zone for tests.

Postfix's dnsblog (postscreen's DNSBL helper) asks the resolver in its chroot's
``etc/resolv.conf``, which can name any address but not a port, so the server listens on
UDP port 53 of its own 127.0.53.N (root only; the Postfix tests run as root). It answers A
and TXT queries from a table (``{name: {"A": [...], "TXT": [...]}}``), NXDOMAIN for any
other name, and NODATA for another type of a known name: what a DNSBL does. Stdlib only,
one thread, stopped by :meth:`stop`.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import struct
import threading

TYPES = {1: "A", 16: "TXT"}


def listing(ip: str, zone: str) -> str:
    """The name a DNSBL lists ``ip`` under: its octets reversed, then the zone."""
    return ".".join(reversed(ip.split("."))) + "." + zone


class DnsZone:
    """Serves ``records`` on UDP 127.0.53.N:53 (the first free N); :attr:`address` says which."""

    def __init__(self, records: dict[str, dict[str, list[str]]]) -> None:
        self.records = {k.lower().rstrip("."): v for k, v in records.items()}
        self.address = ""
        self.queries: list[tuple[str, str]] = []
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> DnsZone:
        for n in range(1, 255):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.bind((f"127.0.53.{n}", 53))
            except OSError as exc:
                sock.close()
                if exc.errno == errno.EADDRINUSE:
                    continue
                raise
            self._sock, self.address = sock, f"127.0.53.{n}"
            break
        else:
            raise RuntimeError("no free 127.0.53.N:53 for the test DNS zone")
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._sock is not None:
            self._sock.close()  # recvfrom fails, the thread ends
            self._sock = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _serve(self) -> None:
        while self._sock is not None:
            try:
                query, peer = self._sock.recvfrom(4096)
            except OSError:
                return
            answer = self.answer(query)
            if answer is not None and self._sock is not None:
                self._sock.sendto(answer, peer)

    def answer(self, query: bytes) -> bytes | None:
        """The response to one query datagram (None for garbage: a server drops it)."""
        if len(query) < 12:
            return None
        ident, flags, qdcount = struct.unpack("!HHH", query[:6])
        if qdcount != 1 or flags & 0x8000:
            return None
        labels, pos = [], 12
        while pos < len(query) and query[pos]:
            size = query[pos]
            labels.append(query[pos + 1 : pos + 1 + size].decode("ascii", "replace"))
            pos += 1 + size
        if pos + 5 > len(query):
            return None
        qtype, _qclass = struct.unpack("!HH", query[pos + 1 : pos + 5])
        question = query[12 : pos + 5]
        name = ".".join(labels).lower()
        kind = TYPES.get(qtype, str(qtype))
        self.queries.append((name, kind))
        entry = self.records.get(name)
        rdatas = [self._rdata(kind, v) for v in (entry or {}).get(kind, [])]
        rcode = 3 if entry is None else 0  # NXDOMAIN for an unknown name
        head = struct.pack(
            "!HHHHHH", ident, 0x8400 | (flags & 0x0100) | 0x0080 | rcode, 1, len(rdatas), 0, 0
        )
        answers = b"".join(struct.pack("!HHHIH", 0xC00C, qtype, 1, 60, len(r)) + r for r in rdatas)
        return head + question + answers

    @staticmethod
    def _rdata(kind: str, value: str) -> bytes:
        if kind == "A":
            return ipaddress.IPv4Address(value).packed
        text = value.encode()[:255]
        return bytes([len(text)]) + text
