"""Every page and what it must show: search (quick, extended, pasted IDs), exports, history
and saved searches, the e-mail story, live, reports, admin, servers and queue control."""

from __future__ import annotations

import csv
import io
import re

import pytest
from conftest import SINCE, UNTIL, email_id

from else_core import accounts

pytestmark = pytest.mark.postgres

BETA_QID = "2B3C4D5E6F"


@pytest.mark.parametrize(
    ("q", "kind", "expected"),
    [
        ("<beta-1@beta.example>", "a Message-ID", "beta-1@beta.example"),
        (BETA_QID, "a queue ID (ours or a remote one)", "beta-1@beta.example"),
        ("b1@beta.example", "an address", "beta-1@beta.example"),  # as sender
        ("u2@ext.example", "an address", "beta-1@beta.example"),  # as recipient
        ("beta-1@beta.example", "an address", "beta-1@beta.example"),  # a bare Message-ID
        ("beta.example", "a domain or host name", "beta-1@beta.example"),
        ("198.51.100.8", "a client IP address", "beta-1@beta.example"),
        ("beta-1", "part of an address, name or ID", "beta-1@beta.example"),
    ],
)
def test_the_quick_box_recognises_what_it_was_given(clients, web_db, q, kind, expected):
    page = clients["admin"].get("/search", q=q).text
    assert f"as {kind} and searched:" in page
    assert f"/email/{email_id(web_db, expected)}" in page


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"f": "sender", "o": "equals", "v": "b1@beta.example"}, {"beta-1@beta.example"}),
        (
            {"f": "sender", "o": "ends", "v": "@alpha.example"},
            {"\"><script>alert('mid')</script>@alpha.example", "pfx2-1@alpha.example"},
        ),
        (
            {"f": "recipient_domain", "o": "equals", "v": "alpha.example"},
            {"incoming-1@ext.example"},
        ),
        ({"f": "host", "o": "equals", "v": "pfx2"}, {"pfx2-1@alpha.example"}),
        ({"f": "dsn", "o": "starts", "v": "4.4"}, {"incoming-1@ext.example"}),
        (
            {"f": ["size", "host"], "o": ["gt", "equals"], "v": ["4000", "pfx2"]},
            {"pfx2-1@alpha.example"},
        ),
        ({"f": ["size", "host"], "o": ["lt", "equals"], "v": ["4000", "pfx2"]}, set()),
        ({"status": "bounced", "f": "host", "o": "equals", "v": "pfx"}, {"beta-1@beta.example"}),
        (
            {
                "f": "response",
                "o": "contains",
                "v": "Connection refused",
                "since": "2026-03-14",
                "until": "2026-03-14",
            },
            {"incoming-1@ext.example"},
        ),
    ],
)
def test_extended_search_filters_and_operators(clients, params, expected):
    res = clients["admin"].get("/search/export.json", **params)
    assert res.status == 200
    assert {e["message_id"] for e in res.json()["emails"]} == expected
    page = clients["admin"].get("/search", **params)
    assert page.status == 200


def test_an_unknown_operator_is_a_clear_error(clients):
    page = clients["admin"].get("/search", f="size", o="contains", v="1")
    assert "does not apply to size" in page.text


def test_pasted_message_ids_find_each_and_name_the_missing(clients, web_db):
    res = clients["admin"].post(
        "/search/ids",
        {"message_ids": "<beta-1@beta.example>\nincoming-1@ext.example, <nope@nowhere>"},
    )
    assert res.status == 200
    for mid in ("beta-1@beta.example", "incoming-1@ext.example"):
        assert f"/email/{email_id(web_db, mid)}" in res.text
    assert "nope@nowhere" in res.text.split("Not found")[1]


def test_results_sort_by_size_both_ways(clients):
    sizes = []
    for sort in ("size", "-size"):
        page = (
            clients["admin"]
            .get("/search", since=SINCE, until=UNTIL, sort=sort, f="host", o="equals", v="pfx")
            .text
        )
        sizes.append(re.findall(r'class="num">([\d.]+ kB)<', page))
    assert sizes[0] == sizes[1][::-1] and sizes[0][0] == "1.2 kB"


def test_pages_follow_the_cursor_to_the_end(clients):
    c = clients["admin"]
    seen, params = [], {"since": SINCE, "until": UNTIL, "limit": 3}
    page = c.get("/search", **params).text
    while True:
        seen += re.findall(r'href="/email/([0-9a-f]+)"', page)
        nxt = re.search(r'href="\?([^"]*cursor=[^"]*)" *>Next page', page.replace("&amp;", "&"))
        if not nxt:
            break
        page = c.get("/search?" + nxt.group(1)).text
    everything = c.get("/api/v1/search", since=SINCE, until=UNTIL, limit=1000).json()
    assert sorted(seen) == sorted(e["id"] for e in everything["emails"])
    assert len(seen) == len(set(seen)) > 3


