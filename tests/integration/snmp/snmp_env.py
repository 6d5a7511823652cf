"""A real snmpd and a real Postfix on loopback, configured from the snmpd role itself.

* Postfix: Debian's own binaries with a private config/queue in a temp dir
  (``MAIL_CONFIG``). Every message goes to a relay on a closed loopback port, so it is
  deferred ("connection refused") and stays put: a real queue to list, hold and release.
  No DNS, no network beyond 127.0.0.1.
* snmpd: the role's templates rendered with jinja2 (the role's defaults and vars plus the
  test values below) into a temp dir; ``SNMPCONFPATH``/``SNMP_PERSISTENT_DIR`` point there,
  so /etc/snmp and /var/lib/snmp are never read or written. It runs as root (as the test
  does), and the role's scripts run from roles/snmpd/files unchanged. The one difference
  from a PFX: ``snmpd_ctl_command`` calls the root wrapper directly instead of through
  ``sudo -n`` (sudo's env_reset would drop MAIL_CONFIG, which points the wrapper's
  postsuper/postqueue at the throwaway Postfix). The sudoers template is checked by visudo.
Both daemons are stopped by PID.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

ROLE = Path(__file__).resolve().parents[3] / "roles" / "snmpd"
USER, AUTH_PASS, PRIV_PASS = "elsemgr", "auth-pass-test-1", "priv-pass-test-1"

MASTER_CF = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.1)


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("the snmpd integration tests start snmpd and Postfix as root: use `make test`")
    for tool in ("snmpd", "postfix", "postsuper", "postqueue", "sendmail", "visudo"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            pytest.fail(f"{tool} is missing: `make deps-test` installs snmpd, postfix and sudo")


# -- Postfix --------------------------------------------------------------------------------


@dataclass
class Postfix:
    root: Path

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "MAIL_CONFIG": str(self.root / "etc")}

    def run(self, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, input=stdin, env=self.env, capture_output=True, text=True, timeout=30, check=True
        )

    def queue(self) -> list[dict[str, Any]]:
        import json

        out = self.run("/usr/sbin/postqueue", "-j").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def submit(self, recipient: str) -> str:
        """Send one message; return its queue ID once it sits in the deferred queue."""
        before = {m["queue_id"] for m in self.queue()}
        self.run(
            "/usr/sbin/sendmail",
            "-f",
            "sender@pfx.test",
            recipient,
            stdin=f"Subject: snmp test\nTo: {recipient}\n\nhello\n",
        )

        def deferred() -> str | None:
            for m in self.queue():
                if m["queue_id"] not in before and m["queue_name"] == "deferred":
                    return m["queue_id"]
            return None

        return wait_for(deferred, 20, f"a deferred message to {recipient}")

    def queue_of(self, queue_id: str) -> str | None:
        return next((m["queue_name"] for m in self.queue() if m["queue_id"] == queue_id), None)

    @property
    def master_pid(self) -> int:
        return int((self.root / "spool" / "pid" / "master.pid").read_text().split()[0])


# -- snmpd ----------------------------------------------------------------------------------


def _comment(text: str) -> str:
    return "\n".join(f"# {line}" if line else "#" for line in str(text).splitlines())


def role_context(**values: Any) -> dict[str, Any]:
    """The role's defaults and vars with ``values`` on top, templated values resolved."""
    ctx: dict[str, Any] = {}
    for part in ("defaults", "vars"):
        ctx.update(yaml.safe_load((ROLE / part / "main.yml").read_text()) or {})
    ctx.update(values)
    ctx["ansible_managed"] = "Ansible managed (rendered by tests/integration/snmp)"
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)  # noqa: S701 - config text, not HTML
    for _ in range(3):  # defaults refer to other defaults
        for key, value in list(ctx.items()):
            if key not in values and isinstance(value, str) and "{{" in value:
                ctx[key] = env.from_string(value).render(ctx)
    return ctx


