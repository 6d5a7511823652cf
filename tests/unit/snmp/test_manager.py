"""The SNMP manager against pysnmp's own agent on 127.0.0.1 (SHA-256/AES user)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from snmp_fake_agent import AUTH_KEY, PRIV_KEY, USER, FakePfx, free_udp_port, queue_line

from else_core.errors import ElseError, ServiceUnavailable
from else_core.snmp import (
    SnmpAuthError,
    SnmpManager,
    SnmpTarget,
    SnmpTimeout,
)


def target(pfx: FakePfx, **over: Any) -> SnmpTarget:
    fields: dict[str, Any] = {
        "name": "pfx",
        "address": "127.0.0.1",
        "user": USER,
        "auth_key": AUTH_KEY,
        "priv_key": PRIV_KEY,
        "port": pfx.port,
        "timeout": 1.0,
        "retries": 0,
    }
    fields.update(over)
    return SnmpTarget(**fields)


def call_fresh(method: str, t: SnmpTarget, *args: Any) -> Any:
    """A manager of its own, as the CLI makes one (credential and timeout cases)."""

    async def main() -> Any:
        async with SnmpManager() as manager:
            return await getattr(manager, method)(t, *args)

    return asyncio.run(main())


def test_status_reads_queue_sizes_and_host_figures(call: Any, fake_pfx: FakePfx) -> None:
    s = call("status", target(fake_pfx))
    assert (s.queues.maildrop, s.queues.incoming, s.queues.active) == (0, 1, 2)
    assert (s.queues.deferred, s.queues.hold, s.queues.total) == (3, 4, 10)
    assert s.oldest_deferred_age == 3600
    assert s.master_running is True
    assert s.sys_name == "pfx-test"
    assert s.uptime_seconds == pytest.approx(1234.56)
    assert s.load == (0.15, 0.10, 0.05)
    assert (s.mem_total_kb, s.mem_used_kb) == (2048000, 2048000 - 1024000 - 100000 - 200000)
    assert len(s.disks) == 1
    assert s.disks[0].path == "/"
    assert s.disks[0].total_kb == (1 << 32) + 1000000  # high and low halves joined
    assert s.stats_error is None


@pytest.mark.parametrize(
    ("stats", "master", "oldest"),
    [
        ("maildrop 0\ndeferred 0\nmaster_running 0\noldest_deferred_age -1\n", False, None),
        ("deferred 2\nmaster_running 1\noldest_deferred_age 59\n", True, 59),
    ],
    ids=["master-down-nothing-deferred", "master-up-one-minute"],
)
def test_status_reports_master_state_and_oldest_age(
    call: Any, fake_pfx: FakePfx, stats: str, master: bool, oldest: int | None
) -> None:
    fake_pfx.stats = stats
    s = call("status", target(fake_pfx))
    assert s.master_running is master
    assert s.oldest_deferred_age == oldest


def test_status_metrics_are_json_ready(call: Any, fake_pfx: FakePfx) -> None:
    m = call("status", target(fake_pfx)).metrics()
    assert m["queues"] == {
        "maildrop": 0,
        "incoming": 1,
        "active": 2,
        "deferred": 3,
        "hold": 4,
        "total": 10,
    }
    assert m["load"] == [0.15, 0.10, 0.05]
    assert m["disks"][0]["path"] == "/"


def test_queue_listing_parses_entries(call: Any, fake_pfx: FakePfx) -> None:
    fake_pfx.listing = [queue_line("4F2A3B1C9D"), queue_line("3Zvc3G4PNVz1DF", "hold")]
    listing = call("queue", target(fake_pfx))
    assert [(e.queue_id, e.queue_name) for e in listing.entries] == [
        ("4F2A3B1C9D", "deferred"),
        ("3Zvc3G4PNVz1DF", "hold"),
    ]
    first = listing.entries[0]
    assert first.sender == "alice@example.test"
    assert first.recipients[0].delay_reason == "connection refused"
    assert first.arrival is not None and first.arrival.year == 2023
    assert (listing.truncated, listing.total) == (False, 2)


def test_empty_queue_is_an_empty_listing(call: Any, fake_pfx: FakePfx) -> None:
    listing = call("queue", target(fake_pfx))
    assert (listing.entries, listing.total, listing.truncated) == ((), 0, False)


def test_someone_elses_last_result_is_not_shown_as_ours(call: Any, fake_pfx: FakePfx) -> None:
    fake_pfx.foreign_last = "7 hold ABCDEF0123 ok"  # a concurrent manager's action
    result = call("control", target(fake_pfx), "release", "4F2A3B1C9D")
    assert result.ok
    assert result.message == "done"


def test_queue_listing_reports_truncation(call: Any, fake_pfx: FakePfx) -> None:
    fake_pfx.listing = [queue_line("4F2A3B1C9D"), '{"truncated": true, "shown": 1, "total": 900}']
    listing = call("queue", target(fake_pfx))
    assert (len(listing.entries), listing.truncated, listing.total) == (1, True, 900)


def test_queue_listing_error_line_is_a_clear_error(call: Any, fake_pfx: FakePfx) -> None:
    fake_pfx.listing = ['{"error": "postqueue: fatal: Queue report unavailable"}']
    with pytest.raises(ElseError, match="queue listing failed on the PFX: postqueue"):
        call("queue", target(fake_pfx))


@pytest.mark.parametrize(
    ("action", "queue_id", "recorded"),
    [
        ("flush", None, ("flush", 1)),
        ("flush", "4F2A3B1C9D", ("flush-id", "4F2A3B1C9D")),
        ("hold", "4F2A3B1C9D", ("hold", "4F2A3B1C9D")),
        ("release", "4F2A3B1C9D", ("release", "4F2A3B1C9D")),
        ("delete", "3Zvc3G4PNVz1DF", ("delete", "3Zvc3G4PNVz1DF")),
        ("requeue", "3Zvc3G4PNVz1DF", ("requeue", "3Zvc3G4PNVz1DF")),
    ],
)
def test_control_sets_the_matching_object(
    call: Any, fake_pfx: FakePfx, action: str, queue_id: str | None, recorded: tuple[str, Any]
) -> None:
    result = call("control", target(fake_pfx), action, queue_id)
    assert fake_pfx.calls == [recorded]
    assert result.ok
    assert result.message.endswith("ok")  # the agent's lastResult, read back


@pytest.mark.parametrize(
    ("action", "queue_id", "message"),
    [
        ("hold", "ALL", "invalid queue ID"),
        ("delete", "-", "invalid queue ID"),
        ("release", "4f2a3b1c9d", "invalid queue ID"),  # short IDs are upper-case hex
        ("requeue", "../../etc/passwd", "invalid queue ID"),
        ("hold", None, "needs a queue ID"),
        ("purge", "4F2A3B1C9D", "unknown action"),
    ],
)
def test_control_refuses_bad_input_before_sending(
    call: Any, fake_pfx: FakePfx, action: str, queue_id: str | None, message: str
) -> None:
    with pytest.raises(ElseError, match=message):
        call("control", target(fake_pfx), action, queue_id)
    assert fake_pfx.calls == []


def test_control_failure_on_the_pfx_is_a_failed_result(call: Any, fake_pfx: FakePfx) -> None:
    fake_pfx.fail_next = True
    result = call("control", target(fake_pfx), "delete", "4F2A3B1C9D")
    assert not result.ok
    assert "failed no such message" in result.message


@pytest.mark.parametrize(
    ("over", "hint"),
    [
        ({"auth_key": "wrong-auth-pass"}, "wrong authentication key"),
        ({"priv_key": "wrong-priv-pass"}, "wrong privacy key"),
        ({"user": "intruder"}, "unknown SNMPv3 user"),
        ({"auth_protocol": "SHA-512"}, "wrong authentication key"),
    ],
    ids=["auth-key", "priv-key", "user", "auth-protocol"],
)
def test_wrong_credentials_give_a_clear_auth_error(
    fake_pfx: FakePfx, over: dict[str, Any], hint: str
) -> None:
    with pytest.raises(SnmpAuthError, match=hint) as info:
        call_fresh("status", target(fake_pfx, **over))
    assert "check [snmp]" in str(info.value)


def test_no_agent_is_a_timeout_that_says_what_to_check() -> None:
    t = SnmpTarget(
        "ghost", "127.0.0.1", USER, AUTH_KEY, PRIV_KEY, port=free_udp_port(), timeout=0.3, retries=0
    )
    started = time.monotonic()
    with pytest.raises(SnmpTimeout, match=r"no answer from ghost .* TCP wrappers") as info:
        call_fresh("status", t)
    assert isinstance(info.value, ServiceUnavailable)
    assert time.monotonic() - started < 3
