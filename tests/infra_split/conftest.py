"""Fixtures for the split layout's testinfra suite: the four hosts by the part they play.

Run by molecule/split's verify step as ``pytest --connection=ansible --ansible-inventory=INV
tests/infra_split`` against the "mols" lab instance (pfx-in, pfx-out, the backend else, the
frontend else-front; docs/scale.md). The hosts are found by inventory group and server role,
never by name, so the same tests run against `LAB_PROFILE=split make lab`
(`make lab-verify LAB_TESTS=tests/infra_split`).

The WUI and the API are reached the way a user reaches them: HTTPS to the frontend from this
machine, checked against the lab's CA.
"""

from __future__ import annotations

import http.client
import json
import re
import shlex
import smtplib
import ssl
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import testinfra
from testinfra.utils.ansible_runner import AnsibleRunner

REPO = Path(__file__).resolve().parents[2]
FIGURES = REPO / "test-artifacts" / "split.jsonl"
ELSECTL = "/opt/else/venv/bin/elsectl"
BANNER = "Read-only: the backend database is unreachable"
READ_ONLY = "ELSE is read-only for now"


@dataclass(frozen=True)
class Layout:
    """Names and addresses of the split layout's hosts, from the inventory."""

    pfx_in: str
    pfx_out: str
    backend: str
    frontend: str
    address: dict[str, str]
    instance: str
    state: Path

    @property
    def bridge(self) -> str:
        """This machine's address on the lab bridge: where "the internet" and the local
        users send from (the first address of the instance's network)."""
        info = json.loads((self.state / "hosts.json").read_text())
        return str(info["bridge_ip"])

    def domain(self, host: str) -> str:
        return f"{host}.{self.instance}.test"


@pytest.fixture(scope="session")
def inventory(request: pytest.FixtureRequest) -> AnsibleRunner:
    path = request.config.getoption("ansible_inventory")
    if not path:
        pytest.fail("run with --ansible-inventory=INVENTORY (molecule/split's verify does)")
    return AnsibleRunner(path)


@pytest.fixture(scope="session")
def layout(inventory: AnsibleRunner) -> Layout:
    def one(names: list[str], what: str) -> str:
        assert len(names) == 1, f"the split layout has one {what}, the inventory has {names}"
        return names[0]

    pfx = {
        n: inventory.get_variables(n).get("else_server_role")
        for n in inventory.get_hosts("pfx_servers")
    }
    backend = one(inventory.get_hosts("else_servers"), "backend (else_servers)")
    frontend = one(inventory.get_hosts("else_frontend"), "frontend (else_frontend)")
    names = [*pfx, backend, frontend]
    address = {n: str(inventory.get_variables(n).get("ansible_host", n)) for n in names}
    variables = inventory.get_variables(backend)
    return Layout(
        pfx_in=one([n for n, r in pfx.items() if r == "incoming"], "incoming PFX"),
        pfx_out=one([n for n, r in pfx.items() if r == "outgoing"], "outgoing PFX"),
        backend=backend,
        frontend=frontend,
        address=address,
        instance=str(variables["lab_instance"]),
        state=Path(str(variables["lab_state_dir"])),
    )


def _host(request: pytest.FixtureRequest, name: str):
    return testinfra.get_host(
        f"ansible://{name}",
        ansible_inventory=request.config.getoption("ansible_inventory"),
        connection="ansible",
    )


@pytest.fixture(scope="session")
def backend(layout: Layout, request: pytest.FixtureRequest):
    return _host(request, layout.backend)


@pytest.fixture(scope="session")
def frontend(layout: Layout, request: pytest.FixtureRequest):
    return _host(request, layout.frontend)


@pytest.fixture(scope="session")
def pfx_in(layout: Layout, request: pytest.FixtureRequest):
    return _host(request, layout.pfx_in)


@pytest.fixture(scope="session")
def pfx_out(layout: Layout, request: pytest.FixtureRequest):
    return _host(request, layout.pfx_out)


def sql(host, statement: str, **params: str) -> str:
    """One statement in database else as postgres on `host`; its unaligned output. Values go
    in as psql variables (``:'name'`` in the statement), never into the SQL text."""
    variables = " ".join(f"-v {shlex.quote(f'{k}={v}')}" for k, v in params.items())
    done = host.run(
        f"printf '%s\\n' {shlex.quote(statement)} | runuser -u postgres --"
        f" psql -X -q -At -v ON_ERROR_STOP=1 {variables} -d else"
    )
    assert done.rc == 0, f"{statement}: {done.stderr}"
    return done.stdout.strip()


