"""The snmpd role's configuration in a real net-snmp 5.9.3, against a real Postfix queue."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from pysnmp.hlapi.v3arch.asyncio import (
    USM_AUTH_HMAC192_SHA256,
    USM_PRIV_CFB128_AES,
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    OctetString,
    SnmpEngine,
    UdpTransportTarget,
    UsmUserData,
    get_cmd,
    set_cmd,
)
from snmp_env import (
    AUTH_PASS,
    PRIV_PASS,
    ROLE,
    USER,
    Postfix,
    Snmpd,
    render,
    role_context,
    start_snmpd,
    wait_for,
    write_snmpd_config,
)

from else_core.snmp import SnmpAuthError, SnmpManager, SnmpTarget, SnmpTimeout
from else_core.snmp.client import run

pytestmark = [pytest.mark.root, pytest.mark.snmpd, pytest.mark.postfix]

CONTROL = "1.3.6.1.4.1.8072.9999.25"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"


def target(agent: Snmpd, **over: Any) -> SnmpTarget:
    fields: dict[str, Any] = {
        "name": "pfx",
        "address": "127.0.0.1",
        "user": USER,
        "auth_key": AUTH_PASS,
        "priv_key": PRIV_PASS,
        "port": agent.port,
        "timeout": 2.0,
        "retries": 0,
    }
    fields.update(over)
    return SnmpTarget(**fields)


def manager_call(method: str, t: SnmpTarget, *args: Any) -> Any:
    async def main() -> Any:
        async with SnmpManager() as m:
            return await getattr(m, method)(t, *args)

    return run(main())


def raw(command: Any, auth: Any, port: int, *var_binds: Any, address: str = "127.0.0.1") -> Any:
    """One pysnmp request outside the manager (other versions, levels and objects)."""

    async def main() -> Any:
        engine = SnmpEngine()
        try:
            transport = await UdpTransportTarget.create((address, port), timeout=0.3, retries=0)
            return await command(engine, auth, transport, ContextData(), *var_binds)
        finally:
            engine.close_dispatcher()

    return run(main())


def priv_user(**over: Any) -> UsmUserData:
    kw: dict[str, Any] = {
        "authKey": AUTH_PASS,
        "privKey": PRIV_PASS,
        "authProtocol": USM_AUTH_HMAC192_SHA256,
        "privProtocol": USM_PRIV_CFB128_AES,
    }
    kw.update(over)
    return UsmUserData(USER, **kw)  # noqa: S509 - authPriv: both protocols are in kw


# -- configuration ----------------------------------------------------------------------------


def test_rendered_config_passes_the_role_check(snmpd: Snmpd) -> None:
    check = ROLE / "files" / "else-snmpd-check"
    for conf in (snmpd.conf, snmpd.root / "etc" / "snmpd.conf.d" / "10-else-users.conf"):
        proc = subprocess.run([str(check), str(conf)], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(
    "bad_line",
    ["bogusdirective yes", "authuser read -s usm elsemgr privv -V elseread"],
    ids=["unknown-token", "bad-security-level"],
)
def test_role_check_rejects_a_broken_config(tmp_path: Path, snmpd: Snmpd, bad_line: str) -> None:
    conf = tmp_path / "snmpd.conf"
    conf.write_text(snmpd.conf.read_text() + bad_line + "\n")
    proc = subprocess.run(
        [str(ROLE / "files" / "else-snmpd-check"), str(conf)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert "line" in proc.stderr


def test_sudoers_rule_is_valid_and_narrow(tmp_path: Path) -> None:
    ctx = role_context(snmpd_listen_address="127.0.0.1", snmpd_allowed_managers=["127.0.0.1"])
    text = render("etc/sudoers.d/else-snmpd.j2", ctx)
    path = tmp_path / "else-snmpd"
    path.write_text(text)
    proc = subprocess.run(
        ["/usr/sbin/visudo", "-cf", str(path)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rule = next(line for line in text.splitlines() if line.startswith("Debian-snmp "))
    assert rule == "Debian-snmp ALL=(root) NOPASSWD: ELSE_SNMP_STATS, ELSE_SNMP_CTL"
    rules = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert not any("postsuper" in line for line in rules)  # only the validating wrapper


def test_config_has_no_community_and_listens_on_one_address(snmpd: Snmpd) -> None:
    text = snmpd.conf.read_text()
    rules = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert not any("community" in line or "com2sec" in line for line in rules)
    assert f"agentaddress   udp:127.0.0.1:{snmpd.port}" in text
    assert "authuser write -s usm elsemgr priv -V elsewrite" in text


# -- reads ------------------------------------------------------------------------------------


def test_v3_authpriv_reads_the_real_queue(snmpd: Snmpd, postfix: Postfix) -> None:
    queue_id = postfix.submit("status@example.test")
    wait_for(lambda: postfix.queue_of(queue_id) == "deferred", 5, "deferral")
    deferred = sum(1 for m in postfix.queue() if m["queue_name"] == "deferred")

    def fresh() -> Any:  # the stats extend is cached for 1 s in this config
        s = manager_call("status", target(snmpd))
        return s if s.queues.deferred == deferred else None

    s = wait_for(fresh, 5, f"{deferred} deferred messages in the SNMP status")
    assert s.master_running is True
    assert s.oldest_deferred_age is not None and 0 <= s.oldest_deferred_age < 600
    assert s.load is not None and s.mem_total_kb and s.mem_total_kb > 0
    assert "/" in [d.path for d in s.disks]
    assert s.stats_error is None

    listing = wait_for(
        lambda: (q := manager_call("queue", target(snmpd))) and _has(q, queue_id) and q,
        5,
        "the message in the SNMP listing",
    )
    entry = next(e for e in listing.entries if e.queue_id == queue_id)
    assert entry.queue_name == "deferred"
    assert entry.sender == "sender@pfx.test"
    assert entry.recipients[0].address == "status@example.test"
    assert "Connection refused" in (entry.recipients[0].delay_reason or "")


def _has(listing: Any, queue_id: str) -> bool:
    return any(e.queue_id == queue_id for e in listing.entries)


def test_stats_arrival_time_matches_postqueue(snmpd: Snmpd, postfix: Postfix) -> None:
    """The wrapper reads arrival from the queue file's T record, as showq does."""
    postfix.submit("age@example.test")
    out = subprocess.run(
        ["/usr/bin/python3", str(ROLE / "files" / "else-postfix-ctl"), "stats"],
        env=postfix.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    stats = dict(line.split() for line in out.splitlines())
    oldest = min(m["arrival_time"] for m in postfix.queue() if m["queue_name"] == "deferred")
    assert abs(int(stats["oldest_deferred_age"]) - (time.time() - oldest)) <= 2


@pytest.mark.parametrize(
    ("over", "hint"),
    [
        ({"auth_key": "wrong-auth-pass"}, "wrong authentication key"),
        ({"user": "intruder"}, "unknown SNMPv3 user"),
        ({"auth_protocol": "SHA-512"}, "wrong authentication key"),
    ],
    ids=["auth-key", "user", "auth-protocol"],
)
def test_wrong_credentials_are_refused(snmpd: Snmpd, over: dict[str, Any], hint: str) -> None:
    with pytest.raises(SnmpAuthError, match=hint):
        manager_call("status", target(snmpd, **over))


def test_wrong_priv_key_times_out_and_says_so(snmpd: Snmpd) -> None:
    """net-snmp drops a PDU it cannot decrypt (no report), so the manager names the key."""
    with pytest.raises(SnmpTimeout, match=r"wrong \[snmp\] priv_key"):
        manager_call("status", target(snmpd, priv_key="wrong-priv-pass", timeout=0.5))


@pytest.mark.parametrize(
    ("community", "mp_model"),
    [("public", 0), ("public", 1), (USER, 1)],
    ids=["v1-public", "v2c-public", "v2c-user-name"],
)
def test_community_requests_get_no_answer(snmpd: Snmpd, mp_model: int, community: str) -> None:
    err_ind, _, _, _ = raw(
        get_cmd,
        CommunityData(community, mpModel=mp_model),
        snmpd.port,
        ObjectType(ObjectIdentity(SYS_UPTIME)),
    )
    assert type(err_ind).__name__ == "RequestTimedOut"


def test_authnopriv_is_refused(snmpd: Snmpd) -> None:
    auth_only = UsmUserData(USER, authKey=AUTH_PASS, authProtocol=USM_AUTH_HMAC192_SHA256)
    err_ind, err_stat, _, _ = raw(
        get_cmd, auth_only, snmpd.port, ObjectType(ObjectIdentity(SYS_UPTIME))
    )
    assert err_ind or err_stat.prettyPrint() == "authorizationError"


def test_agent_listens_on_the_configured_address_only(snmpd: Snmpd) -> None:
    with pytest.raises(SnmpTimeout):
        manager_call("status", target(snmpd, address="127.0.0.2", timeout=0.3))


# -- writes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("oid", "value", "status"),
    [
        ("1.3.6.1.2.1.1.6.0", OctetString("somewhere"), "noAccess"),  # sysLocation
        ("1.3.6.1.2.1.1.4.0", OctetString("me"), "noAccess"),  # sysContact
        ("1.3.6.1.4.1.8072.1.3.2.2.1.21.4.116.101.115.116", OctetString("x"), "noAccess"),
        (f"{CONTROL}.10.0", OctetString("x"), "notWritable"),  # lastResult is read-only
        (f"{CONTROL}.3.0", OctetString("ALL"), "wrongValue"),
        (f"{CONTROL}.5.0", OctetString("-d ALL"), "wrongValue"),
        (f"{CONTROL}.4.0", OctetString("../../x"), "wrongValue"),
    ],
    ids=[
        "sysLocation",
        "sysContact",
        "extend-table",
        "lastResult",
        "hold-ALL",
        "delete-option",
        "release-path",
    ],
)
def test_sets_outside_the_rules_are_refused(
    snmpd: Snmpd, postfix: Postfix, oid: str, value: Any, status: str
) -> None:
    before = postfix.queue()
    _, err_stat, _, _ = raw(
        set_cmd, priv_user(), snmpd.port, ObjectType(ObjectIdentity(oid), value)
    )
    assert err_stat.prettyPrint() == status
    assert postfix.queue() == before


