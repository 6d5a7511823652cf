"""DNS blocklist look-ups: one real A query per (subject, zone) to the configured resolver.

A blocklist lists an IPv4 address as its reversed octets under the zone
(``10.0.18.198.zen.example``) and a domain as itself under the zone (``example.org.dbl...``);
an answer in 127.0.0.0/8 means listed, NXDOMAIN means not listed. The standard library has
no DNS client that can be pointed at a given server (``getaddrinfo`` asks the system's), so
this module speaks the few bytes of RFC 1035 a single A query needs, over UDP.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

from else_core.errors import ElseError

_A, _IN = 1, 1
_NXDOMAIN = 3


@dataclass(frozen=True, slots=True)
class Listing:
    """One subject looked up on one zone: the 127.x answers (empty: not listed)."""

    subject: str
    zone: str
    answers: tuple[str, ...]

    @property
    def listed(self) -> bool:
        return bool(self.answers)


def default_resolver(resolv_conf: Path = Path("/etc/resolv.conf")) -> str:
    """The first ``nameserver`` of resolv.conf (127.0.0.1 when there is none)."""
    try:
        for line in resolv_conf.read_text().splitlines():
            words = line.split()
            if len(words) >= 2 and words[0] == "nameserver":
                return words[1]
    except OSError:
        pass
    return "127.0.0.1"


def query_name(subject: str, zone: str) -> str:
    """The name to look up: reversed octets for an IPv4 address, the domain itself otherwise."""
    try:
        ip = ipaddress.ip_address(subject)
    except ValueError:
        return f"{subject.strip('.').lower()}.{zone.strip('.')}"
    if ip.version != 4:
        raise ElseError(f"{subject}: only IPv4 addresses can be looked up on a blocklist")
    return ".".join(reversed(subject.split("."))) + "." + zone.strip(".")


def _encode(name: str) -> bytes:
    out = b""
    for label in name.strip(".").split("."):
        raw = label.encode("idna") if label else b""
        if not 0 < len(raw) < 64:
            raise ElseError(f"invalid DNS name {name!r}")
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def _skip_name(packet: bytes, pos: int) -> int:
    while True:
        n = packet[pos]
        if n & 0xC0 == 0xC0:
            return pos + 2
        if n == 0:
            return pos + 1
        pos += n + 1


def parse_answer(packet: bytes, qid: int) -> tuple[str, ...]:
    """The A records of a response to query ``qid`` (empty for NXDOMAIN / no data)."""
    if len(packet) < 12:
        raise ElseError("DNS answer too short")
    rid, flags, qd, an, _ns, _ar = struct.unpack("!6H", packet[:12])
    if rid != qid:
        raise ElseError("DNS answer for another query")
    rcode = flags & 0xF
    if rcode == _NXDOMAIN:
        return ()
    if rcode != 0:
        raise ElseError(f"DNS server answered with error code {rcode}")
    pos = 12
    for _ in range(qd):
        pos = _skip_name(packet, pos) + 4
    out = []
    for _ in range(an):
        pos = _skip_name(packet, pos)
        rtype, rclass, _ttl, length = struct.unpack("!HHIH", packet[pos : pos + 10])
        pos += 10
        if rtype == _A and rclass == _IN and length == 4:
            out.append(socket.inet_ntoa(packet[pos : pos + 4]))
        pos += length
    return tuple(out)


def resolve_a(name: str, resolver: str, timeout: float = 2.0, port: int = 53) -> tuple[str, ...]:
    """The A records of ``name`` from ``resolver`` (one UDP query, one retry)."""
    qid = secrets.randbelow(0x10000)
    query = (
        struct.pack("!6H", qid, 0x0100, 1, 0, 0, 0) + _encode(name) + struct.pack("!HH", _A, _IN)
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        for _ in range(2):
            try:
                sock.sendto(query, (resolver, port))
                while True:
                    packet, _addr = sock.recvfrom(4096)
                    try:
                        return parse_answer(packet, qid)
                    except ElseError as exc:
                        if "another query" not in str(exc):
                            raise
            except TimeoutError:
                continue
            except OSError as exc:
                raise ElseError(f"DNS server {resolver}:{port}: {exc.strerror or exc}") from None
    raise ElseError(f"DNS server {resolver}:{port} did not answer in {timeout:g} s")


def lookup(subject: str, zone: str, resolver: str, timeout: float = 2.0, port: int = 53) -> Listing:
    answers = resolve_a(query_name(subject, zone), resolver, timeout, port)
    listed = tuple(a for a in answers if a.startswith("127."))
    return Listing(subject, zone, listed)


def split_resolver(text: str) -> tuple[str, int]:
    """``host`` or ``host:port`` (IPv4) -> (host, port)."""
    host, _, port = text.partition(":")
    if not port:
        return host, 53
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ElseError(f"bad DNS resolver {text!r}: the port must be a number")
    return host, int(port)
