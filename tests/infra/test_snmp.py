"""SNMP between the converged hosts: snmpd on PFX as the snmpd role leaves it, and ELSE's
manager (`elsectl snmp`) holding and releasing a real queued message over it.

Runs in Molecule's verify step (and by hand against the lab) with the inventory testinfra
gets there; the controller itself sits on the lab bridge, an address snmpd must refuse.
"""

from __future__ import annotations

import json
import shlex
import time

import pytest
from pysnmp.hlapi.v3arch.asyncio import (
    USM_AUTH_HMAC192_SHA256,
    USM_PRIV_CFB128_AES,
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    UsmUserData,
    get_cmd,
)

from tests.infra.conftest import run_python

testinfra_hosts = ["ansible://pfx_servers"]

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"


def elsectl(else_host, *args: str):
    return else_host.run("/opt/else/venv/bin/elsectl " + " ".join(shlex.quote(a) for a in args))


@pytest.fixture(scope="module")
def snmp_settings(else_host) -> dict:
    """The [snmp] section of else.toml on ELSE (the credentials the manager uses)."""
    out = run_python(
        else_host,
        "import json,tomllib;print(json.dumps(tomllib.load(open('/etc/else/else.toml','rb'))['snmp']))",
    )
    assert out.rc == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def pfx_address(host) -> str:
    return host.ansible.get_variables().get("ansible_host", host.backend.get_hostname())


def test_snmpd_is_running_and_enabled(host):
    unit = host.service("snmpd")
    assert unit.is_running
    assert unit.is_enabled


def test_snmpd_listens_on_the_pfx_address_only(host, pfx_address):
    assert host.socket(f"udp://{pfx_address}:161").is_listening
    assert not host.socket("udp://0.0.0.0:161").is_listening
    assert not host.socket("udp://127.0.0.1:161").is_listening


@pytest.mark.parametrize(
    ("path", "user", "group", "mode"),
    [
        ("/etc/snmp/snmpd.conf", "root", "Debian-snmp", 0o640),
        ("/etc/snmp/snmpd.conf.d/10-else-users.conf", "root", "Debian-snmp", 0o640),
        ("/etc/sudoers.d/else-snmpd", "root", "root", 0o440),
        ("/usr/local/sbin/else-postfix-ctl", "root", "root", 0o755),
        ("/usr/local/lib/else-snmp/else-snmp-ctl", "root", "root", 0o755),
    ],
)
def test_files_have_safe_owners_and_modes(host, path, user, group, mode):
    f = host.file(path)
    assert f.exists
    assert (f.user, f.group, f.mode) == (user, group, mode)


def test_no_community_access_is_configured(host):
    conf = host.file("/etc/snmp/snmpd.conf").content_string
    rules = [line for line in conf.splitlines() if line and not line.startswith("#")]
    assert not any(word in line for line in rules for word in ("community", "com2sec"))


def test_tcp_wrappers_admit_only_else(host, else_address, pfx_address):
    assert "snmpd: ALL" in host.file("/etc/hosts.deny").content_string.splitlines()
    allow = [
        line
        for line in host.file("/etc/hosts.allow").content_string.splitlines()
        if line.startswith("snmpd:")
    ]
    assert allow and set(allow[0].split(":", 1)[1].split()) == {else_address, pfx_address}


def test_sudoers_are_valid(host):
    with host.sudo():
        assert host.run("visudo -c").rc == 0


def test_debian_snmp_may_run_only_the_wrapper(host):
    with host.sudo():
        out = host.run("sudo -l -U Debian-snmp").stdout
    assert "/usr/local/sbin/else-postfix-ctl hold *" in out
    assert "postsuper" not in out


def test_else_reads_the_pfx_status(else_host):
    out = elsectl(else_host, "snmp", "status", "--format", "json")
    assert out.rc == 0, out.stderr
    status = json.loads(out.stdout.splitlines()[0])
    assert status["master_running"] is True
    assert set(status["queues"]) >= {"maildrop", "incoming", "active", "deferred", "hold"}
    assert status["load"] and status["mem_total_kb"] > 0


def _query(address: str, auth) -> object:
    import asyncio

    async def main():
        engine = SnmpEngine()
        try:
            target = await UdpTransportTarget.create((address, 161), timeout=1, retries=0)
            return await get_cmd(
                engine, auth, target, ContextData(), ObjectType(ObjectIdentity(SYS_UPTIME))
            )
        finally:
            engine.close_dispatcher()

    return asyncio.run(main())


@pytest.mark.parametrize("kind", ["v3-right-credentials", "v2c-public"])
def test_other_addresses_are_refused(pfx_address, snmp_settings, kind):
    """The controller (the lab bridge) is not ELSE: even the right credentials get no answer."""
    auth = (
        UsmUserData(
            snmp_settings["user"],
            authKey=snmp_settings["auth_key"],
            privKey=snmp_settings["priv_key"],
            authProtocol=USM_AUTH_HMAC192_SHA256,
            privProtocol=USM_PRIV_CFB128_AES,
        )
        if kind.startswith("v3")
        else CommunityData("public", mpModel=1)  # noqa: S508 - must be refused
    )
    err_ind, _, _, _ = _query(pfx_address, auth)
    assert type(err_ind).__name__ == "RequestTimedOut"


def _queue_name(host, queue_id: str) -> str | None:
    with host.sudo():
        out = host.run("postqueue -j").stdout
    for line in out.splitlines():
        entry = json.loads(line)
        if entry["queue_id"] == queue_id:
            return entry["queue_name"]
    return None


def _wait(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            return value
        time.sleep(1)
    return value


def test_else_holds_and_releases_a_real_deferred_message(host, else_host, psql_as_postgres):
    with host.sudo():
        host.run(
            "printf 'Subject: snmp hold test\\n\\nhold me\\n' | "
            "sendmail -f lab-sender@sink.test defer-snmp@sink.test"
        )

    def deferred_id() -> str | None:
        out = elsectl(else_host, "snmp", "queue", "--format", "json")
        for line in out.stdout.splitlines():
            entry = json.loads(line)
            rcpts = [r["address"] for r in entry["recipients"]]
            if "defer-snmp@sink.test" in rcpts and entry["queue_name"] == "deferred":
                return entry["queue_id"]
        return None

    queue_id = _wait(deferred_id, 90)
    assert queue_id, "the test message never showed up deferred in ELSE's queue listing"

    held = elsectl(else_host, "snmp", "hold", queue_id)
    assert held.rc == 0, held.stderr + held.stdout
    assert _queue_name(host, queue_id) == "hold"
    assert _wait(
        lambda: (
            psql_as_postgres(
                f"SELECT count(*) FROM raw_events WHERE message LIKE '{queue_id}: placed on hold%'"
            )
            != "0"
        )
    ), "postsuper's 'placed on hold' line never reached ELSE"

    released = elsectl(else_host, "snmp", "release", queue_id)
    assert released.rc == 0, released.stderr + released.stdout
    assert _queue_name(host, queue_id) in ("deferred", "active", "incoming")

    audit = psql_as_postgres(
        "SELECT string_agg(action || ':' || result, ',' ORDER BY id) FROM audit_log"
        f" WHERE target = 'pfx:{queue_id}' OR target LIKE '%:{queue_id}'"
    )
    assert audit == "snmp.hold:ok,snmp.release:ok"

    with host.sudo():
        host.run(f"postsuper -d {queue_id}")  # leave the queue as it was


def test_else_refuses_an_invalid_queue_id(else_host):
    out = elsectl(else_host, "snmp", "delete", "ALL")
    assert out.rc == 2
    assert "invalid queue ID" in out.stderr