def test_hold_and_release_reach_postsuper(snmpd: Snmpd, postfix: Postfix) -> None:
    queue_id = postfix.submit("hold@example.test")

    held = manager_call("control", target(snmpd), "hold", queue_id)
    assert held.ok, held.message
    assert postfix.queue_of(queue_id) == "hold"
    assert "placed on hold" in held.message

    def listed_as_held() -> bool:  # the listing extend is cached for 1 s in this config
        listing = manager_call("queue", target(snmpd))
        return any(e.queue_id == queue_id and e.queue_name == "hold" for e in listing.entries)

    assert wait_for(listed_as_held, 5, "the held message in the SNMP listing")

    released = manager_call("control", target(snmpd), "release", queue_id)
    assert released.ok, released.message
    assert postfix.queue_of(queue_id) in ("deferred", "active", "incoming")


def test_delete_removes_the_message(snmpd: Snmpd, postfix: Postfix) -> None:
    queue_id = postfix.submit("delete@example.test")
    result = manager_call("control", target(snmpd), "delete", queue_id)
    assert result.ok, result.message
    assert postfix.queue_of(queue_id) is None


@pytest.mark.parametrize("action", ["flush", "requeue"])
def test_flush_and_requeue_one_message_run(snmpd: Snmpd, postfix: Postfix, action: str) -> None:
    queue_id = postfix.submit(f"{action}@example.test")
    result = manager_call("control", target(snmpd), action, queue_id)
    assert result.ok, result.message
    assert result.action == ("flush-id" if action == "flush" else action)


