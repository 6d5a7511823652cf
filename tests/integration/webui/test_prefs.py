"""A user's time zone is saved on the account: it survives log-out and log-in, is checked
before it is stored, and only ``?tz=`` overrides it (for one request).

Its own app on the shared web database, with a site default that is not UTC
(America/New_York), so "fell back to the site default" is visible in the page. Its own
users, in group beta (they see beta-1@beta.example: 2026-03-14 10:10 UTC, sent again
an hour later), removed afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import psycopg
import pytest
from conftest import PASSWORD, WebDB, serving
from webclient import Client

from else_core import accounts
from else_core.config import Config
from webui import create_app

SITE_TZ = "America/New_York"
BETA1 = "beta-1@beta.example"
#: beta-1's first sending (10:10 UTC) as each zone shows it.
SHOWN = {
    "UTC": "2026-03-14 10:10:00 UTC",
    "Europe/Berlin": "2026-03-14 11:10:00 CET",
    "Asia/Kolkata": "2026-03-14 15:40:00 IST",
    "America/Argentina/Buenos_Aires": "2026-03-14 07:10:00 -03",
    "Asia/Tokyo": "2026-03-14 19:10:00 JST",
    SITE_TZ: "2026-03-14 06:10:00 EDT",  # US summer time began on 8 March
}
#: The abbreviations a zone's times carry (summer and winter).
ABBREVIATIONS = {"Asia/Kolkata": {"IST"}, "Asia/Tokyo": {"JST"}, SITE_TZ: {"EST", "EDT"}}
USERS = ("tz-ann", "tz-ben")


@pytest.fixture(scope="module")
def prefs_url(web_db: WebDB) -> Iterator[str]:
    with web_db.connect("else_web") as conn:
        for user in USERS:
            accounts.add_user(conn, user, PASSWORD)
            accounts.group_add(conn, "beta", "user", user)
    app = create_app(
        Config(None, {"web": {"timezone": SITE_TZ}}),
        dsn=web_db.dsn("else_web"),
        secret=b"p" * 32,
        secure_cookies=False,
    )
    with serving(app) as url:
        yield url
    with web_db.connect("else_web") as conn:
        for user in USERS:
            accounts.delete_user(conn, user)


@pytest.fixture
def saved(web_db: WebDB, prefs_url: str):
    """Set a user's stored zone directly (the state before the test), reset afterwards."""

    def put(user: str, zone: str | None) -> None:
        with web_db.connect() as conn:
            conn.execute("UPDATE users SET timezone = %s WHERE username = %s", (zone, user))

    yield put
    for user in USERS:
        put(user, None)


def stored(web_db: WebDB, user: str) -> str | None:
    with web_db.connect() as conn:
        row = conn.execute("SELECT timezone FROM users WHERE username = %s", (user,)).fetchone()
    return row[0]


def log_in(url: str, user: str, browser_tz: str | None = None) -> Client:
    """``browser_tz`` is what the log-in page's script sends (None: a browser without it)."""
    c = Client(url)
    c.get("/login")
    form = {"username": user, "password": PASSWORD}
    if browser_tz is not None:
        form["tz"] = browser_tz
    res = c.post("/login", form)
    assert res.status == 303, res.text[:300]
    return c


def shown_zone(c: Client, **params: str) -> str:
    """The zone the search page shows beta-1 in (exactly one of the table's)."""
    text = c.get("/search", q=BETA1, **params).text
    zones = [z for z, stamp in SHOWN.items() if stamp in text]
    assert len(zones) == 1, zones
    return zones[0]


def save_zone(c: Client, zone: str):
    c.get("/account")
    return c.post("/account/tz", {"tz": zone})


@pytest.mark.parametrize(
    "zone", ["Europe/Berlin", "Asia/Kolkata", "America/Argentina/Buenos_Aires"]
)
def test_saved_zone_survives_logout_and_login(prefs_url, web_db, saved, zone):
    c = log_in(prefs_url, "tz-ann", browser_tz="UTC")
    assert save_zone(c, zone).status == 303
    assert stored(web_db, "tz-ann") == zone
    c.post("/logout")
    # The browser still says UTC: the account's choice wins over its guess.
    c = log_in(prefs_url, "tz-ann", browser_tz="UTC")
    assert shown_zone(c) == zone
    assert f"Saved on your account: <strong>{zone}</strong>" in c.get("/account").text


