"""Sessions, CSRF, the secret file, quick-box classification, CSV cells, plain words."""

from __future__ import annotations

import io
import os
import stat
import time
from zoneinfo import ZoneInfo

import pytest

from else_core.commands.serve import is_loopback
from else_core.config import Config
from else_core.errors import ConfigError
from webui import create_app, explain
from webui.context import csv_cell as _csv_cell
from webui.context import fmt_time
from webui.queries import classify_quick
from webui.security import SessionCodec, csrf_ok, load_secret

SECRET = b"k" * 32


def test_a_session_survives_the_round_trip():
    codec = SessionCodec(SECRET)
    assert codec.loads(codec.dumps({"u": 7, "c": "tok"}))["u"] == 7


@pytest.mark.parametrize(
    "mangle",
    [
        lambda v: v[:-1] + ("A" if v[-1] != "A" else "B"),  # signature changed
        lambda v: "e30" + v[3:],  # payload changed
        lambda v: v.replace(".", ""),  # no signature
        lambda v: v + ".x",  # two dots
        lambda v: "",
        lambda v: "x" * 5000,
    ],
)
def test_a_tampered_session_is_no_session(mangle):
    codec = SessionCodec(SECRET)
    assert codec.loads(mangle(codec.dumps({"u": 1}))) is None


def test_a_session_signed_with_another_secret_is_no_session():
    value = SessionCodec(b"a" * 32).dumps({"u": 1})
    assert SessionCodec(b"b" * 32).loads(value) is None


def test_an_old_session_expires():
    codec = SessionCodec(SECRET, max_age=60)
    assert codec.loads(codec.dumps({"u": 1, "iat": int(time.time()) - 61})) is None


@pytest.mark.parametrize(
    ("session", "sent", "ok"),
    [
        ({"c": "abc"}, "abc", True),
        ({"c": "abc"}, "abd", False),
        ({"c": "abc"}, None, False),
        ({"c": "abc"}, "", False),
        ({}, "", False),
        ({}, None, False),
    ],
)
def test_csrf_tokens_must_match(session, sent, ok):
    assert csrf_ok(session, sent) is ok


def test_a_missing_secret_file_is_created_private(tmp_path):
    path = tmp_path / "sub" / "web-secret"
    first = load_secret(path)
    assert len(first) >= 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_secret(path) == first


def test_a_short_secret_is_refused(tmp_path):
    path = tmp_path / "web-secret"
    path.write_text("short\n")
    with pytest.raises(ConfigError, match="too short"):
        load_secret(path)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("<abc@example.org>", "message_id"),
        ("4AA091855DA0", "queue_id"),
        ("3Lq5qv1Gn5zCbVy", "queue_id"),
        ("user@example.org", "address"),
        ("<user@example.org>", "message_id"),
        ("example.org", "domain"),
        ("@example.org", "domain"),
        ("192.0.2.7", "client"),
        ("2001:db8::1", "client"),
        ("abc123", "message_id_part"),
        ("   ", None),
    ],
)
def test_the_quick_box_classifies_its_input(text, kind):
    got = classify_quick(text)
    assert (got[0] if got else None) == kind


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("x")', '\'=HYPERLINK("x")'),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("user@example.org", "user@example.org"),
        (None, ""),
        (42, "42"),
    ],
)
def test_csv_cells_never_become_formulas(value, cell):
    assert _csv_cell(value) == cell


@pytest.mark.parametrize(
    ("dsn", "response", "words"),
    [
        ("5.1.1", None, "the mailbox does not exist"),
        ("4.4.1", "connect to x[192.0.2.1]:25: Connection refused", "refused the connection"),
        ("5.7.1", None, "policy"),
        ("2.0.0", "250 2.0.0 Ok: queued as 123", "the next server accepted"),
        ("4.2.2", "452 4.2.2 Mailbox full", "mailbox is full"),
        ("5.9.99", None, "permanent failure"),
        (None, "host x said: 554 denied", "transaction failed"),
        ("bogus", None, ""),
    ],
)
def test_codes_get_plain_words(dsn, response, words):
    assert words in explain.explain(dsn, response)


