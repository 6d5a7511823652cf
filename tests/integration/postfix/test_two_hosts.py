"""One e-mail across two real Postfix servers, read from one merged log as a central syslog sees it.

An inbound Postfix (myhostname ``in.test``) relays everything to an outbound one
(``out.test``), which delivers to the scripted sink: one recipient accepted, one refused
for good, one refused for now until the outbound queue lifetime runs out. Each instance
writes its own log; the two are merged by time into one file the way a central rsyslog
receives them (lines of the same second in either order, both tried). The expectations come
from the sink's script (``ok-``, ``bad-``, ``tmp-``), never from the log.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.postfix.test_postfix_into_store import (
    Database,
    store_log,
    stored_recipients,
)
from tests.support.cli import elsectl
from tests.support.postfix import PostfixInstance, wait_until
from tests.support.smtp_sink import SmtpSink, behaviour

pytestmark = [pytest.mark.root, pytest.mark.postfix]
WAYS = ("import", "ingest")

SINK = "sink.test"
SENDER = f"ok-snd-twohosts@{SINK}"
RECIPIENTS = [f"ok-twohosts@{SINK}", f"bad-twohosts@{SINK}", f"tmp-twohosts@{SINK}"]
LIFETIME = 6  # the outbound queue lifetime: the tmp- recipient expires within the test
EXPECTED = {"accept": "delivered", "reject": "bounced", "tempfail": "expired"}
TIE_ORDERS = ("inbound-first", "outbound-first")
#: The outbound server's own address (the inbound one and the sink are on 127.0.0.1).
OUTBOUND_ADDRESS = "127.0.0.2"


class TwoHosts:
    """The run's facts: the inbound queue ID and the merged logs (one per tie order)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.queue_id: str | None = None
        self.logs: dict[str, Path] = {}
        self.sink = SmtpSink()


def _merge(first: Path, second: Path) -> str:
    """Both logs in time order; within one second, ``first``'s lines come first."""
    lines = [
        (line[:15], rank, i, line)
        for rank, path in enumerate((first, second))
        for i, line in enumerate(path.read_text(errors="replace").splitlines(keepends=True))
    ]
    return "".join(x[3] for x in sorted(lines))


@pytest.fixture(scope="module")
def two_hosts() -> Iterator[TwoHosts]:
    run = TwoHosts(Path(tempfile.mkdtemp(prefix="else-2h-")))
    run.root.chmod(0o755)  # the postfix user must reach each instance's data directory
    run.sink.start()
    outbound = PostfixInstance(
        run.root / "out",
        relay_port=run.sink.port,
        hostname="out.test",
        queue_lifetime=LIFETIME,
        address=OUTBOUND_ADDRESS,
    )
    inbound = PostfixInstance(
        run.root / "in",
        relay_port=outbound.smtpd_port,
        relay_address=OUTBOUND_ADDRESS,
        hostname="in.test",
        queue_lifetime=60,
    )
    try:
        outbound.start()
        inbound.start()
        with contextlib.closing(inbound.smtp()) as smtp:
            smtp.ehlo()
            smtp.mail(SENDER)
            for r in RECIPIENTS:
                assert smtp.rcpt(r)[0] == 250
            code, reply = smtp.data(
                (
                    f"Message-ID: <twohosts.{id(run)}@client.test>\r\nFrom: <{SENDER}>\r\n"
                    "Subject: ELSE two hosts\r\n\r\nInbound, outbound, sink.\r\n"
                ).encode()
            )
            assert code == 250, reply
            run.queue_id = reply.decode().rsplit(" ", 1)[1]
        # Settled: both queues empty, and the sender got one bounce for the refused
        # recipient and one for the expired one.
        for pf in (inbound, outbound):
            pf.wait_queue(lambda q: not q, LIFETIME + 30, f"{pf.hostname}: an empty queue")
        wait_until(
            lambda: len([e for e in run.sink.delivered_to(SENDER) if e.mail_from == ""]) == 2,
            20,
            "two bounces to the sender",
        )
    finally:
        inbound.stop()
        outbound.stop()
        run.sink.stop()
    for order in TIE_ORDERS:
        pair = (inbound.maillog, outbound.maillog)
        if order == "outbound-first":
            pair = pair[::-1]
        run.logs[order] = run.root / f"merged-{order}.log"
        run.logs[order].write_text(_merge(*pair))
    artifacts = Path(__file__).resolve().parents[3] / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    shutil.copy(run.logs["inbound-first"], artifacts / "postfix-two-hosts.maillog")
    yield run
    shutil.rmtree(run.root, ignore_errors=True)


def _emails(path: Path) -> list[dict[str, Any]]:
    res = elsectl("parse", "--detail", str(path))
    objects = [json.loads(line) for line in res.stdout.splitlines() if line.strip()]
    return [o for o in objects if o["type"] == "email"]


def test_the_sink_saw_what_the_script_says(two_hosts):
    for r in RECIPIENTS:
        got = two_hosts.sink.delivered_to(r)
        assert len(got) == (1 if behaviour(r) == "accept" else 0), r


@pytest.mark.parametrize("order", TIE_ORDERS)
def test_one_email_spans_both_hosts_with_each_final_status(two_hosts, order):
    mails = [
        e
        for e in _emails(two_hosts.logs[order])
        if any(t["queue_id"] == two_hosts.queue_id for t in e["transactions"])
    ]
    assert len(mails) == 1, two_hosts.logs[order].read_text()
    (mail,) = mails
    hosts = [t["host"] for t in mail["transactions"] if t["origin"] != "bounce"]
    assert sorted(hosts) == ["in", "out"], mail["transactions"]
    assert mail["host"] == "in"  # where it came in, whichever line the merge put first
    assert mail["complete"] is True
    got = sorted((r["address"], r["status"]) for r in mail["recipients"])
    want = sorted((r, EXPECTED[behaviour(r)]) for r in RECIPIENTS)
    assert got == want, two_hosts.logs[order].read_text()


@pytest.mark.postgres
@pytest.mark.parametrize("way", WAYS)
def test_import_and_ingest_store_the_same_two_host_email(two_hosts, pg_cluster, way):
    db = Database(pg_cluster, pg_cluster.create_db(template="else_template"))
    try:
        store_log(db, two_hosts.logs["inbound-first"], way)
        got = stored_recipients(db, two_hosts.queue_id)
        with db.connect() as conn:
            hosts = conn.execute(
                "SELECT DISTINCT host FROM transactions WHERE email_id ="
                " (SELECT email_id FROM transactions WHERE queue_id = %s) ORDER BY host",
                (two_hosts.queue_id,),
            ).fetchall()
    finally:
        pg_cluster.drop_db(db.name)
    assert got == sorted((r, EXPECTED[behaviour(r)]) for r in RECIPIENTS)
    assert [h for (h,) in hosts] == ["in", "out"]
