"""Smaller admin fixes of issue 15 (item 6), kept apart from the security work of
issue 16: a group cannot be bound to a server that does not exist, UI tokens get the
name the admin types, and the audit CSV writes ``detail`` as JSON."""

from __future__ import annotations

import csv
import io
import json

import pytest

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize(("server", "status"), [("nosuch", 400), ("pfx2", 303)])
def test_a_group_binds_only_to_a_known_server(clients, server, status):
    c = clients["admin"]
    c.post("/admin/groups", {"name": "delta15"})
    res = c.post("/admin/groups/delta15/bind", {"kind": "server", "value": server})
    assert res.status == status
    if status == 400:
        assert "no server" in res.text and "pfx" in res.text


def test_the_token_form_asks_for_a_name(clients):
    page = clients["admin"].get("/admin/users").text
    assert 'value="wui"' not in page
    assert 'name="name" placeholder="token name' in page


def test_the_audit_csv_writes_detail_as_json(clients):
    c = clients["admin"]
    c.post("/admin/groups", {"name": "epsilon15"})
    c.post("/admin/groups/epsilon15/bind", {"kind": "domain", "value": "epsilon.example"})
    rows = list(csv.DictReader(io.StringIO(c.get("/admin/audit.csv").text)))
    details = [
        r["detail"] for r in rows if r["action"] == "group.bind" and r["target"] == "epsilon15"
    ]
    assert json.loads(details[0]) == {"kind": "domain", "value": "epsilon.example"}