def test_csv_export_has_one_row_per_recipient_and_defuses_formulas(clients):
    body = clients["admin"].get("/search/export.csv", since=SINCE, until=UNTIL).text
    rows = list(csv.DictReader(io.StringIO(body)))
    beta = [r for r in rows if r["message_id"] == "beta-1@beta.example"]
    assert sorted((r["recipient"], r["status"], r["dsn"]) for r in beta) == [
        ("u2@ext.example", "bounced", "5.1.1"),
        ("u5@ext.example", "delivered", "2.0.0"),
    ]
    assert all(not (v or "").startswith(("=", "+", "@")) for r in rows for v in r.values())


def test_searches_are_remembered_and_can_be_saved_and_deleted(base_url, web_db):
    from conftest import PASSWORD, login

    with web_db.connect("else_web") as conn:
        if accounts.get_user(conn, "searcher") is None:
            accounts.add_user(conn, "searcher", PASSWORD, is_admin=True)
    c = login(base_url, "searcher")
    c.get("/search", q="beta-1@beta.example")
    c.get("/search", f="sender", o="ends", v="@alpha.example")
    mine = c.get("/searches").text
    assert "q=beta-1%40beta.example" in mine and "v=%40alpha.example" in mine
    res = c.post(
        "/searches/save", {"name": "alpha senders", "query": "f=sender&o=ends&v=%40alpha.example"}
    )
    assert res.status == 303
    mine = c.get("/searches").text
    link = re.search(r'href="/search\?([^"]+)">alpha senders', mine)
    assert link and "f=sender" in link.group(1)
    found = c.get("/search?" + link.group(1).replace("&amp;", "&")).text
    assert "pfx2-1@alpha.example" not in found  # message ids are not shown; rows are
    assert found.count('href="/email/') == 2
    sid = re.search(r'action="/searches/(\d+)/delete"', mine).group(1)
    assert c.post(f"/searches/{sid}/delete").status == 303
    assert "alpha senders" not in c.get("/searches").text


def test_the_story_of_a_content_filtered_email_follows_every_hop(clients, web_db):
    eid = email_id(web_db, "264dc34c-ad52-466c-6d41-6622dfced3b8@mydomain.com")
    page = clients["admin"].get(f"/email/{eid}").text
    assert "BA8F630001DA" in page and "1310930001DB" in page  # both queue files
    assert "127.0.0.1[127.0.0.1]:10024" in page  # the content filter hop
    assert "gmail-smtp-in.l.google.com" in page  # the final relay
    assert "connection setup" in page  # delays explained
    assert "postfix/qmgr" in page  # the raw lines behind it
    assert "removed" in page


def test_the_story_of_a_bounce_shows_the_ndr_hop_and_explains_the_dsn(clients, web_db):
    # 1_bounce_simple: submission -> content filter -> remote 5.x -> the NDR's own queue file.
    eid = email_id(web_db, "ca10035e-2951-bfd5-ec7e-1a5773fce1cd@mail.sender.com")
    page = clients["admin"].get(f"/email/{eid}").text
    for qid in ("4AA091855DA0", "776E41855DB2", "A48191855DA0"):
        assert qid in page
    assert re.search(r"<td>bounce from <span class=\"mono\">776E41855DB2</span>", page)
    assert "permanent failure" in page


def test_emails_with_the_same_message_id_link_to_each_other(clients, web_db):
    with web_db.connect() as conn:
        pairs = conn.execute(
            "SELECT a.id, b.id FROM emails a JOIN emails b ON a.message_id = b.message_id"
            " AND a.id < b.id"
        ).fetchall()
    assert pairs, "hostile.log sends beta-1 twice, an hour apart"
    for a, b in pairs:
        assert f'href="/email/{b}"' in clients["admin"].get(f"/email/{a}").text
        assert f'href="/email/{a}"' in clients["admin"].get(f"/email/{b}").text


def test_a_deferred_email_offers_queue_control_to_admins_only(clients, web_db):
    eid = email_id(web_db, "incoming-1@ext.example")
    admin = clients["admin"].get(f"/email/{eid}").text
    assert 'action="/servers/pfx/control"' in admin and 'value="hold"' in admin
    assert "the receiving server refused the connection" in admin
    alice = clients["alice"].get(f"/email/{eid}").text
    assert "/control" not in alice


def test_queue_control_asks_for_confirmation_then_audits_the_attempt(clients, web_db):
    c = clients["admin"]
    form = {"action": "hold", "queue_id": "3C4D5E6F7A"}
    ask = c.post("/servers/pfx/control", form)
    assert ask.status == 200 and "Really" in ask.text
    with web_db.connect() as conn:
        before = conn.execute(
            "SELECT count(*) FROM audit_log"
            " WHERE action = 'snmp.hold' AND target = 'pfx:3C4D5E6F7A'"
        ).fetchone()[0]
    assert before == 0
    done = c.post("/servers/pfx/control", {**form, "confirm": "yes"})
    assert done.status == 303  # SNMP answers nobody here: the failure is audited
    with web_db.connect() as conn:
        row = conn.execute(
            "SELECT actor, target, result FROM audit_log"
            " WHERE action = 'snmp.hold' AND target = 'pfx:3C4D5E6F7A'"
        ).fetchone()
    assert row == ("admin", "pfx:3C4D5E6F7A", "error")
    assert "snmp.hold" in c.get("/admin/audit").text