def elsectl(host, *args: str) -> str:
    done = host.run(" ".join(shlex.quote(a) for a in (ELSECTL, *args)))
    assert done.rc == 0, f"elsectl {' '.join(args)}: {done.stderr}"
    return done.stdout


def emails(host, message_id: str) -> list[dict[str, Any]]:
    """The e-mails ELSE (on the backend) has for one Message-ID, as `elsectl search` prints them."""
    out = elsectl(host, "search", "--format", "json", "--message-id", message_id)
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def wait_for(predicate: Callable[[], Any], timeout: float, step: float = 0.5) -> float:
    """Poll until predicate() is true; return the seconds it took (fail after timeout)."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            pytest.fail(f"condition not met within {timeout:.0f} s")
        time.sleep(step)
    return time.monotonic() - start


def send(address: str, sender: str, rcpt: str, message_id: str, helo: str = "split.test") -> None:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = rcpt
    msg["Subject"] = f"ELSE split layout test {message_id}"
    msg["Message-ID"] = f"<{message_id}>"
    msg.set_content("Test mail from tests/infra_split.\n")
    with smtplib.SMTP(address, 25, local_hostname=helo, timeout=60) as smtp:
        smtp.send_message(msg)


def record(figure: str, **values: Any) -> None:
    """Print a measured figure and keep it for docs/scale.md (never asserted against a time)."""
    row = {"figure": figure, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **values}
    print(json.dumps(row))
    FIGURES.parent.mkdir(exist_ok=True)
    with FIGURES.open("a") as f:
        f.write(json.dumps(row) + "\n")


@pytest.fixture(scope="session")
def lab_link(layout: Layout) -> Callable[[str, str], None]:
    """Cut or restore a lab host's link with lab/lab.py (the controller owns the bridge)."""

    def link(host: str, state: str) -> None:
        cmd = [sys.executable, str(REPO / "lab/lab.py"), "-i", layout.instance, "link", host, state]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr

    return link


# -- the WUI and API on the frontend, over HTTPS -----------------------------------------------


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Web:
    """A browser's view of the WUI: cookies, the CSRF token of the last page, no redirects
    followed (the tests look at each 303)."""

    address: str
    ca: Path
    cookies: dict[str, str] = field(default_factory=dict)
    csrf: str | None = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        ctx = ssl.create_default_context(cafile=str(self.ca))
        conn = http.client.HTTPSConnection(self.address, 443, context=ctx, timeout=60)
        hdrs = dict(headers or {})
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn.request(method, path, body=body, headers=hdrs)
        raw = conn.getresponse()
        res = Response(raw.status, raw.read())
        conn.close()
        for value in raw.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0].strip('"')
        m = re.search(rb'name="csrf" value="([^"]+)"', res.body)
        if m:
            self.csrf = m.group(1).decode()
        return res

    def get(self, path: str, **params: Any) -> Response:
        if params:
            path += "?" + urllib.parse.urlencode(params, doseq=True)
        return self.request("GET", path)

    def post(self, path: str, data: dict[str, Any]) -> Response:
        form = {**data, "csrf": self.csrf or ""}
        body = urllib.parse.urlencode(form, doseq=True).encode()
        return self.request(
            "POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"}
        )

    def api(self, path: str, token: str, **params: Any) -> Response:
        if params:
            path += "?" + urllib.parse.urlencode(params, doseq=True)
        return self.request("GET", path, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture(scope="session")
def api_token(layout: Layout) -> str:
    return (layout.state / "secrets/wui_admin_api_token").read_text().strip()


@pytest.fixture
def wui(layout: Layout) -> Web:
    """A fresh browser session on the frontend's WUI, logged in as the admin.

    Log-ins write to the primary; after a test stopped it, the WUI waits RECHECK_SECONDS (10 s)
    before it tries the primary again, so the log-in is retried until then."""
    web = Web(layout.address[layout.frontend], layout.state / "pki/ca.pem")
    password = (layout.state / "secrets/wui_admin_password").read_text().strip()

    def logged_in() -> bool:
        web.get("/login")
        res = web.post("/login", {"username": "admin", "password": password, "tz": "UTC"})
        assert res.status in (303, 503), res.text[:500]
        return res.status == 303

    wait_for(logged_in, 60, 2.0)
    web.get("/search")  # a page with the session's CSRF token
    return web