def test_delays_split_into_their_four_parts():
    parts = explain.split_delays([0.1, 0.2, 1.5, 0.5])
    assert [p[0] for p in parts] == ["a", "b", "c", "d"]
    assert parts[2][2] == 1.5 and "connection" in parts[2][1]


@pytest.mark.parametrize(
    ("stamp", "zone", "shown"),
    [
        ("2026-03-14T10:10:00+00:00", "Europe/Berlin", "2026-03-14 11:10:00 CET"),
        ("2026-07-14T10:10:00+00:00", "Europe/Berlin", "2026-07-14 12:10:00 CEST"),
        ("2026-03-14T10:10:00", "America/New_York", "2026-03-14 06:10:00 EDT"),
        (None, "UTC", ""),
    ],
)
def test_times_show_in_the_users_zone(stamp, zone, shown):
    assert fmt_time(stamp, ZoneInfo(zone)) == shown


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("198.18.0.11", False),
        ("example.org", False),
    ],
)
def test_plain_http_is_for_loopback_only(host, loopback):
    assert is_loopback(host) is loopback


def _call(app, path: str = "/login", remote: str = "127.0.0.1") -> tuple[str, dict[str, list[str]]]:
    out: dict[str, list[str]] = {}
    status_box: list[str] = []

    def start(status, headers, exc_info=None):
        status_box.append(status)
        for k, v in headers:
            out.setdefault(k.lower(), []).append(v)

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "x",
        "SERVER_PORT": "443",
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": remote,
    }
    b"".join(app(environ, start))
    return status_box[0], out


@pytest.mark.parametrize(
    ("web", "secure"),
    [({}, True), ({"insecure_http": False}, True), ({"insecure_http": True}, False)],
)
def test_session_cookies_are_secure_unless_configured_otherwise(web, secure):
    cfg = Config(None, {"database": {"web_dsn": "host=127.0.0.1 port=1 dbname=x"}, "web": web})
    status, headers = _call(create_app(cfg, secret=SECRET))
    assert status.startswith("200")
    cookie = headers["set-cookie"][0]
    assert ("; Secure" in cookie) is secure
    assert "HttpOnly" in cookie
    assert ("strict-transport-security" in headers) is secure


def test_the_app_reads_its_secret_from_the_configured_file(tmp_path):
    path = tmp_path / "secret"
    cfg = Config(
        None, {"database": {"dsn": "host=127.0.0.1 port=1"}, "web": {"secret_file": str(path)}}
    )
    create_app(cfg)
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("insecure", "remote", "status"),
    [
        (True, "127.0.0.1", "200"),
        (True, "::1", "200"),
        (True, "198.18.0.1", "403"),
        (False, "198.18.0.1", "200"),
    ],
)
def test_plain_http_mode_answers_only_loopback_clients(insecure, remote, status):
    cfg = Config(None, {"database": {"dsn": "host=127.0.0.1 port=1"}})
    app = create_app(cfg, secret=SECRET, secure_cookies=not insecure)
    got, headers = _call(app, remote=remote)
    assert got.startswith(status)
    assert "content-security-policy" in headers


@pytest.mark.parametrize(
    ("since", "until", "tz", "first", "count"),
    [
        ("2026-03-14T00:00:00+00:00", "2026-03-15T00:00:00+00:00", "UTC", "2026-03-14 00:00", 24),
        (
            "2026-03-14T00:00:00+00:00",
            "2026-03-15T00:00:00+00:00",
            "Europe/Berlin",
            "2026-03-14 01:00",
            24,
        ),
        ("2026-03-01T00:00:00+00:00", "2026-03-31T00:00:00+00:00", "UTC", "2026-03-01 00:00", 30),
        ("2024-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00", "UTC", None, 0),
    ],
)
def test_volume_buckets_cover_the_whole_period_in_the_users_zone(since, until, tz, first, count):
    from datetime import datetime

    from else_core.stats import Period, bucket_labels

    labels = bucket_labels(Period(datetime.fromisoformat(since), datetime.fromisoformat(until), tz))
    assert len(labels) == count
    assert (labels[0] if labels else None) == first