def test_flush_all_runs(snmpd: Snmpd) -> None:
    result = manager_call("control", target(snmpd), "flush")
    assert result.ok, result.message
    assert "flush - ok" in result.message


def test_action_on_a_missing_message_fails_clearly(snmpd: Snmpd) -> None:
    result = manager_call("control", target(snmpd), "hold", "ABCDEF0123")
    assert not result.ok
    assert "no message ABCDEF0123" in result.message


# -- life cycle -------------------------------------------------------------------------------


def test_new_pass_phrases_take_effect_on_restart_and_stop_by_pid(postfix: Postfix) -> None:
    """A second snmpd: changed pass phrases take effect once the persisted usmUser lines are
    gone (snmpd prefers them to createUser: the role's restart handler removes them), the
    old ones stop working; SIGTERM to its PID stops it."""
    root = Path(tempfile.mkdtemp(prefix="else-snmpd-rotate-"))
    started: list[Snmpd] = []
    try:
        first = start_snmpd(root, postfix)
        started.append(first)
        port = first.port
        assert first.stop() == 0
        persistent = root / "persist" / "snmpd.conf"
        saved = persistent.read_text()
        assert "usmUser" in saved
        # What the role's restart handler does between stop and start:
        persistent.write_text(
            "".join(line for line in saved.splitlines(True) if not line.startswith("usmUser "))
        )

        new_auth, new_priv = "rotated-auth-pass", "rotated-priv-pass"
        write_snmpd_config(root, port, snmpd_v3_auth_pass=new_auth, snmpd_v3_priv_pass=new_priv)
        second = Snmpd(root, port)
        second.start(postfix.env)
        started.append(second)
        new = target(second, auth_key=new_auth, priv_key=new_priv, timeout=0.5)
        wait_for(lambda: _answers(new), 15, "snmpd with the new pass phrases")
        with pytest.raises(SnmpAuthError):
            manager_call("status", target(second, timeout=0.5))

        assert second.proc is not None
        pid = second.proc.pid
        assert second.stop() == 0
        assert not Path(f"/proc/{pid}").exists()
        with pytest.raises(SnmpTimeout):
            manager_call("status", new)
    finally:
        for agent in started:
            if agent.proc is not None:
                agent.stop()
        shutil.rmtree(root, ignore_errors=True)


def _answers(t: SnmpTarget) -> bool:
    try:
        manager_call("get", t, [SYS_UPTIME])
    except (SnmpTimeout, SnmpAuthError):
        return False
    return True
