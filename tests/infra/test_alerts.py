"""Alerts in the lab: each cause made to happen for real, the alert seen to open, delivered by
e-mail (ELSE's null-client Postfix -> PFX -> the lab mailbox) and by webhook (a receiver on the
bridge), and seen to resolve when the cause goes away.

Causes: snmpd stopped on PFX (the default "PFX down" rule: no set-up), the PFX link cut (no log
lines), a queue filled with mail the sink defers, a batch of bounces, and the PFX address listed
in a blocklist zone served by a DNS server on the bridge. The lab evaluates every 5 s and polls
SNMP every 10 s (inventory/lab/group_vars/all/lab.yml); rules made here use short windows.
Every test restores what it broke and deletes its rule, in a ``finally``.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import shlex
import smtplib
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest

from tests.infra.conftest import Pfx, wait_for
from tests.support.dns_zone import DnsZone
from tests.support.webhook import WebhookReceiver

testinfra_hosts = ["ansible://pfx_servers"]

ELSECTL = "ELSE_CONFIG=/etc/else/else.toml /opt/else/venv/bin/elsectl alert"
WEBHOOK_PORT, DNS_PORT = 8089, 5353  # the lab inventory's webhook_url and dns_resolver
ZONE = "bl.lab.test"


def tag() -> str:
    return secrets.token_hex(3)


@dataclass
class Alerting:
    else_host: Any
    pfx_host: Any
    hook: WebhookReceiver
    dns: DnsZone
    mailbox: str  # /var/mail/<user> on PFX

    def elsectl(self, *args: str) -> str:
        cmd = self.else_host.run(f"{ELSECTL} {' '.join(shlex.quote(a) for a in args)}")
        assert cmd.rc == 0, cmd.stderr
        return str(cmd.stdout)

    def alerts(self, rule: str) -> list[dict[str, Any]]:
        lines = self.elsectl("list", "--all", "--format", "json").splitlines()
        return [a for a in map(json.loads, lines) if a["rule"] == rule]

    def wait_state(self, rule: str, subject: str, state: str, timeout: float) -> dict[str, Any]:
        found: dict[str, Any] = {}

        def seen() -> bool:
            for a in self.alerts(rule):
                if a["subject"] == subject and a["state"] == state:
                    found.update(a)
                    return True
            return False

        wait_for(seen, timeout=timeout, step=2)
        return found

    def wait_messages(self, rule: str, subject: str, event: str, timeout: float = 120) -> None:
        """The webhook got the event and the lab mailbox the e-mail."""
        word = {"opened": "OPEN", "resolved": "RESOLVED"}[event]
        header = f"Subject: [ELSE {word}] {rule}: {subject}"
        wait_for(
            lambda: any(
                p["event"] == event and p["rule"] == rule and p["subject"] == subject
                for p in list(self.hook.posts)
            ),
            timeout=timeout,
            step=1,
        )
        # ELSE's Postfix may hold the mail while the PFX link was down: ask it to retry now.
        self.else_host.run("postqueue -f")
        wait_for(
            lambda: self.pfx_host.run("grep -cF %s %s", header, self.mailbox).rc == 0,
            timeout=timeout,
            step=2,
        )

    def cycle(self, rule: str, subject: str, open_within: float, resolve_within: float):
        """Context for one cause: wait for open + messages, then (after the cause is undone
        by the caller) for resolve + messages."""
        return _Cycle(self, rule, subject, open_within, resolve_within)


class _Cycle:
    def __init__(
        self, a: Alerting, rule: str, subject: str, open_within: float, resolve_within: float
    ):
        self.a, self.rule, self.subject = a, rule, subject
        self.open_within, self.resolve_within = open_within, resolve_within

    def opened(self) -> dict[str, Any]:
        alert = self.a.wait_state(self.rule, self.subject, "open", self.open_within)
        self.a.wait_messages(self.rule, self.subject, "opened")
        return alert

    def resolved(self) -> dict[str, Any]:
        alert = self.a.wait_state(self.rule, self.subject, "resolved", self.resolve_within)
        self.a.wait_messages(self.rule, self.subject, "resolved")
        return alert


@pytest.fixture(scope="module")
def alerting(else_host, host, pfx: Pfx) -> Iterator[Alerting]:
    # The lab bridge is the first address of the PFX's own network (a /25 or /26 by instance).
    cidr = host.check_output(f"ip -4 -o addr show to {pfx.address} | awk '{{print $4}}'")
    bridge = str(ipaddress.ip_interface(cidr.strip()).network.network_address + 1)
    toml = else_host.run(
        "python3 -c %s",
        "import tomllib;print(tomllib.load(open('/etc/else/else.toml','rb'))['alerts']['mail_to'])",
    )
    assert toml.rc == 0, toml.stderr
    user = toml.stdout.strip().split("@")[0]
    with WebhookReceiver(bridge, WEBHOOK_PORT) as hook, DnsZone(bridge, DNS_PORT) as dns:
        yield Alerting(else_host, host, hook, dns, f"/var/mail/{user}")


@pytest.fixture
def rule(alerting: Alerting) -> Iterator[list[str]]:
    """Rules a test adds (by name) are deleted afterwards, with their alerts."""
    names: list[str] = []
    yield names
    for name in names:
        alerting.else_host.run(f"{ELSECTL} rule delete {shlex.quote(name)}")


def add_rule(alerting: Alerting, names: list[str], name: str, *args: str) -> str:
    alerting.elsectl("rule", "add", name, *args, "--by", "lab-test")
    names.append(name)
    return name


def send(pfx: Pfx, recipient: str, count: int, sender: str = "") -> None:
    with smtplib.SMTP(pfx.address, 25, local_hostname="alerts.test", timeout=60) as smtp:
        for n in range(count):
            msg = EmailMessage()
            msg["From"] = sender or "alerts@alerts.test"
            msg["To"] = recipient
            msg["Subject"] = f"alert test {n}"
            msg.set_content(f"Mail {n} of an alert test.\n")
            smtp.send_message(msg, from_addr=sender, to_addrs=[recipient])


def queue_ids(host, recipient: str) -> list[str]:
    listing = host.check_output("postqueue -j")
    out = []
    for line in listing.splitlines():
        entry = json.loads(line)
        if any(r.get("address") == recipient for r in entry.get("recipients", [])):
            out.append(entry["queue_id"])
    return out


# -- the causes -------------------------------------------------------------------------------


def test_snmpd_stopped_opens_the_default_pfx_down_alert(alerting, host):
    """No set-up: the migration's default rule does it."""
    cycle = alerting.cycle("PFX down", host.backend.get_hostname(), 120, 120)
    try:
        host.check_output("systemctl stop snmpd")
        alert = cycle.opened()
        assert "did not answer" in alert["summary"]
    finally:
        host.check_output("systemctl start snmpd")
    cycle.resolved()