@pytest.mark.parametrize(
    ("form", "status"),
    [
        ({"action": "hold", "queue_id": "; rm -rf /", "confirm": "yes"}, 400),
        ({"action": "hold", "confirm": "yes"}, 400),
        ({"action": "shutdown", "confirm": "yes"}, 400),
    ],
)
def test_bad_control_requests_are_refused_before_any_snmp(clients, form, status):
    assert clients["admin"].post("/servers/pfx/control", form).status == status


def test_servers_page_shows_health_and_charts(clients):
    page = clients["admin"].get("/servers").text
    assert "pfx2" in page and ">down<" in page and ">up<" in page
    assert 'src="/servers/pfx/spark.svg"' in page
    chart = clients["admin"].get("/servers/pfx/queues.svg?hours=48")
    assert chart.status == 200 and b"deferred" in chart.body
    detail = clients["admin"].get("/servers/pfx").text
    assert "SNMP" in detail  # the live listing failed clearly (no agent here)


def test_live_json_lists_the_newest_first(clients):
    data = clients["admin"].get("/api/v1/live").json()
    whens = [e["when"] for e in data["emails"]]
    assert whens == sorted(whens, reverse=True) and len(whens) > 5
    assert data["rejects"]


@pytest.mark.parametrize(
    "name",
    [
        "volume",
        "direction",
        "roles",
        "way",
        "senders",
        "recipients",
        "sender_domains",
        "recipient_domains",
        "rejects",
        "deferrals",
        "bounces",
    ],
)
def test_each_report_has_a_chart_and_a_csv(clients, name):
    c = clients["admin"]
    svg = c.get(f"/reports/chart/{name}.svg", since=SINCE, until=UNTIL)
    assert svg.status == 200 and svg.body.lstrip().startswith(b"<?xml")
    body = c.get(f"/reports/{name}.csv", since=SINCE, until=UNTIL).text
    rows = list(csv.reader(io.StringIO(body)))
    assert len(rows) > 1, f"{name} has no rows"


def test_report_tops_rank_by_size_on_request(clients):
    by_size = (
        clients["admin"].get("/reports/senders.csv", since=SINCE, until=UNTIL, order="size").text
    )
    sizes = [int(r[2]) for r in list(csv.reader(io.StringIO(by_size)))[1:]]
    assert sizes == sorted(sizes, reverse=True)


def test_admin_manages_users_and_groups(clients, web_db):
    c = clients["admin"]
    assert c.post("/admin/users", {"username": "carol", "password": "0123456789ab"}).status == 303
    assert c.post("/admin/groups", {"name": "gamma"}).status == 303
    for kind, value in (("user", "carol"), ("domain", "Gamma.Example"), ("server", "pfx")):
        assert c.post("/admin/groups/gamma/bind", {"kind": kind, "value": value}).status == 303
    bad = c.post("/admin/groups/gamma/bind", {"kind": "domain", "value": "not a domain"})
    assert bad.status == 400
    token_page = c.post("/admin/users/carol/token", {"name": "ci"})
    token = re.search(r"(else_[0-9a-f]{8}_[A-Za-z0-9_-]+)", token_page.text).group(1)
    with web_db.connect() as conn:
        gamma = next(g for g in accounts.list_groups(conn) if g.name == "gamma")
        assert (gamma.members, gamma.domains, gamma.servers) == (
            ("carol",),
            ("gamma.example",),
            ("pfx",),
        )
        assert accounts.user_for_token(conn, token).username == "carol"
        audited = {r[0] for r in conn.execute("SELECT action FROM audit_log WHERE actor = 'admin'")}
    assert {"user.add", "group.add", "group.bind", "token.create"} <= audited
    assert c.post("/admin/users/carol/delete").status == 303
    assert c.post("/admin/groups/gamma/delete").status == 303


def test_an_admin_cannot_lock_themselves_out(clients):
    c = clients["admin"]
    assert c.post("/admin/users/admin/update", {"active": "on"}).status == 400
    assert c.post("/admin/users/admin/delete").status == 400


@pytest.mark.parametrize(
    "path",
    [
        "/search",
        "/rejects",
        "/live",
        "/reports",
        "/searches",
        "/account",
        "/admin/users",
        "/admin/groups",
        "/admin/audit",
        "/servers",
        "/healthz",
        "/api/v1/openapi.json",
        "/static/else.css",
        "/static/else.js",
    ],
)
def test_every_page_answers(clients, path):
    assert clients["admin"].get(path).status == 200


def test_unknown_email_is_a_404_page(clients):
    res = clients["admin"].get("/email/0000000000000000")
    assert res.status == 404 and "no such e-mail" in res.text
