"""The ELSE host: PostgreSQL on loopback only, the RELP receiver, Apache over HTTPS, the app."""

from __future__ import annotations

import json

import pytest

from tests.infra.conftest import run_python

testinfra_hosts = ["ansible://else_servers"]


@pytest.mark.parametrize(
    "service",
    ["postgresql", "rsyslog", "apache2", "else-ingest", "else-snmp-poller", "else-alerts"],
)
def test_service_is_running_and_enabled(host, service):
    unit = host.service(service)
    assert unit.is_running
    assert unit.is_enabled


@pytest.mark.parametrize("spec", ["tcp://0.0.0.0:2514", "tcp://0.0.0.0:443", "tcp://0.0.0.0:80"])
def test_public_port_is_listening(host, spec):
    # Apache listens on the IPv6 wildcard (dual stack), which testinfra reports for 0.0.0.0 too.
    assert host.socket(spec).is_listening or host.socket(spec.replace("0.0.0.0", "::")).is_listening


@pytest.mark.parametrize("spec", ["tcp://127.0.0.1:5432", "tcp://::1:5432"])
def test_postgresql_listens_on_loopback(host, spec):
    assert host.socket(spec).is_listening


def test_postgresql_listens_nowhere_else(host):
    listeners = [s for s in host.socket.get_listening_sockets() if s.endswith(":5432")]
    assert sorted(listeners) == ["tcp://127.0.0.1:5432", "tcp://::1:5432"]


@pytest.mark.parametrize(
    "command",
    ["rsyslogd -N1 -f /etc/rsyslog.conf", "apache2ctl configtest"],
    ids=["rsyslog", "apache"],
)
def test_config_is_valid(host, command):
    result = host.run(command)
    assert result.rc == 0, result.stderr


@pytest.mark.parametrize(
    ("path", "owner", "group", "mode"),
    [
        ("/etc/else/else.toml", "root", "else", 0o640),
        ("/etc/else/web-secret", "root", "else", 0o640),
        ("/etc/rsyslog.d/50-else-receive.conf", "root", "root", 0o600),
        ("/etc/rsyslog.d/pgsql.conf", "root", "root", 0o600),
        ("/etc/ssl/else/host.key", "root", "root", 0o600),
    ],
)
def test_secret_file_mode(host, path, owner, group, mode):
    f = host.file(path)
    assert (f.user, f.group, f.mode) == (owner, group, mode)


def test_debian_pgsql_catch_all_action_is_gone(host):
    assert "action(" not in host.file("/etc/rsyslog.d/pgsql.conf").content_string


HTTP_GET = """
import http.client, json, ssl, sys
scheme, port = sys.argv[1], int(sys.argv[2])
if scheme == "https":
    ctx = ssl.create_default_context(cafile="/etc/ssl/else/ca.pem")
    ctx.check_hostname = False
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
else:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
conn.request("GET", "/healthz", headers={"Host": "else.test"})
r = conn.getresponse()
print(json.dumps({"status": r.status, "headers": {k.lower(): v for k, v in r.getheaders()},
                  "header_names": [k.lower() for k, _ in r.getheaders()],
                  "body": r.read(200).decode(errors="replace")}))
"""


def http_get(host, scheme: str, port: int) -> dict:
    result = run_python(host, HTTP_GET, scheme, str(port))
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


def test_wui_health_answers_over_https(host):
    response = http_get(host, "https", 443)
    assert response["status"] == 200
    assert json.loads(response["body"]) == {"status": "ok"}


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("strict-transport-security", "max-age=31536000"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "same-origin"),
    ],
)
def test_https_sends_security_header_once(host, header, value):
    response = http_get(host, "https", 443)
    assert response["headers"].get(header) == value
    assert response["header_names"].count(header) == 1


def test_plain_http_redirects_to_https(host):
    response = http_get(host, "http", 80)
    assert response["status"] == 301
    assert response["headers"]["location"] == "https://else.test/healthz"


def test_plain_http_on_the_https_port_is_refused(host):
    assert http_get(host, "http", 443)["status"] == 400


def test_wui_runs_in_mod_wsgi_daemon_processes_as_else(host):
    daemons = [p for p in host.process.filter(user="else") if "wsgi:else" in p.args]
    assert daemons, "no (wsgi:else) daemon process runs as user else"


# (role, statement, expected error): each login role is refused what it must never do.
FORBIDDEN = [
    ("else_rsyslog", "SELECT count(*) FROM raw_events", "permission denied"),
    (
        "else_rsyslog",
        "INSERT INTO raw_events (received_at, host, message) VALUES (now(), 'x', 'x')",
        "permission denied",
    ),
    ("else_rsyslog", "CREATE TABLE t (i int)", "permission denied"),
    (
        "else_web",
        "INSERT INTO raw_events (received_at, host, message) VALUES (now(), 'x', 'x')",
        "permission denied",
    ),
    ("else_web", "CREATE TABLE t (i int)", "permission denied"),
    ("else_worker", "CREATE TABLE t (i int)", "permission denied"),
    ("else_worker", "DROP TABLE raw_events", "must be owner"),
]


@pytest.mark.parametrize(
    ("role", "statement", "error"),
    FORBIDDEN,
    ids=[f"{r}-{s.split()[0].lower()}" for r, s, _ in FORBIDDEN],
)
def test_database_role_cannot_exceed_its_rights(host, dsns, role, statement, error):
    result = host.run("psql -X -At %s -c %s", dsns[role], statement)
    assert result.rc != 0
    assert error in result.stderr


def test_rsyslog_role_may_call_the_ingest_function(host, dsns, psql_as_postgres):
    call = (
        "SELECT else_ingest_line(now()::text, now()::text, 'testinfra', '192.0.2.1',"
        " 'postfix/testinfra', '7', '2', '6', 'testinfra rights check')"
    )
    result = host.run("psql -X -At %s -c %s", dsns["else_rsyslog"], call)
    assert result.rc == 0, result.stderr
    assert psql_as_postgres("SELECT count(*) > 0 FROM raw_events WHERE host = 'testinfra'") == "t"


@pytest.mark.parametrize("role", ["else_rsyslog", "else_worker", "else_web", "else_owner"])
def test_database_role_cannot_reach_other_databases(host, dsns, role):
    result = host.run(
        "psql -X -At %s -c 'SELECT 1'", dsns[role].replace("dbname=else", "dbname=postgres")
    )
    assert result.rc != 0
    assert "pg_hba.conf" in result.stderr or "permission denied" in result.stderr
