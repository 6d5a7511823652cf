"""A private, throwaway Postfix instance in a temp dir, bound to 127.0.0.1 only.

It is Debian's real Postfix (``postfix -c DIR``) with its own config, queue and data
directories and its own log file (``maillog_file`` through postlogd, so no syslog is
involved). Everything it sends goes to scripted peers on 127.0.0.1 (the relayhost and the
content filters); DNS is off. Timers are cut to seconds so deferral, retry and expiry all
happen within a test. Waiting is done by polling the queue (``postqueue -j``) and the log,
never by long sleeps.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

#: Daemons the instance runs; no chroot (the temp dir has no /etc copies), no TLS.
_MASTER_SERVICES = """\
pickup    unix  n       -       n       1       1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
filter    unix  -       -       n       -       4       smtp
    -o smtp_send_xforward_command=yes
    -o disable_mime_output_conversion=yes
"""


_HANDED_OUT: set[int] = set()
_HANDED_OUT_LOCK = threading.Lock()


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now, and never one this process got before.

    The port is released before the caller binds it, so the kernel may offer it again: one
    Postfix got the same port for smtpd and postscreen ("duplicate master.cf entry") and its
    postscreen test mail went straight to smtpd. Remembering what was handed out rules that out.
    """
    with _HANDED_OUT_LOCK:
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            if port not in _HANDED_OUT:
                _HANDED_OUT.add(port)
                return port