def test_a_cut_pfx_link_opens_log_silence(alerting, rule, host, lab_link):
    name = add_rule(
        alerting,
        rule,
        f"lab-silence-{tag()}",
        "--kind",
        "log_silence",
        "--threshold",
        "1.5",
        "--resolve-threshold",
        "0.5",
        "--window",
        "30",
        "--clear-after",
        "1",
        "--server",
        host.backend.get_hostname(),
    )
    cycle = alerting.cycle(name, host.backend.get_hostname(), 300, 300)
    lab_link(host.backend.get_hostname(), "down")
    try:
        alerting.wait_state(name, host.backend.get_hostname(), "open", 300)
    finally:
        lab_link(host.backend.get_hostname(), "up")
    cycle.resolved()
    # The open message was held by ELSE's Postfix while the link was down; it arrives too.
    alerting.wait_messages(name, host.backend.get_hostname(), "opened")


def test_a_queue_filled_by_deferrals_opens_queue_size(alerting, rule, host, pfx, else_host):
    server = host.backend.get_hostname()
    before = len(host.check_output("postqueue -j").splitlines())
    recipient = f"defer-alert-{tag()}@sink.test"
    name = add_rule(
        alerting,
        rule,
        f"lab-queue-{tag()}",
        "--kind",
        "queue_size",
        "--threshold",
        str(before + 5),
        "--resolve-threshold",
        str(before + 2),
        "--window",
        "5",
        "--clear-after",
        "1",
        "--server",
        server,
    )
    cycle = alerting.cycle(name, server, 120, 120)
    try:
        send(pfx, recipient, 10)
        alert = cycle.opened()
        assert alert["value"] >= before + 6
    finally:
        for qid in queue_ids(host, recipient):
            host.run("postsuper -d %s", qid)
    cycle.resolved()


def test_a_batch_of_bounces_opens_bounce_rate(alerting, rule, host, pfx):
    server = host.backend.get_hostname()
    name = add_rule(
        alerting,
        rule,
        f"lab-bounce-{tag()}",
        "--kind",
        "bounce_rate",
        "--threshold",
        "30",
        "--window",
        "1",
        "--clear-after",
        "1",
        "--param",
        "min_volume=5",
        "--server",
        server,
    )
    cycle = alerting.cycle(name, server, 120, 180)
    send(pfx, f"bounce-alert-{tag()}@sink.test", 10)  # null sender: no DSN comes back
    alert = cycle.opened()
    assert "bounced" in alert["summary"]
    cycle.resolved()  # the batch leaves the one-minute window


def test_a_blocklisted_pfx_address_opens_dnsbl(alerting, rule, pfx):
    name = add_rule(
        alerting,
        rule,
        f"lab-dnsbl-{tag()}",
        "--kind",
        "dnsbl",
        "--threshold",
        "0",
        "--clear-after",
        "1",
        "--param",
        f"zones={ZONE}",
        "--param",
        f"addresses={pfx.address}",
    )
    cycle = alerting.cycle(name, pfx.address, 60, 60)
    listed = ".".join(reversed(pfx.address.split("."))) + f".{ZONE}"
    alerting.dns.listed.add(listed)
    try:
        alert = cycle.opened()
        assert alert["summary"] == f"{pfx.address} is listed on {ZONE} (127.0.0.2)"
        assert listed in alerting.dns.queries  # ELSE really asked the lab's DNS server
    finally:
        alerting.dns.listed.discard(listed)
    cycle.resolved()


def test_acknowledging_in_the_lab_records_who(alerting, rule, pfx):
    name = add_rule(
        alerting,
        rule,
        f"lab-ack-{tag()}",
        "--kind",
        "dnsbl",
        "--threshold",
        "0",
        "--param",
        f"zones=ack.{ZONE}",
        "--param",
        f"addresses={pfx.address}",
    )
    listed = ".".join(reversed(pfx.address.split("."))) + f".ack.{ZONE}"
    alerting.dns.listed.add(listed)
    try:
        alert = alerting.wait_state(name, pfx.address, "open", 60)
        alerting.elsectl("ack", str(alert["id"]), "--by", "lab-admin")
        shown = json.loads(alerting.elsectl("show", str(alert["id"]), "--format", "json"))
        assert (shown["state"], shown["acknowledged_by"]) == ("acknowledged", "lab-admin")
    finally:
        alerting.dns.listed.discard(listed)
