"""RELP demands TLS and a PFX certificate; a line logged on PFX reaches ELSE's raw_events."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.infra.conftest import run_python, wait_for

testinfra_hosts = ["ansible://pfx_servers"]

# Opens a RELP session (plain, or TLS with this host's own certificate) and prints the reply.
RELP_OPEN = """
import socket, ssl, sys
address, mode = sys.argv[1], sys.argv[2]
offer = b"relp_version=0\\nrelp_software=testinfra\\ncommands=syslog"
frame = b"1 open %d %s\\n" % (len(offer), offer)
reply = b""
try:
    s = socket.create_connection((address, 2514), timeout=5)
    if mode == "tls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.load_verify_locations("/etc/ssl/else/ca.pem")
        ctx.load_cert_chain("/etc/ssl/else/host.pem", "/etc/ssl/else/host.key")
        s = ctx.wrap_socket(s)
    s.sendall(frame)
    reply = s.recv(200)
except (OSError, ssl.SSLError) as exc:
    reply = ("error: %s" % exc).encode()
print(reply.decode(errors="replace").replace("\\n", " | "))
"""


def relp_open(host, address: str, mode: str) -> str:
    return run_python(host, RELP_OPEN, address, mode).stdout


def test_relp_accepts_a_pfx_certificate(host, else_address):
    assert "rsp" in relp_open(host, else_address, "tls") and "200 OK" in relp_open(
        host, else_address, "tls"
    )


def test_relp_refuses_plain_tcp(host, else_address):
    assert "200 OK" not in relp_open(host, else_address, "plain")


def test_relp_refuses_a_certificate_that_names_no_pfx_host(else_host):
    # ELSE's own certificate is signed by the same CA, but its name is not a permitted peer.
    assert "200 OK" not in relp_open(else_host, "127.0.0.1", "tls")


def test_forwarder_holds_a_relp_session_to_else(host, else_address):
    wait_for(lambda: f"{else_address}:2514" in host.check_output("ss -tn state established"), 15)


def count_raw(psql_as_postgres, token: str) -> int:
    return int(psql_as_postgres(f"SELECT count(*) FROM raw_events WHERE message LIKE '%{token}%'"))


@pytest.mark.parametrize("priority", ["mail.info", "mail.warning"])
def test_logged_mail_line_reaches_raw_events_within_seconds(host, psql_as_postgres, priority):
    token = f"testinfra-{uuid.uuid4().hex}"
    host.check_output("logger -p %s -t postfix/testinfra %s", priority, token)
    took = wait_for(lambda: count_raw(psql_as_postgres, token) == 1, timeout=10)
    print(f"{priority} line in raw_events after {took:.2f} s")


def test_non_mail_lines_are_not_forwarded(host, psql_as_postgres):
    token = f"testinfra-user-{uuid.uuid4().hex}"
    host.check_output("logger -p user.info -t testinfra %s", token)
    marker = f"testinfra-marker-{uuid.uuid4().hex}"
    host.check_output("logger -p mail.info -t postfix/testinfra %s", marker)
    wait_for(lambda: count_raw(psql_as_postgres, marker) == 1, timeout=10)
    assert count_raw(psql_as_postgres, token) == 0


def test_mail_through_pfx_is_logged_into_raw_events(host, psql_as_postgres):
    message_id = f"{uuid.uuid4().hex}@testinfra.invalid"
    mail = f"Subject: testinfra\nMessage-ID: <{message_id}>\n\nend-to-end\n"
    host.run_expect([0], "printf %s %s | /usr/sbin/sendmail -f root root", "%s", mail)
    started = time.monotonic()
    wait_for(lambda: count_raw(psql_as_postgres, message_id) == 1, timeout=20)
    queue_id = psql_as_postgres(
        "SELECT split_part(message, ':', 1) FROM raw_events"
        f" WHERE message LIKE '%message-id=<{message_id}>%'"
    )
    # The delivery line of the same queue file follows (local delivery to root's mailbox).
    wait_for(
        lambda: (
            int(
                psql_as_postgres(
                    f"SELECT count(*) FROM raw_events WHERE message LIKE '{queue_id}: to=<%status=sent%'"
                )
            )
            >= 1
        ),
        timeout=20,
    )
    print(f"mail {queue_id} logged on ELSE {time.monotonic() - started:.2f} s after submission")
