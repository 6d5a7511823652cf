"""Log-in throttling over real HTTP, with real parallel requests (issue 16, parts 1 and 4).

Each test serves its own app (so its limits and counters are its own) and uses its own
account names; clients pick their loopback source address (127.0.0.x) to play different
machines.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import PASSWORD, serving
from webclient import Client, Response

from else_core import accounts
from webui import create_app
from webui.views.auth import LIMITS_KEY, THROTTLED, WRONG

pytestmark = pytest.mark.postgres


@pytest.fixture
def throttled(web_db, web_config):
    """Serve an app with the given limits: ``with throttled(limits) as url``."""

    def make(limits: accounts.LoginLimits):
        app = create_app(
            web_config, dsn=web_db.dsn("else_web"), secret=b"t" * 32, secure_cookies=False
        )
        app.config[LIMITS_KEY] = limits
        return serving(app)

    return make


def _user(web_db, name: str) -> None:
    with web_db.connect("else_web") as conn:
        if accounts.get_user(conn, name) is None:
            accounts.add_user(conn, name, PASSWORD)


def _post_login(base: str, name: str, password: str, source: str = "127.0.0.1") -> Response:
    c = Client(base, source=source)
    c.get("/login")
    return c.post("/login", {"username": name, "password": password})


def _burst(base: str, logins: list[tuple[str, str]], source: str) -> list[Response]:
    """All log-ins at once, each on its own connection and thread."""
    with ThreadPoolExecutor(len(logins)) as pool:
        return list(pool.map(lambda np: _post_login(base, np[0], np[1], source), logins))


def _audit(web_db, name: str) -> list[tuple[str, str]]:
    with web_db.connect() as conn:
        return conn.execute(
            "SELECT action, result FROM audit_log WHERE target = %s ORDER BY id", (name,)
        ).fetchall()


def _error_of(res: Response) -> str:
    m = re.search(r'role="alert">(.*?)<', res.text, re.S)
    return m.group(1).strip() if m else res.text


def test_parallel_wrong_passwords_reach_the_check_only_up_to_the_limit(web_db, throttled):
    _user(web_db, "racer")
    limits = accounts.LoginLimits(per_address=50)  # let the whole burst reach the counter
    with throttled(limits) as url:
        answers = _burst(url, [("racer", "wrong guess")] * 20, "127.0.0.11")
        right_after = _post_login(url, "racer", PASSWORD, "127.0.0.11")
    checked = [r for r in _audit(web_db, "racer") if r == ("login.failed", "bad password")]
    assert len(checked) == accounts.LOCK_AFTER
    assert sorted(r.status for r in answers) == [401] * 5 + [429] * 15
    assert right_after.status == 429  # the right password during the lock: refused unchecked


def test_a_burst_from_one_address_does_not_lock_the_owner_out_elsewhere(web_db, throttled):
    _user(web_db, "owner")
    with throttled(accounts.LoginLimits(per_address=50)) as url:
        _burst(url, [("owner", "attacker guess")] * 10, "127.0.0.12")
        assert _post_login(url, "owner", PASSWORD, "127.0.0.12").status == 429
        assert _post_login(url, "owner", PASSWORD, "127.0.0.13").status == 303


def test_one_address_runs_at_most_its_share_of_password_checks_at_once(web_db, throttled):
    limits = accounts.LoginLimits(per_address=2)
    accounts.GATE.peak = 0
    with throttled(limits) as url:
        names = [(f"flood-{i}", "wrong guess") for i in range(30)]
        answers = _burst(url, names, "127.0.0.14")
    assert accounts.GATE.peak <= limits.per_address
    assert {r.status for r in answers} <= {401, 429}
    with web_db.connect() as conn:
        (busy,) = conn.execute(
            "SELECT count(*) FROM audit_log WHERE target LIKE 'flood-%%' AND result = 'busy'"
        ).fetchone()
    assert busy == sum(r.status == 429 for r in answers)


def test_an_address_with_too_many_failures_is_refused_for_every_name(web_db, throttled):
    _user(web_db, "bystander")
    with throttled(accounts.LoginLimits(address_failures=6)) as url:
        for i in range(6):
            assert _post_login(url, f"spray-{i}", "guess", "127.0.0.15").status == 401
        assert _post_login(url, "bystander", PASSWORD, "127.0.0.15").status == 429
        assert _post_login(url, "bystander", PASSWORD, "127.0.0.16").status == 303


def test_real_and_unknown_names_get_the_same_answers(web_db, throttled):
    _user(web_db, "realname")
    seen: dict[str, list[tuple[int, str]]] = {}
    with throttled(accounts.LoginLimits()) as url:
        for name in ("realname", "no-such-name"):
            seen[name] = [
                (r.status, _error_of(r))
                for r in (_post_login(url, name, "guess", "127.0.0.17") for _ in range(7))
            ]
    assert seen["realname"] == seen["no-such-name"]
    assert [s for s, _ in seen["realname"]] == [401] * 5 + [429] * 2
    assert WRONG in seen["realname"][0][1] and THROTTLED in seen["realname"][-1][1]


def test_an_admin_unlock_ends_the_lock_from_every_address(web_db, throttled):
    _user(web_db, "unlockme")
    with throttled(accounts.LoginLimits()) as url:
        for _ in range(accounts.LOCK_AFTER):
            _post_login(url, "unlockme", "guess", "127.0.0.18")
        with web_db.connect("else_web") as conn:
            assert accounts.locked_until(conn, accounts.get_user(conn, "unlockme")) is not None
            accounts.unlock(conn, "unlockme")
            assert accounts.locked_until(conn, accounts.get_user(conn, "unlockme")) is None
        assert _post_login(url, "unlockme", PASSWORD, "127.0.0.18").status == 303
