"""Fixtures: the pysnmp agent that plays a PFX (see snmp_fake_agent)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from snmp_fake_agent import FakePfx, build_agent, free_udp_port


@pytest.fixture(scope="session")
def fake_pfx_agent() -> Iterator[FakePfx]:
    pfx = FakePfx(port=free_udp_port())
    ready, box = threading.Event(), {}
    thread = threading.Thread(target=build_agent, args=(pfx, ready, box), daemon=True)
    thread.start()
    assert ready.wait(10), "the pysnmp agent did not start"
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
    return fake_pfx_agent