@pytest.mark.parametrize(
    "bad",
    [
        "Mars/Olympus_Mons",
        "europe/berlin",  # zone names are case-sensitive files
        "posixrules",  # loads in ZoneInfo, but is no zone a user picks
        "../../../etc/passwd",
        "<script>alert(1)</script>",
        "Europe/Berlin" * 10,
    ],
)
def test_invalid_zone_is_refused_with_a_clear_message_and_nothing_stored(
    prefs_url, web_db, saved, bad
):
    saved("tz-ann", "Asia/Kolkata")
    c = log_in(prefs_url, "tz-ann")
    res = save_zone(c, bad)
    assert res.status == 400
    assert "unknown time zone" in res.text
    assert "<script>alert" not in res.text
    assert stored(web_db, "tz-ann") == "Asia/Kolkata"
    assert shown_zone(c) == "Asia/Kolkata"


@pytest.mark.parametrize("bad", ["", "Etc/GMT+5; DROP TABLE users", "/etc/localtime", "Ä/Ö"])
def test_database_refuses_what_is_not_shaped_like_a_zone(web_db, prefs_url, bad):
    """The column's own check, for writers that bypass accounts.set_timezone."""
    with (
        web_db.connect("else_web") as conn,
        pytest.raises(psycopg.errors.CheckViolation, match="users_timezone_shape"),
    ):
        conn.execute("UPDATE users SET timezone = %s WHERE username = 'tz-ben'", (bad,))
    assert stored(web_db, "tz-ben") is None


@pytest.mark.parametrize(
    ("before", "browser_tz"),
    [
        (None, None),  # never chose, browser sends nothing
        (None, ""),  # never chose, browser script could not tell
        ("Asia/Tokyo", None),  # chose, then picked "Site default" again (below)
    ],
)
def test_no_saved_zone_falls_back_to_the_site_default(prefs_url, web_db, saved, before, browser_tz):
    saved("tz-ann", before)
    if before is not None:
        c = log_in(prefs_url, "tz-ann")
        assert shown_zone(c) == before
        assert save_zone(c, "").status == 303
        c.post("/logout")
    assert stored(web_db, "tz-ann") is None
    c = log_in(prefs_url, "tz-ann", browser_tz=browser_tz)
    assert shown_zone(c) == SITE_TZ


@pytest.mark.parametrize(
    ("saved_zone", "override"), [("Europe/Berlin", "Asia/Tokyo"), (None, "UTC")]
)
def test_tz_query_overrides_for_one_request_only(prefs_url, web_db, saved, saved_zone, override):
    saved("tz-ann", saved_zone)
    c = log_in(prefs_url, "tz-ann")
    assert shown_zone(c, tz=override) == override
    assert shown_zone(c) == (saved_zone or SITE_TZ)
    assert stored(web_db, "tz-ann") == saved_zone


@pytest.mark.parametrize(
    ("saved_zone", "override"),
    [("Asia/Kolkata", None), (None, None), ("Asia/Kolkata", "Asia/Tokyo")],
)
def test_api_token_renders_times_in_the_accounts_zone(
    prefs_url, web_db, saved, saved_zone, override
):
    """API requests carry no session: the account's saved zone (else the site's) applies."""
    saved("tz-ann", saved_zone)
    with web_db.connect("else_web") as conn:
        token = accounts.create_token(conn, "tz-ann", "prefs-test")
    zone = override or saved_zone or SITE_TZ
    params = {"tz": override} if override else {}
    data = Client(prefs_url).api("/api/v1/live", token, **params).json()
    assert data["at"].rsplit(" ", 1)[1] == datetime.now(UTC).astimezone(ZoneInfo(zone)).tzname()
    assert data["emails"], "tz-ann sees beta.example mail"
    assert {e["when"].rsplit(" ", 1)[1] for e in data["emails"]} <= ABBREVIATIONS[zone]


@pytest.mark.parametrize("other_before", [None, "Asia/Tokyo"])
def test_saving_a_zone_leaves_other_users_alone(prefs_url, web_db, saved, other_before):
    saved("tz-ben", other_before)
    ben = log_in(prefs_url, "tz-ben")
    ann = log_in(prefs_url, "tz-ann")
    assert save_zone(ann, "Europe/Berlin").status == 303
    assert stored(web_db, "tz-ben") == other_before
    assert shown_zone(ben) == (other_before or SITE_TZ)
    ben.post("/logout")
    assert shown_zone(log_in(prefs_url, "tz-ben")) == (other_before or SITE_TZ)
