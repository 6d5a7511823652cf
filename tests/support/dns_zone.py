"""A tiny authoritative DNS server for test blocklist zones (UDP, A records only, stdlib).

The lab has no internet, so a blocklist is played by this server: it answers A queries for
the names it was told are listed (``127.0.0.2``) and NXDOMAIN for everything else. The
alert tests list and unlist a PFX address while the evaluator queries it for real.
Run as a program (``python -m tests.support.dns_zone --listen 198.18.0.1:5353``) it serves
the names in a file (one per line), re-read at each query, so a test can edit the file.

A resolver configured by ``resolv.conf`` (Postfix's dnsblog in its chroot) can be given an
address but no port: :meth:`DnsZone.on_port_53` takes UDP port 53 of the first free
127.0.53.N for it (root only).
"""

from __future__ import annotations

import argparse
import errno
import socket
import struct
import threading
from pathlib import Path


def listing(ip: str, zone: str) -> str:
    """The name a DNS blocklist lists ``ip`` under: its octets reversed, then the zone."""
    return ".".join(reversed(ip.split("."))) + "." + zone


def _qname(packet: bytes) -> tuple[str, int]:
    labels, pos = [], 12
    while packet[pos]:
        n = packet[pos]
        labels.append(packet[pos + 1 : pos + 1 + n].decode("ascii", "replace"))
        pos += n + 1
    return ".".join(labels).lower(), pos + 1


def answer(packet: bytes, listed: set[str]) -> bytes:
    """The response to one query: 127.0.0.2 for a listed name (type A), NXDOMAIN otherwise."""
    qid, _flags = struct.unpack("!HH", packet[:4])
    name, end = _qname(packet)
    qtype = struct.unpack("!H", packet[end : end + 2])[0]
    question = packet[12 : end + 4]
    if name in listed and qtype == 1:
        header = struct.pack("!6H", qid, 0x8580, 1, 1, 0, 0)
        record = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton("127.0.0.2")
        return header + question + record
    rcode = 0 if name in listed else 3
    return struct.pack("!6H", qid, 0x8580 | rcode, 1, 0, 0, 0) + question


class DnsZone:
    """Serve ``listed`` (a set the test changes) on a UDP port of ``host``, in a thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, names_file: Path | None = None):
        self.listed: set[str] = set()
        self.queries: list[str] = []
        self.names_file = names_file
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.sock.bind((host, port))
        except OSError:
            self.sock.close()
            raise
        self.host, self.port = self.sock.getsockname()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @classmethod
    def on_port_53(cls) -> DnsZone:
        """A zone on UDP port 53 of the first free 127.0.53.N (N = 1..254)."""
        for n in range(1, 255):
            try:
                return cls(f"127.0.53.{n}", 53)
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
        raise RuntimeError("no free 127.0.53.N:53 for a test DNS zone")

    def _names(self) -> set[str]:
        if self.names_file is None:
            return self.listed
        try:
            return {n.strip().lower() for n in self.names_file.read_text().split() if n.strip()}
        except OSError:
            return set()

    def _serve(self) -> None:
        while True:
            try:
                packet, peer = self.sock.recvfrom(512)
            except OSError:
                return
            try:
                self.queries.append(_qname(packet)[0])
                self.sock.sendto(answer(packet, self._names()), peer)
            except (IndexError, struct.error, OSError):
                continue

    def start(self) -> DnsZone:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.sock.close()
        self._thread.join(timeout=5)

    def __enter__(self) -> DnsZone:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--listen", default="127.0.0.1:5353", help="HOST:PORT")
    ap.add_argument("--names", type=Path, required=True, help="file of listed names")
    args = ap.parse_args()
    host, _, port = args.listen.partition(":")
    zone = DnsZone(host, int(port), args.names)
    zone._serve()


if __name__ == "__main__":
    main()
