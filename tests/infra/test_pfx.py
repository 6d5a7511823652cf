"""PFX hosts: Postfix, Dovecot and the rsyslog forwarder are up, valid and listen where they should."""

from __future__ import annotations

import pytest

from tests.infra.conftest import run_python

testinfra_hosts = ["ansible://pfx_servers"]


@pytest.mark.parametrize("service", ["postfix", "dovecot", "rsyslog"])
def test_service_is_running_and_enabled(host, service):
    unit = host.service(service)
    assert unit.is_running
    assert unit.is_enabled


@pytest.mark.parametrize("port", [25, 110, 143, 993, 995])
def test_mail_port_is_listening(host, port):
    assert host.socket(f"tcp://0.0.0.0:{port}").is_listening


@pytest.mark.parametrize("port", [2514, 5432, 80, 443])
def test_else_port_is_not_open_on_pfx(host, port):
    assert not host.socket(f"tcp://{port}").is_listening


@pytest.mark.parametrize(
    "command",
    ["postfix check", "rsyslogd -N1 -f /etc/rsyslog.conf", "doveconf -n"],
    ids=["postfix", "rsyslog", "dovecot"],
)
def test_config_is_valid(host, command):
    result = host.run(command)
    assert result.rc == 0, result.stderr


@pytest.mark.parametrize(
    ("parameter", "value"),
    [("enable_long_queue_ids", "yes"), ("compatibility_level", "3.6")],
)
def test_postfix_parameter(host, parameter, value):
    assert host.check_output(f"postconf -h {parameter}") == value


def test_forwarder_keeps_a_disk_assisted_queue_saved_on_shutdown(host):
    conf = host.file("/etc/rsyslog.d/60-else-forward.conf").content_string
    for setting in (
        'queue.filename="',
        'queue.saveOnShutdown="on"',
        'action.resumeRetryCount="-1"',
        'tls.authmode="name"',
    ):
        assert setting in conf


def test_local_mail_log_is_still_written(host):
    assert host.file("/var/log/mail.log").exists


# The lossless path (issue 11, docs/deploy.md): rsyslog reads the journal with a saved cursor,
# journald neither rate-limits nor forwards to a socket nobody reads.
@pytest.mark.parametrize(
    ("path", "setting"),
    [
        ("/etc/rsyslog.conf", 'module(load="imjournal"'),
        ("/etc/rsyslog.conf", 'StateFile="imjournal.state"'),
        ("/etc/rsyslog.conf", 'Ratelimit.Interval="0"'),
        ("/etc/rsyslog.conf", 'module(load="imuxsock" SysSock.Use="off")'),
        ("/etc/systemd/journald.conf.d/50-else.conf", "RateLimitBurst=0"),
        ("/etc/systemd/journald.conf.d/50-else.conf", "RateLimitIntervalSec=0"),
        ("/etc/systemd/journald.conf.d/50-else.conf", "ForwardToSyslog=no"),
    ],
)
def test_local_lines_come_from_the_journal_without_limits(host, path, setting):
    assert setting in host.file(path).content_string


def test_imjournal_keeps_its_cursor(host):
    assert host.file("/var/spool/rsyslog/imjournal.state").is_file


def test_heartbeat_reports_mail_line_counts(host):
    assert host.service("else-forward-heartbeat.timer").is_running
    lines = host.check_output("journalctl -q -o cat -t else-heartbeat -n 20")
    assert "mail lines per minute since " in lines


@pytest.mark.parametrize(
    ("path", "mode"),
    [("/etc/ssl/else/host.key", 0o600), ("/etc/ssl/else/host.pem", 0o644)],
)
def test_tls_file_mode(host, path, mode):
    f = host.file(path)
    assert (f.user, f.group, f.mode) == ("root", "root", mode)


IMAP_GREETING = """
import socket, sys
s = socket.create_connection((sys.argv[1], 143), timeout=5)
print(s.recv(512).decode(errors="replace"))
"""


def test_imap_refuses_plaintext_login_before_starttls(host, else_host, inventory):
    # From another host: Dovecot counts a connection from its own address as secured.
    address = inventory.get_variables(host.backend.host).get("ansible_host", host.backend.host)
    greeting = run_python(else_host, IMAP_GREETING, address).stdout
    assert "LOGINDISABLED" in greeting
    assert "STARTTLS" in greeting


IMAPS_HANDSHAKE = """
import socket, ssl, sys
ctx = ssl.create_default_context(cafile="/etc/ssl/else/ca.pem")
with socket.create_connection(("127.0.0.1", 993), timeout=5) as raw:
    with ctx.wrap_socket(raw, server_hostname=sys.argv[1]) as s:
        print(s.version(), s.recv(200).decode(errors="replace"))
"""


def test_imaps_presents_the_pki_certificate(host):
    result = run_python(host, IMAPS_HANDSHAKE, host.backend.host)
    assert result.rc == 0, result.stderr
    assert "TLSv1." in result.stdout and "* OK" in result.stdout
