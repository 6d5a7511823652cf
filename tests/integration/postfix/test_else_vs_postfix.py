"""ELSE against a real Postfix: per-recipient final statuses, rejects, and pflogsumm's totals.

The expectations come from what the workload sent and did (``expected_status``), the log
from the real Postfix that carried it; every assertion message quotes the log lines behind
the message so a disagreement can be read without re-running anything.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import pflogsumm
from tests.support.cli import elsectl
from tests.support.postfix_workload import (
    DNSBL_ZONE,
    Message,
    Workload,
    expected_ndrs,
    expected_status,
    workload,
)

VARIANTS = ("short-ids", "long-ids")
LOG_FORMATS = ("classic", "rfc3339")
NAMES = [m.name for m in workload()]

pytestmark = [pytest.mark.root, pytest.mark.postfix]


def _emails(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["type"] == "email"]


def _email_of(objects: list[dict[str, Any]], m: Message) -> list[dict[str, Any]]:
    """The e-mails whose transactions include the queue file smtpd/pickup gave ``m``."""
    return [
        e for e in _emails(objects) if any(t["queue_id"] == m.queue_id for t in e["transactions"])
    ]


def _one_email(wl: Workload, m: Message, objects: list[dict[str, Any]]) -> dict[str, Any]:
    found = _email_of(objects, m)
    assert len(found) == 1, f"{m.name}: {len(found)} e-mails hold {m.queue_id}" + _evidence(wl, m)
    return found[0]


def _evidence(wl: Workload, m: Message, email: dict[str, Any] | None = None) -> str:
    qids = {m.queue_id, m.filter_queue_id}
    if email:
        qids |= {t["queue_id"] for t in email["transactions"]}
    return "\nlog lines:\n" + wl.lines_about(*qids, *m.recipients)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("fmt", LOG_FORMATS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_parse_gives_each_recipient_its_final_status(ground_truth, parsed, variant, fmt, name):
    wl = ground_truth[variant]
    m = wl.message(name)
    objects, _ = parsed(variant, fmt)
    if m.queue_id is None:  # every recipient refused: nothing was queued for delivery
        listed = [
            (x["address"], x["status"])
            for e in _emails(objects)
            if m.message_id and e["message_id"] == m.message_id
            for x in e["recipients"]
        ]
        assert all(status == "rejected" for _, status in listed), listed
        return
    email = _one_email(wl, m, objects)
    want: dict[str, list[str]] = {}
    got: dict[str, list[str]] = {}
    for r in m.recipients:
        status = expected_status(m, r)
        entries = [x for x in email["recipients"] if r in (x["address"], x["orig_address"])]
        # A recipient refused at RCPT is listed with the message the session went on to
        # send, before or after the queue file existed. A recipient still in flight may not
        # be listed: Postfix logs it when an attempt ends.
        want[r] = [status] if status != "queued" or entries else []
        got[r] = [x["status"] for x in entries]
    strays = [
        (x["address"], x["status"])
        for x in email["recipients"]
        if x["address"] not in m.recipients and x["orig_address"] not in m.recipients
    ]
    got["(not a recipient of this message)"] = strays
    want["(not a recipient of this message)"] = []
    assert got == want, f"{name}: ELSE's statuses differ" + _evidence(wl, m, email)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_parse_keeps_the_message_id_it_was_sent_with(ground_truth, parsed, variant, name):
    wl = ground_truth[variant]
    m = wl.message(name)
    objects, _ = parsed(variant, "classic")
    if m.queue_id is None:
        return
    email = _one_email(wl, m, objects)
    statuses = {expected_status(m, r) for r in m.recipients}
    # Mail discarded at RCPT time never reaches cleanup, which is what logs message-id=.
    allowed = {m.message_id, None} if "discarded" in statuses else {m.message_id}
    assert email["message_id"] in allowed, _evidence(wl, m, email)


@pytest.mark.parametrize("variant", VARIANTS)
def test_parse_marks_mail_still_in_flight_as_queued(ground_truth, parsed, variant):
    wl = ground_truth[variant]
    objects, _ = parsed(variant, "classic")
    in_flight = [
        m for m in wl.messages if {expected_status(m, r) for r in m.recipients} == {"queued"}
    ]
    assert in_flight
    for m in in_flight:
        email = _one_email(wl, m, objects)
        assert email["status"] == "queued", _evidence(wl, m, email)


@pytest.mark.parametrize(
    "name", [m.name for m in workload() if m.filter or (m.op and "requeue" in m.op)]
)
@pytest.mark.parametrize("variant", VARIANTS)
def test_parse_follows_reinjection_and_requeue_into_one_email(ground_truth, parsed, variant, name):
    wl = ground_truth[variant]
    m = wl.message(name)
    objects, _ = parsed(variant, "classic")
    email = _one_email(wl, m, objects)
    qids = [t["queue_id"] for t in email["transactions"]]
    if m.filter:
        assert m.filter_queue_id in qids, _evidence(wl, m, email)
    else:  # the deferred file and each requeued one (then the bounce, if it expired)
        files = [t["queue_id"] for t in email["transactions"] if t["origin"] != "bounce"]
        assert files == m.queue_ids, _evidence(wl, m, email)
        states = [t["state"] for t in email["transactions"] if t["origin"] != "bounce"]
        assert states[:-1] == ["requeued"] * (len(files) - 1), _evidence(wl, m, email)
    holders = [e for e in _emails(objects) if e["message_id"] == m.message_id]
    assert len(holders) == 1, _evidence(wl, m, email)


@pytest.mark.parametrize("name", [m.name for m in workload() if expected_ndrs(m)])
@pytest.mark.parametrize("variant", VARIANTS)
def test_parse_links_each_bounce_to_its_message_and_delivers_it(
    ground_truth, parsed, variant, name
):
    wl = ground_truth[variant]
    m = wl.message(name)
    objects, _ = parsed(variant, "classic")
    email = _one_email(wl, m, objects)
    chain = {t["queue_id"] for t in email["transactions"]}
    ndrs = [
        t
        for e in _emails(objects)
        for t in e["transactions"]
        if t["origin"] == "bounce" and t["parent"] in chain
    ]
    assert len(ndrs) == expected_ndrs(m), _evidence(wl, m, email)
    for t in ndrs:
        outcome = [(a["to"], a["status"]) for a in t["attempts"]]
        assert outcome == [(m.sender, "sent")], _evidence(wl, m, email)


@pytest.mark.parametrize("fmt", LOG_FORMATS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_parse_records_every_refused_recipient_once(ground_truth, parsed, variant, fmt):
    wl = ground_truth[variant]
    objects, _ = parsed(variant, fmt)
    # The DSN is in both the SMTP reply the workload got and the log line ELSE read.
    want = sorted(
        (m.sender, r, reply.split()[0], "reject")
        for m in wl.messages
        for r, (_code, reply) in m.refused.items()
    )
    # Greylisting refused the first recipient for now, at RCPT: a refusal too, retried.
    want = sorted(
        want
        + [
            (m.sender, m.recipients[0], m.tempfailed[1].split()[0], "reject")
            for m in wl.messages
            if m.greylisted and m.tempfailed
        ]
    )
    # A reject is either its own object (NOQUEUE) or listed with the e-mail it belongs to.
    rejects = [o for o in objects if o["type"] == "reject"]
    rejects += [r for e in _emails(objects) for r in e.get("rejects", [])]
    got = sorted(
        (o["sender"], o["recipient"], o["dsn"], o["action"])
        for o in rejects
        if o["action"] == "reject"
    )
    assert got == want


@pytest.mark.parametrize("fmt", LOG_FORMATS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_parse_classifies_every_line_of_a_real_postfix(ground_truth, parsed, variant, fmt):
    wl = ground_truth[variant]
    _, summary = parsed(variant, fmt)
    lines = len(wl.log_path(fmt).read_text().splitlines())
    assert (summary["lines"], summary["postfix_lines"], summary["unknown_postfix_lines"]) == (
        lines,
        lines,
        0,
    )


@pytest.mark.parametrize("fmt", LOG_FORMATS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_report_grand_totals_equal_pflogsumm(ground_truth, variant, fmt):
    path = ground_truth[variant].log_path(fmt)
    res = elsectl("report", str(path), "--compat", "pflogsumm", "--format", "json")
    ours = json.loads(res.stdout)
    theirs = pflogsumm.grand_totals(pflogsumm.run([path]))
    assert set(ours) >= set(pflogsumm.KEYS)
    assert pflogsumm.compare(ours, theirs) == {}, f"ELSE {ours}\npflogsumm {theirs}"


# What the workload's operations and its milter did, read back from ELSE's e-mails.
ADMIN_PATHS = [
    # name, complete, postsuper actions on the files in order (file index, action)
    ("delete", True, [(0, "postsuper removed")]),
    ("hold", False, [(0, "postsuper hold")]),
    (
        "requeue-expire",
        True,
        [(0, "postsuper requeued"), (1, "postsuper requeued")],
    ),
    (
        "hold-requeue-hold",
        False,
        [
            (0, "postsuper hold"),
            (0, "postsuper released"),
            (0, "postsuper requeued"),
            (1, "postsuper hold"),
        ],
    ),
]


@pytest.mark.parametrize(
    ("name", "complete", "actions"), ADMIN_PATHS, ids=[a[0] for a in ADMIN_PATHS]
)
@pytest.mark.parametrize("variant", VARIANTS)
def test_parse_keeps_admin_actions_and_ends_each_path(
    ground_truth, parsed, variant, name, complete, actions
):
    """Deleted and expired mail is finished (not "still in progress"), held mail is not;
    each postsuper operation is an action of the queue file it named."""
    wl = ground_truth[variant]
    m = wl.message(name)
    objects, _ = parsed(variant, "classic")
    email = _one_email(wl, m, objects)
    assert email["complete"] is complete, _evidence(wl, m, email)
    files = {q: i for i, q in enumerate(m.queue_ids)}
    got = [
        (files.get(t["queue_id"]), a["action"])
        for t in email["transactions"]
        for a in t["actions"]
        if a["action"].startswith("postsuper")
    ]
    assert got == actions, _evidence(wl, m, email)


@pytest.mark.parametrize("fmt", LOG_FORMATS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_parse_folds_the_milter_4xx_into_the_retry(ground_truth, parsed, variant, fmt):
    """One e-mail for both submissions; the recipient once, delivered, with the refusal
    for now (the DSN the client was told) as its earlier step."""
    wl = ground_truth[variant]
    m = wl.message("milter-retry")
    assert m.tempfailed is not None
    objects, _ = parsed(variant, fmt)
    email = _one_email(wl, m, objects)
    states = [t["state"] for t in email["transactions"]]
    assert states == ["rejected", "removed"], _evidence(wl, m, email)
    (r,) = email["recipients"]
    told = m.tempfailed[1].split()[0]  # "4.7.1"
    assert (r["address"], r["status"]) == (m.recipients[0], "delivered")
    assert [(x["status"], x["dsn"]) for x in r["earlier"]] == [("rejected", told)]


@pytest.mark.parametrize("fmt", LOG_FORMATS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_parse_folds_the_greylisting_450_into_the_retry(ground_truth, parsed, variant, fmt):
    """A greylisted RCPT (NOQUEUE, 450) and the client's accepted retry: the recipient is
    delivered, with the refusal for now as its earlier step."""
    wl = ground_truth[variant]
    m = wl.message("greylist")
    assert m.tempfailed is not None
    objects, _ = parsed(variant, fmt)
    email = _one_email(wl, m, objects)
    (r,) = email["recipients"]
    told = m.tempfailed[1].split()[0]  # "4.7.1"
    assert (r["address"], r["status"]) == (m.recipients[0], "delivered"), _evidence(wl, m, email)
    assert [(x["status"], x["dsn"]) for x in r["earlier"]] == [("rejected", told)]


@pytest.mark.parametrize("fmt", LOG_FORMATS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_parse_names_the_sasl_user_of_an_authenticated_submission(
    ground_truth, parsed, variant, fmt
):
    wl = ground_truth[variant]
    m = wl.message("sasl")
    objects, _ = parsed(variant, fmt)
    email = _one_email(wl, m, objects)
    assert email["sasl_username"] == m.sasl_login, _evidence(wl, m, email)
    others = [e for e in _emails(objects) if e is not email and e.get("sasl_username")]
    assert others == []  # only the authenticated client's mail carries a SASL user


@pytest.mark.parametrize("fmt", LOG_FORMATS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_parse_gives_the_dnsbl_refusal_its_client_and_list(ground_truth, parsed, variant, fmt):
    wl = ground_truth[variant]
    m = wl.message("postscreen-dnsbl")
    objects, _ = parsed(variant, fmt)
    found = [o for o in objects if o["type"] == "reject" and o["sender"] == m.sender]
    assert [(o["client_ip"], o["daemon"], o["dsn"]) for o in found] == [
        (m.source, "postscreen", "5.7.1")
    ]
    assert f"blocked using {DNSBL_ZONE}" in found[0]["reason"]
