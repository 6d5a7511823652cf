"""Fixtures for the testinfra suite: the hosts of the inventory Molecule (or you) passes.

Run by Molecule's verify step (molecule/default/verify.yml) as
``pytest --connection=ansible --ansible-inventory=INVENTORY tests/infra``; against the lab by
hand with a rendered inventory the same way. Modules pick their hosts with
``testinfra_hosts = ["ansible://<group>"]``; these fixtures reach the *other* side (a PFX test
that needs the ELSE host, and back).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import testinfra
from testinfra.utils.ansible_runner import AnsibleRunner

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def inventory(request: pytest.FixtureRequest) -> AnsibleRunner:
    path = request.config.getoption("ansible_inventory")
    if not path:
        pytest.fail("run with --ansible-inventory=INVENTORY (Molecule's verify step does)")
    return AnsibleRunner(path)


def _group_host(inventory: AnsibleRunner, request: pytest.FixtureRequest, group: str):
    names = inventory.get_hosts(group)
    assert names, f"the inventory has no host in {group}"
    return testinfra.get_host(
        f"ansible://{names[0]}",
        ansible_inventory=request.config.getoption("ansible_inventory"),
        connection="ansible",
    )


@pytest.fixture(scope="session")
def else_host(inventory: AnsibleRunner, request: pytest.FixtureRequest):
    """The ELSE host (exactly one in every inventory)."""
    return _group_host(inventory, request, "else_servers")


@pytest.fixture(scope="session")
def pfx_host(inventory: AnsibleRunner, request: pytest.FixtureRequest):
    """The first PFX host."""
    return _group_host(inventory, request, "pfx_servers")


@pytest.fixture(scope="session")
def else_address(inventory: AnsibleRunner) -> str:
    name = inventory.get_hosts("else_servers")[0]
    return str(inventory.get_variables(name).get("ansible_host", name))


def run_python(host, code: str, *args: str):
    """Run a Python snippet with the host's Debian python3 (no curl/openssl in a minimal host)."""
    return host.run("python3 -c " + " ".join(shlex.quote(a) for a in (code, *args)))


@pytest.fixture(scope="session")
def psql_as_postgres(else_host) -> Callable[[str], str]:
    """Run one SQL statement in database else as the postgres superuser; return its output."""

    def run(statement: str) -> str:
        cmd = else_host.run("runuser -u postgres -- psql -X -q -At -d else -c %s", statement)
        assert cmd.rc == 0, cmd.stderr
        return cmd.stdout.strip()

    return run


@pytest.fixture(scope="session")
def dsns(else_host) -> dict[str, str]:
    """The DSNs of else.toml, plus one for else_rsyslog read from its rsyslog config."""
    toml = run_python(
        else_host,
        "import json,tomllib;print(json.dumps(tomllib.load(open('/etc/else/else.toml','rb'))['database']))",
    )
    assert toml.rc == 0, toml.stderr
    db = json.loads(toml.stdout)
    conf = else_host.file("/etc/rsyslog.d/50-else-receive.conf").content_string
    pwd = conf.split('pwd="', 1)[1].split('"', 1)[0]
    return {
        "else_worker": db["dsn"],
        "else_owner": db["owner_dsn"],
        "else_web": db["web_dsn"],
        "else_rsyslog": f"host=127.0.0.1 dbname=else user=else_rsyslog password='{pwd}'",
    }


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0, step: float = 0.5) -> float:
    """Poll until predicate() is true; return the seconds it took (fail after timeout)."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            pytest.fail(f"condition not met within {timeout:.0f} s")
        time.sleep(step)


# -- the PFX side of the reliability and reconciliation tests ---------------------------------


@dataclass(frozen=True)
class Pfx:
    address: str
    recipient: str


@pytest.fixture(scope="module")
def pfx(inventory, host) -> Pfx:
    # The PFX under test (each one in turn when the inventory has several).
    name = host.backend.get_hostname()
    hostvars = inventory.get_variables(name)
    users = hostvars.get("postfix_local_users") or []
    assert users, "the inventory names no postfix_local_users: no local mailbox to deliver to"
    domain = host.check_output("postconf -h myhostname")
    return Pfx(str(hostvars.get("ansible_host", name)), f"{users[0]['name']}@{domain}")


@pytest.fixture(scope="module")
def lab_link(inventory) -> Callable[[str, str], None]:
    """Cut or restore a lab host's link with lab/lab.py (the controller owns the bridge)."""
    name = inventory.get_hosts("else_servers")[0]
    instance = inventory.get_variables(name).get("lab_instance")
    assert instance, "the inventory has no lab_instance: link cuts need the local lab"

    def link(host: str, state: str) -> None:
        cmd = [sys.executable, str(REPO / "lab" / "lab.py"), "-i", instance, "link", host, state]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr

    return link
