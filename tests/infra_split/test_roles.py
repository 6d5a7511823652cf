"""Split roles on real hosts: mail enters pfx-in, leaves through pfx-out, and is one e-mail.

Why: "ELSE really loves architectures where roles are splitted because the emails can be
categorized according their way" (issue 17). Three mails take the three ways of the lab's split
layout, sent the way the world sends them:

- inbound: the internet (this machine) to a local mailbox on pfx-in (way `incoming`);
- outbound: a local user (this machine, in pfx-out's mynetworks) to the world (`outgoing`);
- aliased: the internet to `labfwd` on pfx-in, an alias of an external address, so the mail
  crosses from pfx-in to pfx-out and on to the sink (`incoming → outgoing`).

Then ELSE must show each as one e-mail with a transaction on every server it crossed, and the
statistics by role, by way and per server, through elsectl on the backend and through the API
on the frontend (which reads its hot standby).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.infra_split.conftest import Layout, Web, elsectl, emails, send, wait_for

WAYS = ("inbound", "outbound", "aliased")
ARROW = "incoming → outgoing"


@pytest.fixture(scope="module")
def three_ways(layout: Layout, backend) -> dict[str, Any]:
    """One mail per way; waits until each is delivered in ELSE; their e-mails and the window."""
    tag = time.strftime("%H%M%S", time.gmtime()) + secrets.token_hex(3)
    since = datetime.now(UTC).replace(microsecond=0)
    time.sleep(1)
    inbound_rcpt = f"labuser@{layout.domain(layout.pfx_in)}"
    plan = {
        "inbound": (layout.pfx_in, f"world-{tag}@sink.test", inbound_rcpt),
        "outbound": (
            layout.pfx_out,
            f"labuser@{layout.domain(layout.pfx_in)}",
            f"out-{tag}@sink.test",
        ),
        "aliased": (
            layout.pfx_in,
            f"world-{tag}@sink.test",
            f"labfwd@{layout.domain(layout.pfx_in)}",
        ),
    }
    ids = {way: f"split-{way}-{tag}@split.test" for way in WAYS}
    for way, (host, sender, rcpt) in plan.items():
        send(layout.address[host], sender, rcpt, ids[way])
    found: dict[str, list[dict[str, Any]]] = {}

    def delivered() -> bool:
        for way in WAYS:
            found[way] = emails(backend, ids[way])
        return all(
            e and all(r["status"] == "delivered" for m in e for r in m["recipients"])
            for e in found.values()
        )

    wait_for(delivered, 120, 1.0)
    time.sleep(1)
    until = datetime.now(UTC).replace(microsecond=0)
    return {"ids": ids, "emails": found, "since": since, "until": until, "tag": tag}


@pytest.mark.parametrize(
    ("way", "servers"),
    [("inbound", ["incoming"]), ("outbound", ["outgoing"]), ("aliased", ["incoming", "outgoing"])],
)
def test_each_mail_is_one_email_with_the_transactions_of_every_server_it_crossed(
    three_ways, layout, way, servers
):
    found = three_ways["emails"][way]
    role = {layout.pfx_in: "incoming", layout.pfx_out: "outgoing"}
    hosts = []
    for t in found[0]["transactions"] if found else []:
        if role[t["host"]] not in hosts:
            hosts.append(role[t["host"]])
    assert (len(found), hosts) == (1, servers)


def test_the_aliased_recipient_leaves_through_pfx_out_to_the_world(three_ways, layout):
    [email] = three_ways["emails"]["aliased"]
    got = [(r["address"], r["status"], r["host"]) for r in email["recipients"]]
    sink = (layout.state / "sink.jsonl").read_text()
    assert (got, three_ways["ids"]["aliased"] in sink) == (
        [("labfwd@sink.test", "delivered", layout.pfx_out)],
        True,
    )


def _by(rows: list[dict[str, Any]], key: str, count: str) -> dict[str, int]:
    return {row[key]: row[count] for row in rows}


def _elsectl_stats(backend, three_ways, *more: str) -> dict[str, Any]:
    out = elsectl(
        backend,
        "stats",
        "--by-role",
        "--format",
        "json",
        "--since",
        three_ways["since"].isoformat(),
        "--until",
        three_ways["until"].isoformat(),
        *more,
    )
    return json.loads(out)


def _api_stats(wui: Web, token: str, three_ways, **more: str) -> dict[str, Any]:
    res = wui.api(
        "/api/v1/stats",
        token,
        since=three_ways["since"].isoformat(),
        until=three_ways["until"].isoformat(),
        **more,
    )
    assert res.status == 200, res.text[:300]
    return res.json()


EVERY_WAY = {"incoming": 1, "outgoing": 1, ARROW: 1}
BY_ROLE = {"incoming": 2, "outgoing": 2}


def test_elsectl_on_the_backend_counts_each_way_once(backend, three_ways):
    stats = _elsectl_stats(backend, three_ways)
    assert (
        _by(stats["ways"], "key", "emails"),
        _by(stats["by_role"], "key", "emails"),
    ) == (EVERY_WAY, BY_ROLE)


def test_the_api_on_the_frontend_counts_each_way_once(wui, api_token, three_ways):
    stats = _api_stats(wui, api_token, three_ways)
    assert (
        _by(stats["way"], "way", "e_mails"),
        _by(stats["roles"], "server role", "e_mails"),
    ) == (EVERY_WAY, BY_ROLE)


@pytest.mark.parametrize(
    ("server", "ways"),
    [
        ("incoming", {"incoming": 1, ARROW: 1}),
        # pfx-out's report includes the mail relayed to it from pfx-in: what it handled.
        ("outgoing", {"outgoing": 1, ARROW: 1}),
    ],
)
def test_a_servers_report_on_the_frontend_has_the_mail_that_server_handled(
    wui, api_token, three_ways, layout, server, ways
):
    name = layout.pfx_in if server == "incoming" else layout.pfx_out
    stats = _api_stats(wui, api_token, three_ways, server=name)
    assert _by(stats["way"], "way", "e_mails") == ways


@pytest.mark.parametrize(
    ("server", "ways"),
    [
        # elsectl stats --host counts e-mails by the server they entered through.
        ("incoming", {"incoming": 1, ARROW: 1}),
        ("outgoing", {"outgoing": 1}),
    ],
)
def test_elsectl_per_server_counts_the_mail_that_entered_there(
    backend, three_ways, layout, server, ways
):
    name = layout.pfx_in if server == "incoming" else layout.pfx_out
    stats = _elsectl_stats(backend, three_ways, "--host", name)
    assert _by(stats["ways"], "key", "emails") == ways


def test_the_servers_page_on_the_frontend_names_each_servers_role(wui, layout):
    page = wui.get("/servers")
    text = page.text
    assert (page.status, layout.pfx_in in text, layout.pfx_out in text) == (200, True, True)
    assert ("incoming" in text, "outgoing" in text) == (True, True)


@pytest.mark.parametrize(
    ("host", "users"),
    [
        ("backend", {"else_worker", "else_owner", "else_web"}),
        ("frontend", {"else_web"}),  # it only serves the WUI: no worker or owner password
    ],
)
def test_each_else_host_holds_only_the_database_logins_it_uses(request, host, users):
    conf = request.getfixturevalue(host).file("/etc/else/else.toml").content_string
    assert set(re.findall(r"\buser=(\w+)", conf)) == users