def wait_until(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.2) -> T:
    """Poll ``predicate`` until it is truthy; after ``timeout`` seconds, fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


@dataclass
class PostfixInstance:
    """One Postfix in ``root``; call :meth:`start` / :meth:`stop` (also a context manager).

    ``relay_port`` is the sink every non-local address goes to; ``filter_ports`` are the
    content filters a ``FILTER filter:[127.0.0.1]:PORT`` access-map action hands mail to;
    ``reinject_port`` is the second smtpd the filters re-inject into (XFORWARD allowed);
    ``postscreen_port`` has postscreen in front of smtpd, with ``postscreen_access`` (CIDR ->
    permit/reject; a denylisted client is refused at RCPT by postscreen itself).
    ``recipient_access`` maps a recipient to an access action (REJECT, DISCARD, HOLD, FILTER
    ...); ``warn_access`` is the same behind ``warn_if_reject`` (a REJECT there is only
    logged as ``reject_warning``); ``header_checks`` are regexp-table lines for cleanup;
    ``aliases`` is the local alias table.
    """

    root: Path
    relay_port: int
    hostname: str = "pfx.test"
    long_queue_ids: bool = False
    queue_lifetime: int = 15
    recipient_access: dict[str, str] = field(default_factory=dict)
    warn_access: dict[str, str] = field(default_factory=dict)
    header_checks: list[str] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)
    smtpd_port: int = field(default_factory=free_port)
    reinject_port: int = field(default_factory=free_port)
    postscreen_port: int = field(default_factory=free_port)
    postscreen_access: dict[str, str] = field(default_factory=dict)
    transports: dict[str, str] = field(default_factory=dict)  # domain -> transport:nexthop
    milter_port: int | None = None  # smtpd_milters=inet:127.0.0.1:PORT on the first smtpd
    policy_port: int | None = None  # check_policy_service inet:127.0.0.1:PORT at RCPT
    # postscreen's DNSBL: the resolver dnsblog asks (in its chroot) and postscreen_dnsbl_sites
    dnsbl_resolver: str | None = None
    dnsbl_sites: str = ""
    # postscreen's own mynetworks (its permit_mynetworks skips every test): None = global
    postscreen_mynetworks: str | None = None
    # SASL (Cyrus, sasldb) log-ins smtpd accepts: "user@realm" -> password.
    sasl_users: dict[str, str] = field(default_factory=dict)
    # Its own loopback address (any of 127/8) and the relayhost's: two instances on two
    # addresses are two servers to each other, not a host and its local content filter.
    address: str = "127.0.0.1"
    relay_address: str = "127.0.0.1"
    master_pid: int | None = None

    @property
    def config_dir(self) -> Path:
        return self.root / "etc"

    @property
    def queue_dir(self) -> Path:
        return self.root / "spool"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def mail_dir(self) -> Path:
        """Where local file deliveries (aliases to ``/path``) land."""
        return self.root / "mail"

    @property
    def maillog(self) -> Path:
        return self.root / "maillog"

    # -- configuration ----------------------------------------------------------------------
    def write_config(self) -> None:
        for d in (self.config_dir, self.queue_dir, self.data_dir, self.mail_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        shutil.chown(self.data_dir, "postfix")
        # local(8) writes alias file deliveries as default_privs (nobody).
        self.mail_dir.chmod(0o1777)
        self.maillog.touch()
        for table in ("recipient_access", "warn_access"):
            (self.config_dir / table).write_text(
                "".join(f"{k} {v}\n" for k, v in getattr(self, table).items())
            )
        (self.config_dir / "transport").write_text(
            "".join(f"{k} {v}\n" for k, v in self.transports.items())
        )
        (self.config_dir / "postscreen_access").write_text(
            "".join(f"{k} {v}\n" for k, v in self.postscreen_access.items())
        )
        (self.config_dir / "header_checks").write_text(
            "".join(f"{x}\n" for x in self.header_checks)
        )
        (self.config_dir / "aliases").write_text(
            f"postmaster {self.mail_dir}/postmaster\n"
            + "".join(f"{k} {v}\n" for k, v in self.aliases.items())
        )
        main = {
            "compatibility_level": "3.6",
            "queue_directory": str(self.queue_dir),
            "data_directory": str(self.data_dir),
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": self.hostname,
            "mydomain": self.hostname.partition(".")[2] or self.hostname,
            "myorigin": "$myhostname",
            "mydestination": "$myhostname",
            # (127.0.0.1 even for another ``address``: Postfix wants an interface's own
            # address here; the listeners below bind ``address`` by name.)
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "maillog_file": str(self.maillog),
            "maillog_file_prefixes": str(self.root),
            # Every non-local address goes to the sink on loopback; no DNS, ever.
            "relayhost": f"[{self.relay_address}]:{self.relay_port}",
            "transport_maps": f"texthash:{self.config_dir}/transport",
            "smtp_host_lookup": "native",
            "smtp_dns_support_level": "disabled",
            "lmtp_host_lookup": "native",
            "alias_maps": f"texthash:{self.config_dir}/aliases",
            "alias_database": "",
            "local_recipient_maps": "$alias_maps",
            "allow_mail_to_files": "alias",
            "default_privs": "nobody",
            "biff": "no",
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "smtpd_recipient_restrictions": (
                f"warn_if_reject check_recipient_access texthash:{self.config_dir}/warn_access, "
                f"check_recipient_access texthash:{self.config_dir}/recipient_access, "
                + (
                    f"check_policy_service inet:127.0.0.1:{self.policy_port}, "
                    if self.policy_port is not None
                    else ""
                )
                + "permit_mynetworks, reject_unauth_destination"
            ),
            "header_checks": f"regexp:{self.config_dir}/header_checks",
            "postscreen_access_list": (
                f"cidr:{self.config_dir}/postscreen_access, permit_mynetworks"
            ),
            "postscreen_denylist_action": "enforce",
            "postscreen_greet_wait": "1s",
            # Do not add Message-ID/Date to what SMTP clients send: the test decides.
            "local_header_rewrite_clients": "",
            "enable_long_queue_ids": "yes" if self.long_queue_ids else "no",
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            "maximal_queue_lifetime": f"{self.queue_lifetime}s",
            "bounce_queue_lifetime": f"{self.queue_lifetime}s",
            "delay_warning_time": "0h",
            "smtp_connect_timeout": "5s",
            "smtp_connection_cache_on_demand": "no",
            "smtpd_client_connection_rate_limit": "0",
        }
        if self.milter_port is not None:
            main["smtpd_milters"] = f"inet:127.0.0.1:{self.milter_port}"
        if self.sasl_users:
            main |= self._write_sasl()
        if self.dnsbl_resolver:
            main |= self._write_dnsbl()
        (self.config_dir / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in main.items()))
        smtpd = (
            f"{self.address}:{self.smtpd_port} inet n - n - - smtpd\n"
            f"{self.address}:{self.postscreen_port} inet n - n - 1 postscreen\n"
            + (
                f"    -o mynetworks={self.postscreen_mynetworks}\n"
                if self.postscreen_mynetworks
                else ""
            )
            + "smtpd     pass  -       -       n       -       -       smtpd\n"
            # Chrooted, as Debian runs it: it reads the resolver from the queue's etc/.
            "dnsblog   unix  -       -       y       -       0       dnsblog\n"
            "tlsproxy  unix  -       -       n       -       0       tlsproxy\n"
        )
        reinject = (
            f"{self.address}:{self.reinject_port} inet n - n - - smtpd\n"
            "    -o smtpd_recipient_restrictions=permit_mynetworks,reject\n"
            "    -o smtpd_authorized_xforward_hosts=127.0.0.0/8\n"
            "    -o smtpd_milters=\n"
            "    -o smtpd_sasl_auth_enable=no\n"
        )
        (self.config_dir / "master.cf").write_text(smtpd + reinject + _MASTER_SERVICES)

    def _write_resolver(self) -> None:
        """dnsblog's resolver: ``etc/resolv.conf`` in the queue directory, its chroot.

        Written after ``postfix start``: postfix-script's checks warn when a chroot copy
        differs from the host's /etc file, and dnsblog reads it only at its first lookup.
        """
        etc = self.queue_dir / "etc"
        etc.mkdir(exist_ok=True)
        (etc / "resolv.conf").write_text(
            f"nameserver {self.dnsbl_resolver}\noptions timeout:1 attempts:2\n"
        )

    def _write_dnsbl(self) -> dict[str, str]:
        return {
            "postscreen_dnsbl_sites": self.dnsbl_sites,
            "postscreen_dnsbl_action": "enforce",
        }

    def _write_sasl(self) -> dict[str, str]:
        """Cyrus SASL with its own sasldb (saslpasswd2, Debian's sasl2-bin); main.cf settings.

        smtpd reads ``smtpd.conf`` from ``cyrus_sasl_config_path`` (the application name is
        ``smtpd_sasl_path``), so nothing outside the instance's root is touched.
        """
        sasl_dir = self.config_dir / "sasl"
        sasl_dir.mkdir(exist_ok=True)
        db = sasl_dir / "sasldb2"
        db.unlink(missing_ok=True)
        for login, password in self.sasl_users.items():
            user, _, realm = login.partition("@")
            subprocess.run(
                ["saslpasswd2", "-f", str(db), "-p", "-c", "-u", realm or self.hostname, user],
                input=password,
                text=True,
                check=True,
                timeout=30,
            )
        # Root's, as postfix-script wants everything under config_dir; smtpd reads it as group.
        shutil.chown(db, "root", "postfix")
        db.chmod(0o640)
        (sasl_dir / "smtpd.conf").write_text(
            f"pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: {db}\n"
            "mech_list: PLAIN LOGIN\n"
        )
        return {
            "smtpd_sasl_auth_enable": "yes",
            "smtpd_sasl_type": "cyrus",
            "smtpd_sasl_path": "smtpd",
            "cyrus_sasl_config_path": str(sasl_dir),
            "smtpd_sasl_security_options": "noanonymous",
        }

    # -- life cycle ---------------------------------------------------------------------------
    def postfix(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        res = subprocess.run(
            ["postfix", "-c", str(self.config_dir), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if check and res.returncode != 0:
            raise RuntimeError(
                f"postfix -c {self.config_dir} {' '.join(args)} exited {res.returncode}: "
                f"{(res.stderr or res.stdout).strip()}\n(log: {self.maillog})"
            )
        return res

    def start(self) -> PostfixInstance:
        self.write_config()
        self.postfix("check")
        self.postfix("start")
        if self.dnsbl_resolver:
            self._write_resolver()
        pid_file = self.queue_dir / "pid" / "master.pid"
        wait_until(lambda: pid_file.exists() and pid_file.read_text().strip(), 20, "master.pid")
        self.master_pid = int(pid_file.read_text().split()[0])
        # Wait for the listeners without connecting (a probe would log a session of its own).
        for port in (self.smtpd_port, self.reinject_port, self.postscreen_port):
            wait_until(
                lambda p=port: _listening(p, self.address),
                20,
                f"a listener on {self.address}:{port}",
            )
        return self

    def stop(self) -> None:
        """``postfix stop``; if the master outlives it, end it (and only it) by its PID.

        postlogd writes asynchronously and dies with the master, so first wait for a pause
        in the log (retries come every second, postlogd writes within milliseconds): what
        was logged before the stop is then on disk.
        """
        pid_file = self.queue_dir / "pid" / "master.pid"
        if self.master_pid is None and pid_file.exists():  # start() failed half-way
            with contextlib.suppress(ValueError, IndexError, OSError):
                self.master_pid = int(pid_file.read_text().split()[0])
        if self.master_pid is None:
            return
        with contextlib.suppress(TimeoutError):
            self.wait_log_quiet(0.3, timeout=10)
        self.postfix("stop", check=False)
        try:
            wait_until(lambda: not _alive(self.master_pid), 15, "the master to exit")
        except TimeoutError:
            os.kill(self.master_pid, signal.SIGKILL)
        self.master_pid = None

    def __enter__(self) -> PostfixInstance:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- driving it ---------------------------------------------------------------------------
    def smtp(self, *, postscreen: bool = False, source: str = "127.0.0.1") -> smtplib.SMTP:
        """An SMTP client session from ``source`` (any 127/8 address) to smtpd or postscreen."""
        port = self.postscreen_port if postscreen else self.smtpd_port
        return smtplib.SMTP(
            self.address, port, "client.test", timeout=30, source_address=(source, 0)
        )

    def sendmail(self, sender: str, recipients: Iterable[str], message: bytes) -> None:
        """Local submission through ``sendmail -C DIR`` (postdrop -> maildrop -> pickup)."""
        subprocess.run(
            ["sendmail", "-C", str(self.config_dir), "-f", sender, "-i", "--", *recipients],
            input=message,
            check=True,
            timeout=30,
        )

    def postsuper(self, *args: str) -> str:
        res = subprocess.run(
            ["postsuper", "-c", str(self.config_dir), *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return res.stdout + res.stderr

    def flush(self) -> None:
        subprocess.run(["postqueue", "-c", str(self.config_dir), "-f"], check=True, timeout=30)

    def queue(self) -> list[dict[str, Any]]:
        """The queue as ``postqueue -j`` reports it (one dict per message)."""
        res = subprocess.run(
            ["postqueue", "-c", str(self.config_dir), "-j"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return [json.loads(line) for line in res.stdout.splitlines() if line.strip()]

    def log(self) -> str:
        return self.maillog.read_text(errors="replace")

    def wait_log(self, pattern: str, timeout: float = 30, count: int = 1) -> list[re.Match[str]]:
        """Wait until ``pattern`` (a multiline regex) matches ``count`` times in the log."""
        rx = re.compile(pattern, re.MULTILINE)

        def found() -> list[re.Match[str]]:
            hits = list(rx.finditer(self.log()))
            return hits if len(hits) >= count else []

        return wait_until(found, timeout, f"{count} x /{pattern}/ in {self.maillog}")

    def wait_log_quiet(self, quiet: float, timeout: float) -> None:
        """Wait until the log file has not grown for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        size, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            now = self.maillog.stat().st_size
            if now != size:
                size, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return
            time.sleep(0.1)
        raise TimeoutError(f"{self.maillog} kept growing for {timeout:.0f}s")

    def wait_queue(
        self, predicate: Callable[[list[dict[str, Any]]], Any], timeout: float, what: str
    ) -> list[dict[str, Any]]:
        def check() -> list[dict[str, Any]] | None:
            q = self.queue()
            return (q or [{}]) if predicate(q) else None

        return wait_until(check, timeout, what, interval=0.3)


class TempfailMilter:
    """``tests/support/tempfail_milter.py`` as its own process (system Python, which has
    python3-milter), on 127.0.0.1:``port``; stopped by its PID."""

    SCRIPT = Path(__file__).resolve().with_name("tempfail_milter.py")
    PYTHON = "/usr/bin/python3"

    def __init__(self) -> None:
        self.port = 0  # chosen at start
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, tries: int = 5) -> TempfailMilter:
        """Start it on a free port. Other test runs on this machine may take the port
        between our pick and the milter's bind, so the listener must be our process's
        (Postfix once talked to someone else's server there); else try another port."""
        errors = []
        for _ in range(tries):
            self.port = free_port()
            proc = subprocess.Popen(
                [self.PYTHON, str(self.SCRIPT), str(self.port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )

            def up(proc: subprocess.Popen[bytes] = proc) -> str:
                if proc.poll() is not None:
                    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                    return f"exited {proc.returncode}: {err.strip()[-300:]}"
                return "ok" if _listening_pid(self.port, proc.pid) else ""

            outcome = wait_until(up, 20, f"the test milter on 127.0.0.1:{self.port}")
            if outcome == "ok":
                self.proc = proc
                return self
            errors.append(f"port {self.port}: {outcome}")
        raise RuntimeError(f"the test milter did not start: {errors}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None


def _listening_pid(port: int, pid: int) -> bool:
    """Whether process ``pid`` is the one listening on 127.0.0.1:``port``."""
    want = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as fh:
        inodes = {
            fields[9]
            for fields in (line.split() for line in fh.readlines()[1:])
            if fields[1] == want and fields[3] == "0A"
        }
    if not inodes:
        return False
    fd_dir = Path(f"/proc/{pid}/fd")
    with contextlib.suppress(OSError):
        for fd in fd_dir.iterdir():
            with contextlib.suppress(OSError):
                link = os.readlink(fd)
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return True
    return False


def _listening(port: int, address: str = "127.0.0.1") -> bool:
    """Whether something listens on ``address``:``port`` (read from /proc, no connection made)."""
    hexaddr = "".join(f"{int(x):02X}" for x in reversed(address.split(".")))
    want = f"{hexaddr}:{port:04X}"
    with open("/proc/net/tcp") as fh:
        return any(
            fields[1] == want and fields[3] == "0A"
            for fields in (line.split() for line in fh.readlines()[1:])
        )


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes (its parent is not us).
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


_CLASSIC = re.compile(r"^([A-Z][a-z]{2}) ([ \d]\d) (\d\d):(\d\d):(\d\d) ")
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


def classic_to_rfc3339(text: str, year: int) -> str:
    """The same log with RFC 3339 stamps in this machine's zone, as rsyslog would write it.

    ``maillog_file`` writes classic ``Mmm dd HH:MM:SS`` stamps; ELSE's production path
    (rsyslog) carries RFC 3339, so the tests feed both forms of the one log.
    """
    out = []
    for line in text.splitlines(keepends=True):
        m = _CLASSIC.match(line)
        if m is None:
            out.append(line)
            continue
        mon, day, hh, mm, ss = m.groups()
        local = datetime(year, _MONTHS[mon], int(day), int(hh), int(mm), int(ss)).astimezone()
        out.append(local.isoformat(timespec="microseconds") + " " + line[m.end() :])
    return "".join(out)