def render(template: str, ctx: dict[str, Any]) -> str:
    env = jinja2.Environment(  # noqa: S701 - config files, not HTML
        loader=jinja2.FileSystemLoader(ROLE / "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["comment"] = _comment
    return env.get_template(template).render(ctx)


@dataclass
class Snmpd:
    root: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def conf(self) -> Path:
        return self.root / "etc" / "snmpd.conf"

    def start(self, env: dict[str, str]) -> None:
        persist = self.root / "persist"
        env = {
            **env,
            "SNMPCONFPATH": f"{self.root / 'etc'}:{persist}",
            "SNMP_PERSISTENT_DIR": str(persist),
            "MIBS": "",
        }
        self.proc = subprocess.Popen(
            [
                "/usr/sbin/snmpd",
                "-f",
                "-Lf",
                str(self.root / "snmpd.log"),
                "-I",
                "-smux,mteTrigger,mteTriggerConf",
                "-p",
                str(self.root / "snmpd.pid"),
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(10)
        self.proc = None
        return rc

    def log(self) -> str:
        path = self.root / "snmpd.log"
        return path.read_text(errors="replace") if path.exists() else ""


def write_snmpd_config(root: Path, port: int, **values: Any) -> dict[str, Any]:
    files = ROLE / "files"
    test_values: dict[str, Any] = {
        "snmpd_listen_address": "127.0.0.1",
        "snmpd_port": port,
        "snmpd_allowed_managers": ["127.0.0.1"],
        "snmpd_v3_user": USER,
        "snmpd_v3_auth_pass": AUTH_PASS,
        "snmpd_v3_priv_pass": PRIV_PASS,
        "snmpd_contact": "postmaster@pfx.test",
        "snmpd_script_dir": str(files),
        "snmpd_ctl_command": f"/usr/bin/python3 {files / 'else-postfix-ctl'}",
        "snmpd_stats_cache_time": 1,  # short caches: tests wait for fresh figures
        "snmpd_queue_list_cache_time": 1,
        "__snmpd_conf_d_dir": str(root / "etc" / "snmpd.conf.d"),
    }
    ctx = role_context(**(test_values | values))
    (root / "etc" / "snmpd.conf.d").mkdir(parents=True, exist_ok=True)
    (root / "persist").mkdir(exist_ok=True)
    (root / "etc" / "snmpd.conf").write_text(render("etc/snmp/snmpd.conf.j2", ctx))
    (root / "etc" / "snmpd.conf.d" / "10-else-users.conf").write_text(
        render("etc/snmp/snmpd.conf.d/10-else-users.conf.j2", ctx)
    )
    return ctx


def start_snmpd(root: Path, postfix: Postfix, **values: Any) -> Snmpd:
    from else_core.snmp import SnmpManager, SnmpTarget
    from else_core.snmp.client import run

    port = values.pop("port", None) or free_port()
    write_snmpd_config(root, port, **values)
    agent = Snmpd(root, port)
    agent.start(postfix.env)
    target = SnmpTarget("pfx", "127.0.0.1", USER, AUTH_PASS, PRIV_PASS, port=port, timeout=0.5)

    async def answers() -> bool:
        async with SnmpManager() as m:
            try:
                await m.get(target, ["1.3.6.1.2.1.1.3.0"])
            except Exception:
                return False
            return True

    def up() -> bool:
        assert agent.proc is not None
        if agent.proc.poll() is not None:
            raise RuntimeError(f"snmpd exited {agent.proc.returncode}:\n{agent.log()}")
        return run(answers())

    try:
        wait_for(up, 15, "snmpd to answer")
    except BaseException:
        if agent.proc is not None and agent.proc.poll() is None:
            agent.stop()
        raise
    return agent


# -- PostgreSQL (for the poller and the audit log) ---------------------------------------------

PG_BIN = Path("/usr/lib/postgresql/15/bin")
DB_ROLES = ("else_owner", "else_rsyslog", "else_worker", "else_web")


@dataclass
class Pg:
    port: int

    def dsn(self, user: str = "else_worker", dbname: str = "else") -> str:
        return f"host=127.0.0.1 port={self.port} dbname={dbname} user={user}"
