"""Blocklist look-ups: the names asked, and real UDP queries to a loopback DNS server."""

from __future__ import annotations

import socket

import pytest

from else_core.alerts import dnsbl
from else_core.errors import ElseError
from tests.support.dns_zone import DnsZone


@pytest.mark.parametrize(
    ("subject", "zone", "name"),
    [
        ("198.18.0.10", "bl.lab.test", "10.0.18.198.bl.lab.test"),
        ("198.18.0.10", "bl.lab.test.", "10.0.18.198.bl.lab.test"),
        ("Example.ORG", "dbl.lab.test", "example.org.dbl.lab.test"),
    ],
)
def test_query_name(subject, zone, name):
    assert dnsbl.query_name(subject, zone) == name


def test_ipv6_is_refused_clearly():
    with pytest.raises(ElseError, match="only IPv4"):
        dnsbl.query_name("2001:db8::1", "bl.test")


@pytest.mark.parametrize(
    ("listed", "subject", "answers"),
    [
        ({"10.0.18.198.bl.lab.test"}, "198.18.0.10", ("127.0.0.2",)),
        (set(), "198.18.0.10", ()),
        ({"example.org.bl.lab.test"}, "example.org", ("127.0.0.2",)),
        ({"example.org.bl.lab.test"}, "example.net", ()),
    ],
)
def test_lookup_against_a_real_dns_server(listed, subject, answers):
    with DnsZone() as zone:
        zone.listed |= listed
        got = dnsbl.lookup(subject, "bl.lab.test", zone.host, 2.0, zone.port)
    assert got.answers == answers
    assert got.listed == bool(answers)


def test_a_silent_resolver_is_a_clear_error():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as quiet:
        quiet.bind(("127.0.0.1", 0))
        port = quiet.getsockname()[1]
        with pytest.raises(ElseError, match=r"did not answer in 0\.2 s"):
            dnsbl.resolve_a("x.bl.test", "127.0.0.1", 0.2, port)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("198.18.0.1", ("198.18.0.1", 53)), ("198.18.0.1:5353", ("198.18.0.1", 5353))],
)
def test_split_resolver(text, expected):
    assert dnsbl.split_resolver(text) == expected


def test_bad_resolver_port():
    with pytest.raises(ElseError, match="port must be a number"):
        dnsbl.split_resolver("198.18.0.1:dns")


def test_default_resolver_reads_resolv_conf(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("# comment\nsearch lab\nnameserver 198.18.0.1\nnameserver 9.9.9.9\n")
    assert dnsbl.default_resolver(conf) == "198.18.0.1"
    assert dnsbl.default_resolver(tmp_path / "missing") == "127.0.0.1"
