"""Fixtures: the pysnmp agent that plays a PFX (see snmp_fake_agent), and a manager that
lives on the agent's event loop (one pysnmp engine for the whole session: building one
costs ~0.2 s, which dominated these tests)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from snmp_fake_agent import FakePfx, build_agent, free_udp_port

from else_core.snmp import SnmpManager, SnmpTarget


@pytest.fixture(scope="session")
def fake_pfx_agent() -> Iterator[FakePfx]:
    pfx = FakePfx(port=free_udp_port())
    ready, box = threading.Event(), {}
    thread = threading.Thread(target=build_agent, args=(pfx, ready, box), daemon=True)
    thread.start()
    assert ready.wait(10), "the pysnmp agent did not start"
    pfx.loop = box["loop"]
    yield pfx
    box["loop"].call_soon_threadsafe(box["loop"].stop)
    thread.join(5)


@pytest.fixture
def fake_pfx(fake_pfx_agent: FakePfx) -> FakePfx:
    """The session agent, reset to its defaults for each test."""
    fake_pfx_agent.stats = FakePfx.stats
    fake_pfx_agent.listing = []
    fake_pfx_agent.calls.clear()
    fake_pfx_agent.fail_next = False
    fake_pfx_agent.last = "none"
    fake_pfx_agent.foreign_last = None
    return fake_pfx_agent


@pytest.fixture(scope="session")
def shared_manager(fake_pfx_agent: FakePfx) -> Iterator[Callable[..., Any]]:
    """``call(method, target, *args)`` on one long-lived SnmpManager (right credentials only:
    pysnmp caches USM users per engine, so credential tests use a fresh manager)."""
    loop = fake_pfx_agent.loop

    async def make() -> SnmpManager:
        return SnmpManager()

    manager = asyncio.run_coroutine_threadsafe(make(), loop).result(10)

    def call(method: str, target: SnmpTarget, *args: Any) -> Any:
        coro = getattr(manager, method)(target, *args)
        return asyncio.run_coroutine_threadsafe(coro, loop).result(30)

    yield call
    loop.call_soon_threadsafe(manager.close)


@pytest.fixture
def call(shared_manager: Callable[..., Any], fake_pfx: FakePfx) -> Callable[..., Any]:
    return shared_manager
