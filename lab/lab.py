#!/usr/bin/env python3
"""The ELSE lab: Debian 12 hosts as systemd-nspawn containers on a private bridge.

Why this shape (measured facts in /work/shared/reference/lab-notes.md):
- systemd-nspawn -b gives each host a real systemd, so the roles manage services exactly as on a
  production Debian server; `--register=no --keep-unit` because this machine's PID 1 is not systemd.
- One network namespace per host, joined by veth to a bridge the lab owns; the hosts' default route
  points at an address nobody owns, so nothing leaves the lab.
- The root filesystem is built once with debootstrap (through the lab's apt-cacher-ng, so the .debs
  are cached too) and shared read-only as the lower layer of one overlayfs per host.
- Every process the lab starts is recorded (PID + kernel start time, so a reused PID is never
  killed) and teardown ends only those, then removes every mount, cgroup, namespace and link
  it made.

Instances ("lab" for `make lab`, "mol" and "mols" for the two Molecule scenarios) use disjoint parts
of 198.18.0.0/24 (a /25 and two /26) and prefixed names, so all can run side by side. A profile
picks the hosts: "default" (pfx + else) or "split" (pfx-in, pfx-out, the backend else and the
frontend else-front; docs/scale.md). Stdlib only; runs as root.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import hashlib
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LAB_DIR = REPO / "lab"
DEFAULT_CACHE = Path(os.environ.get("LAB_CACHE", "/var/cache/else-lab"))
DEFAULT_STATE = Path(os.environ.get("LAB_STATE", REPO / ".lab"))

# The image: minbase plus what Ansible and a systemd boot need. Changing this list (or IMAGE_REV)
# changes the image hash, so a stale cached image is never reused.
IMAGE_SUITE = "bookworm"
IMAGE_MIRROR = "http://deb.debian.org/debian"
IMAGE_PACKAGES = [
    "openssh-server",
    "python3",
    "python3-apt",
    "systemd-sysv",
    "dbus",
    "iproute2",
    "procps",
    "sudo",
    "ca-certificates",
    "iputils-ping",
    "less",
]
IMAGE_REV = "3"
# Timers that would take the dpkg lock behind Ansible's back in the middle of a converge.
MASKED_UNITS = (
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "dpkg-db-backup.timer",
    "e2scrub_all.timer",
    "fstrim.timer",
    "systemd-timesyncd.service",
)

ACNG_PORT = 3142
SINK_PORT = 25


@dataclasses.dataclass(frozen=True)
class Instance:
    """One lab instance: its name, its network, the offsets of the well-known addresses in it,
    and the profile it runs when none is asked for."""

    name: str
    network: ipaddress.IPv4Network
    default_profile: str = "default"

    def addr(self, offset: int) -> str:
        return str(self.network.network_address + offset)

    @property
    def prefixlen(self) -> int:
        return self.network.prefixlen

    @property
    def bridge_ip(self) -> str:
        return self.addr(1)

    @property
    def gateway(self) -> str:
        """The default route of every host: the last usable address, which nobody owns."""
        return self.addr(self.network.num_addresses - 2)

    @property
    def sink_ip(self) -> str:
        return self.addr(20)

    @property
    def domain(self) -> str:
        return f"{self.name}.test"

    def ifname(self, what: str) -> str:
        """Interface / namespace names: `else-<instance>-<what>`, at most 15 characters."""
        name = f"else-{self.name}-{what}"
        if len(name) > 15:
            raise SystemExit(f"lab: interface name {name!r} is longer than 15 characters")
        return name

    @property
    def bridge(self) -> str:
        return self.ifname("br")


# "mol" was 198.18.0.128/25 until the split scenario needed room of its own: its hosts keep their
# addresses (.138, .139, sink .148), only its void gateway moved from .254 to .190.
INSTANCES = {
    "lab": Instance("lab", ipaddress.IPv4Network("198.18.0.0/25")),
    "mol": Instance("mol", ipaddress.IPv4Network("198.18.0.128/26")),
    "mols": Instance("mols", ipaddress.IPv4Network("198.18.0.192/26"), "split"),
}

PROFILES = ("default", "split")


@dataclasses.dataclass(frozen=True)
class Host:
    """One lab host: inventory name, address offset in the instance's network, inventory group,
    and the short tag its namespace and veth are named by (interface names have 15 characters:
    `else-mols-pfx-out` would not fit, `else-mols-pout` does)."""

    name: str
    offset: int
    group: str
    tag: str = ""
    # A PFX host's else_server_role (what its inventory says).
    server_role: str = ""

    @property
    def ifname_tag(self) -> str:
        return self.tag or self.name


def host_list(extra_pfx: int, profile: str = "default") -> list[Host]:
    if profile == "split":
        if extra_pfx:
            raise SystemExit("lab: the split profile has no extra PFX hosts (--extra-pfx)")
        # The backend keeps the name "else": it is the else_servers host everything aimed at
        # "the ELSE host" finds (RELP target, SNMP manager, lab/wait-searchable).
        return [
            Host("pfx-in", 10, "pfx_servers", "pin", "incoming"),
            Host("else", 11, "else_backend"),
            Host("pfx-out", 12, "pfx_servers", "pout", "outgoing"),
            Host("else-front", 13, "else_frontend", "front"),
        ]
    hosts = [Host("pfx", 10, "pfx_servers", server_role="mixed"), Host("else", 11, "else_servers")]
    hosts += [
        Host(f"pfx{i + 2}", 12 + i, "pfx_servers", server_role="mixed") for i in range(extra_pfx)
    ]
    return hosts


# ----------------------------------------------------------------------------- output helpers

_T0 = time.monotonic()


def say(msg: str) -> None:
    """Progress on stderr with the elapsed time, so `make lab` shows where the time goes."""
    print(f"lab [{time.monotonic() - _T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


def run(*cmd: str, check: bool = True, quiet: bool = False, **kw) -> subprocess.CompletedProcess:
    if not quiet:
        say("$ " + " ".join(cmd))
    return subprocess.run(cmd, check=check, **kw)


def out(*cmd: str) -> str:
    return subprocess.run(cmd, check=False, capture_output=True, text=True).stdout


# ----------------------------------------------------------------------------- process records


def proc_starttime(pid: int) -> str | None:
    """Kernel start time of a live (non-zombie) process, None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):  # PID 1 here reaps slowly: a zombie is already dead for us
        return None
    return fields[19]


class Lab:
    """All operations of one instance; state under <state>/<instance>/."""

    def __init__(
        self,
        inst: Instance,
        state: Path,
        cache: Path,
        extra_pfx: int = 0,
        profile: str | None = None,
    ) -> None:
        self.inst = inst
        self.cache = cache
        self.dir = state / inst.name
        self.pids = self.dir / "pids"
        self.ssh_dir = self.dir / "ssh"
        self.key = self.ssh_dir / "id_ed25519"
        self.known_hosts = self.ssh_dir / "known_hosts"
        self.extra_pfx = extra_pfx
        self.profile_file = self.dir / "profile"
        self.running_profile = self.recorded_profile()
        self.profile = profile or self.running_profile or inst.default_profile

    # -- bookkeeping

    def recorded_profile(self) -> str | None:
        """The profile of the hosts that exist now (written by `up`, removed by `down`)."""
        try:
            return self.profile_file.read_text().strip() or None
        except OSError:
            return None

    def check_profile(self) -> None:
        """Refuse to mix profiles in one instance: the hosts of the other one would be orphaned."""
        running, hosts = self.running_profile, self.dir / "hosts"
        if running and running != self.profile and hosts.is_dir() and any(hosts.iterdir()):
            raise SystemExit(
                f"lab: instance {self.inst.name} runs the {running} profile; "
                f"run `make lab-down` before asking for the {self.profile} profile"
            )

    def hosts(self) -> list[Host]:
        """Configured hosts plus any extra host still recorded from an earlier `up --extra-pfx`."""
        hosts = host_list(self.extra_pfx, self.profile)
        names = {h.name for h in hosts}
        if self.dir.joinpath("hosts").is_dir():
            for d in sorted(self.dir.joinpath("hosts").iterdir()):
                if d.name.startswith("pfx") and d.name[3:].isdigit() and d.name not in names:
                    hosts.append(Host(d.name, 10 + int(d.name[3:]), "pfx_servers", "", "mixed"))
        return hosts

    def record(self, name: str, pid: int, what: str) -> None:
        self.pids.mkdir(parents=True, exist_ok=True)
        start = proc_starttime(pid)
        rec = {"pid": pid, "start": start, "what": what}
        (self.pids / f"{name}.json").write_text(json.dumps(rec) + "\n")

    def recorded(self, name: str) -> int | None:
        """The recorded PID if that very process still runs, else None (and the record goes)."""
        f = self.pids / f"{name}.json"
        try:
            rec = json.loads(f.read_text())
        except (OSError, ValueError):
            return None
        if rec.get("start") and proc_starttime(rec["pid"]) == rec["start"]:
            return int(rec["pid"])
        return None

    def stop_recorded(self, *names: str, timeout: float = 20.0) -> None:
        """TERM the recorded processes together, KILL what still runs after `timeout`, forget them.

        Together, because a host's shutdown may wait for another host (rsyslog flushing to ELSE).
        """
        live: dict[str, tuple[int, str]] = {}
        for name in names:
            f = self.pids / f"{name}.json"
            pid = self.recorded(name)
            if pid is None:
                f.unlink(missing_ok=True)
                continue
            rec = json.loads(f.read_text())
            live[name] = (pid, rec["start"])
            say(f"stopping {name} (pid {pid}, {rec['what']})")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

        def running() -> list[str]:
            return [n for n, (pid, start) in live.items() if proc_starttime(pid) == start]

        deadline = time.monotonic() + timeout
        while running() and time.monotonic() < deadline:
            time.sleep(0.1)
        for name in running():
            pid = live[name][0]
            say(f"{name} (pid {pid}) still runs {timeout:.0f}s after TERM: KILL")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        while running():
            time.sleep(0.1)
        for name in live:
            (self.pids / f"{name}.json").unlink(missing_ok=True)

    @contextlib.contextmanager
    def locked(self):
        """One `up`/`down` per instance at a time (Molecule and a user may race)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    # -- network

    def netns_exists(self, ns: str) -> bool:
        return Path("/run/netns", ns).exists()

    def link_exists(self, name: str) -> bool:
        return (
            run(
                "ip", "link", "show", "dev", name, check=False, quiet=True, capture_output=True
            ).returncode
            == 0
        )

    def bridge_owner(self) -> str | None:
        """The state dir that made this instance's bridge (kept in the link's alias), if any."""
        r = subprocess.run(
            ["ip", "-j", "link", "show", "dev", self.inst.bridge],
            capture_output=True,
            text=True,
            check=False,
        )
        if r.returncode != 0:
            return None
        return json.loads(r.stdout)[0].get("ifalias", "")

    def check_owner(self) -> None:
        """Refuse to touch an instance that another checkout (another .lab/) runs."""
        owner = self.bridge_owner()
        if owner and owner != str(self.dir) and os.environ.get("LAB_FORCE") != "1":
            raise SystemExit(
                f"lab: instance {self.inst.name} is run by another checkout ({owner}); "
                f"run `make lab-down` there first (or LAB_FORCE=1 to take it over)"
            )

    def bridge_up(self) -> None:
        br = self.inst.bridge
        if not self.link_exists(br):
            run("ip", "link", "add", br, "type", "bridge")
        run("ip", "link", "set", "dev", br, "alias", str(self.dir), quiet=True)
        run("ip", "addr", "replace", f"{self.inst.bridge_ip}/{self.inst.prefixlen}", "dev", br)
        run("ip", "link", "set", br, "up", quiet=True)

    def netns_up(self, what: str, ip: str) -> str:
        """A namespace with eth0 = ip on the bridge, lo up, default route to the void."""
        ns = self.inst.ifname(what)
        veth = ns
        if self.netns_exists(ns) and self.link_exists(veth):
            return ns
        self.netns_down(what)  # half-made leftovers (lab-notes gotcha 11)
        run("ip", "netns", "add", ns)
        run("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
        run("ip", "link", "set", veth, "master", self.inst.bridge, "up", quiet=True)
        run("ip", "-n", ns, "addr", "add", f"{ip}/{self.inst.prefixlen}", "dev", "eth0")
        run("ip", "-n", ns, "link", "set", "lo", "up", quiet=True)
        run("ip", "-n", ns, "link", "set", "eth0", "up", quiet=True)
        run("ip", "-n", ns, "route", "add", "default", "via", self.inst.gateway)
        return ns

    def netns_down(self, what: str) -> None:
        ns = self.inst.ifname(what)
        if self.netns_exists(ns):
            run("ip", "netns", "del", ns)
        if self.link_exists(ns):
            # Deleting the namespace removes its veth pair asynchronously: it may be gone by now.
            run("ip", "link", "del", ns, check=False, stderr=subprocess.DEVNULL)

    # -- apt-cacher-ng

    def acng_up(self) -> None:
        if self.recorded("acng"):
            say(f"apt-cacher-ng already running on {self.inst.bridge_ip}:{ACNG_PORT}")
            return
        conf = self.dir / "acng"
        cache = self.cache / f"acng-{self.inst.name}"
        for d in (conf / "log", cache):
            d.mkdir(parents=True, exist_ok=True)
        # ForceManaged: only the Debian archives below are proxied (403 for anything else); the
        # backend is the mirror this machine's own apt sources use (the stock one does not resolve).
        (conf / "backends_debian").write_text(IMAGE_MIRROR + "/\n")
        (conf / "acng.conf").write_text(
            "\n".join(
                [
                    f"CacheDir: {cache}",
                    f"LogDir: {conf / 'log'}",
                    "SupportDir: /usr/lib/apt-cacher-ng",
                    f"SocketPath: {conf / 'socket'}",
                    f"BindAddress: {self.inst.bridge_ip}",
                    f"Port: {ACNG_PORT}",
                    "Remap-debrep: file:deb_mirror*.gz /debian ; file:backends_debian",
                    "Remap-secdeb: security.debian.org security.debian.org/debian-security "
                    "deb.debian.org/debian-security /debian-security ; "
                    "deb.debian.org/debian-security",
                    "ForceManaged: 1",
                    "ReportPage: acng-report.html",
                    "ExThreshold: 4",
                    "UnbufferLogs: 1",
                    "",
                ]
            )
        )
        say(f"starting apt-cacher-ng on {self.inst.bridge_ip}:{ACNG_PORT} (cache {cache})")
        with open(conf / "log" / "stdout.log", "ab") as log:
            p = subprocess.Popen(
                ["apt-cacher-ng", "-c", str(conf), "ForeGround=1"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        self.record("acng", p.pid, "apt-cacher-ng")
        if not wait_tcp(self.inst.bridge_ip, ACNG_PORT, 15, p):
            raise SystemExit(f"lab: apt-cacher-ng did not listen; see {conf / 'log'}")

    # -- sink

    def sink_up(self) -> None:
        if self.recorded("sink"):
            say(f"mail sink already running on {self.inst.sink_ip}:{SINK_PORT}")
            return
        ns = self.netns_up("sink", self.inst.sink_ip)
        say(f"starting the mail sink on {self.inst.sink_ip}:{SINK_PORT}")
        with open(self.dir / "sink.log", "ab") as log:
            p = subprocess.Popen(
                [
                    "ip",
                    "netns",
                    "exec",
                    ns,
                    sys.executable,
                    str(LAB_DIR / "sink.py"),
                    "--listen",
                    self.inst.sink_ip,
                    "--port",
                    str(SINK_PORT),
                    "--hostname",
                    f"sink.{self.inst.domain}",
                    "--record",
                    str(self.dir / "sink.jsonl"),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        self.record("sink", p.pid, "mail sink")
        if not wait_tcp(self.inst.sink_ip, SINK_PORT, 10, p):
            raise SystemExit(f"lab: the sink did not listen; see {self.dir / 'sink.log'}")

    # -- image

    def image_hash(self) -> str:
        h = hashlib.sha256()
        for part in (IMAGE_SUITE, IMAGE_MIRROR, IMAGE_REV, *IMAGE_PACKAGES, *MASKED_UNITS):
            h.update(part.encode() + b"\0")
        return h.hexdigest()[:12]

    def image(self) -> Path:
        """The shared, read-only root filesystem; built once (under a lock), then reused."""
        img = self.cache / "images" / f"{IMAGE_SUITE}-{self.image_hash()}"
        if (img / ".complete").exists():
            say(f"reusing cached image {img}")
            return img
        img.parent.mkdir(parents=True, exist_ok=True)
        with open(self.cache / "images" / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            if (img / ".complete").exists():
                say(f"reusing cached image {img} (built meanwhile)")
                return img
            tmp = img.with_name(img.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            t = time.monotonic()
            say(f"building the image {img.name} with debootstrap (about a minute, once)")
            env = dict(os.environ, http_proxy=f"http://{self.inst.bridge_ip}:{ACNG_PORT}")
            run(
                "debootstrap",
                "--variant=minbase",
                "--include=" + ",".join(IMAGE_PACKAGES),
                IMAGE_SUITE,
                str(tmp),
                IMAGE_MIRROR,
                env=env,
                stdout=subprocess.DEVNULL,
            )
            self.image_finish(tmp)
            tmp.rename(img)
            (img / ".complete").write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ\n", time.gmtime()))
            say(f"image built in {time.monotonic() - t:.1f}s")
            for old in img.parent.glob(f"{IMAGE_SUITE}-*"):
                if old != img and old.is_dir():
                    say(f"removing outdated image {old}")
                    shutil.rmtree(old, ignore_errors=True)
        return img

    def image_finish(self, root: Path) -> None:
        """Make the debootstrapped tree a neutral template: per-host identity comes at `up`."""
        for key in (root / "etc/ssh").glob("ssh_host_*"):
            key.unlink()
        (root / "etc/machine-id").write_text("")
        (root / "etc/apt/sources.list").write_text(
            f"deb {IMAGE_MIRROR} {IMAGE_SUITE} main\n"
            f"deb {IMAGE_MIRROR} {IMAGE_SUITE}-updates main\n"
            f"deb {IMAGE_MIRROR}-security {IMAGE_SUITE}-security main\n"
        )
        (root / "etc/ssh/sshd_config.d/lab.conf").write_text(
            "# The ELSE lab: key login only; each host has its own ed25519 host key.\n"
            "HostKey /etc/ssh/ssh_host_ed25519_key\n"
            "PasswordAuthentication no\nPermitRootLogin prohibit-password\n"
        )
        (root / "etc/resolv.conf").unlink(missing_ok=True)
        (root / "etc/resolv.conf").write_text(
            "# The lab has no DNS: lookups fail fast.\n"
            "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"
        )
        (root / "etc/dpkg/dpkg.cfg.d/lab-no-docs").write_text(
            "path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\n"
            "path-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\n"
        )
        for unit in MASKED_UNITS:
            link = root / "etc/systemd/system" / unit
            link.unlink(missing_ok=True)
            link.symlink_to("/dev/null")
        run("chroot", str(root), "apt-get", "clean", quiet=True)

    # -- hosts

    def hosts_fs_up(self) -> None:
        """Keep the hosts' writable layers in RAM when there is plenty of it.

        A converged ELSE writes ~11,000 files (600 MB); deleting them from ext4 took 6-20 s on
        the loaded 2-core machine, a tmpfs goes in one umount, and dpkg runs faster on it too.
        LAB_TMPFS=0 (or less than 6 GiB available) keeps them on disk under .lab/.
        """
        hosts_dir = self.dir / "hosts"
        if self.mounted(hosts_dir):
            return
        hosts_dir.mkdir(parents=True, exist_ok=True)
        if any(hosts_dir.iterdir()):
            return  # hosts already on disk from an earlier run: keep them where they are
        if os.environ.get("LAB_TMPFS", "1") == "0":
            return
        avail_kib = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemAvailable:")
        )
        if avail_kib < 6 * 1024 * 1024:
            say(f"only {avail_kib // 1024} MiB RAM available: host layers stay on disk")
            return
        run(
            "mount",
            "-t",
            "tmpfs",
            "-o",
            "mode=0700,size=8g",
            f"else-{self.inst.name}-hosts",
            str(hosts_dir),
        )

    def host_dir(self, h: Host) -> Path:
        return self.dir / "hosts" / h.name

    def host_ip(self, h: Host) -> str:
        return self.inst.addr(h.offset)

    def etc_hosts(self) -> str:
        d = self.inst.domain
        lines = [
            "127.0.0.1\tlocalhost",
            "::1\tlocalhost ip6-localhost ip6-loopback",
            f"{self.inst.bridge_ip}\tlabhost.{d} labhost",
            f"{self.inst.sink_ip}\tsink.{d} sink",
        ]
        lines += [f"{self.host_ip(h)}\t{h.name}.{d} {h.name}" for h in self.hosts()]
        return "# The ELSE lab hosts (written by lab/lab.py).\n" + "\n".join(lines) + "\n"

    def ssh_key(self) -> None:
        self.ssh_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        if not self.key.exists():
            run(
                "ssh-keygen",
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                f"else-{self.inst.name}",
                "-f",
                str(self.key),
            )

    def mounted(self, path: Path) -> bool:
        p = str(path)
        with open("/proc/self/mountinfo") as fh:
            return any(line.split()[4] == p for line in fh)

    def host_up(self, h: Host, image: Path) -> None:
        name = f"host-{h.name}"
        hd = self.host_dir(h)
        root = hd / "root"
        ns = self.inst.ifname(h.ifname_tag)
        if self.recorded(name) and self.mounted(root) and self.netns_exists(ns):
            say(f"{h.name}: already running ({self.host_ip(h)}), reused")
            return
        self.host_down(h)  # anything half-made from an interrupted run
        say(f"{h.name}: creating at {self.host_ip(h)}")
        self.netns_up(h.ifname_tag, self.host_ip(h))
        for d in ("upper", "work", "root"):
            (hd / d).mkdir(parents=True, exist_ok=True)
        run(
            "mount",
            "-t",
            "overlay",
            f"else-{self.inst.name}-{h.name}",
            "-o",
            f"lowerdir={image},upperdir={hd / 'upper'},workdir={hd / 'work'}",
            str(root),
        )
        # Identity of this host, written before boot.
        (root / "etc/hostname").write_text(h.name + "\n")
        (root / "etc/hosts").write_text(self.etc_hosts())
        (root / "etc/machine-id").write_text(uuid.uuid4().hex + "\n")
        (root / "etc/apt/apt.conf.d/01lab-proxy").write_text(
            f'Acquire::http::Proxy "http://{self.inst.bridge_ip}:{ACNG_PORT}";\n'
            'Acquire::https::Proxy "DIRECT";\n'
        )
        hostkey = root / "etc/ssh/ssh_host_ed25519_key"
        run(
            "ssh-keygen",
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            f"root@{h.name}",
            "-f",
            str(hostkey),
            quiet=True,
        )
        auth = root / "root/.ssh"
        auth.mkdir(mode=0o700, exist_ok=True)
        shutil.copyfile(self.key.with_suffix(".pub"), auth / "authorized_keys")
        os.chmod(auth / "authorized_keys", 0o600)
        cg = self.cgroups(h, create=True)
        # Each container gets its own cgroups (the shell moves itself there, then execs nspawn:
        # same PID), so two containers' systemd never share a subtree.
        enter = "".join(f'echo $$ > "{d}/cgroup.procs" && ' for d in cg)
        nspawn = [
            "systemd-nspawn",
            "--boot",
            "--quiet",
            "--register=no",
            "--keep-unit",
            f"--directory={root}",
            f"--machine=else-{self.inst.name}-{h.name}",
            f"--hostname={h.name}",
            f"--network-namespace-path=/run/netns/{ns}",
            "--resolv-conf=off",
            "--timezone=off",
            "--link-journal=no",
            "--suppress-sync=yes",
            "--console=pipe",
        ]
        with open(hd / "console.log", "ab") as console:
            p = subprocess.Popen(
                ["sh", "-c", enter + 'exec "$@"', "nspawn", *nspawn],
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=console,
                start_new_session=True,
            )
        self.record(name, p.pid, f"systemd-nspawn {h.name}")
        say(f"{h.name}: systemd-nspawn pid {p.pid}, booting")

    def wait_hosts(self, hosts: list[Host], timeout: float = 60.0) -> None:
        """Until every host answers `ssh true` with its own, now known, host key."""
        lines = []
        for h in hosts:
            pub = (self.host_dir(h) / "root/etc/ssh/ssh_host_ed25519_key.pub").read_text().split()
            names = f"{h.name},{h.name}.{self.inst.domain},{self.host_ip(h)}"
            lines.append(f"{names} {pub[0]} {pub[1]}")
        self.known_hosts.write_text("\n".join(lines) + "\n")
        deadline = time.monotonic() + timeout
        for h in hosts:
            while True:
                pid = self.recorded(f"host-{h.name}")
                if pid is None:
                    raise SystemExit(
                        f"lab: {h.name} exited while booting; see "
                        f"{self.host_dir(h) / 'console.log'}"
                    )
                r = subprocess.run(
                    self.ssh_cmd(h, "systemctl is-system-running --wait"),
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if r.returncode == 0 or r.stdout.strip() in ("running", "degraded"):
                    say(f"{h.name}: up, ssh works, systemd {r.stdout.strip()}")
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(
                        f"lab: {h.name} not reachable by ssh after {timeout:.0f}s: "
                        f"{r.stderr.strip()}; see {self.host_dir(h) / 'console.log'}"
                    )
                time.sleep(0.3)

    def ssh_cmd(self, h: Host, *cmd: str) -> list[str]:
        return [
            "ssh",
            "-i",
            str(self.key),
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=2",
            f"root@{self.host_ip(h)}",
            *cmd,
        ]

    def cgroups(self, h: Host, create: bool = False) -> list[Path]:
        dirs = []
        for hier in ("systemd", "unified"):
            base = Path("/sys/fs/cgroup", hier)
            if base.is_dir() and base.joinpath("cgroup.procs").exists():
                d = base / f"else-{self.inst.name}-{h.name}"
                if create:
                    d.mkdir(exist_ok=True)
                dirs.append(d)
        return dirs

    def host_down(self, h: Host) -> None:
        hd = self.host_dir(h)
        self.stop_recorded(f"host-{h.name}", timeout=20)
        # Whatever still lives in the host's cgroups was started by its systemd (which nspawn
        # started for us): if nspawn had to be killed, end those too, by PID.
        for d in self.cgroups(h):
            kill_cgroup_tree(d)
        root = hd / "root"
        if self.mounted(root):
            run("umount", str(root))
        for d in self.cgroups(h):
            remove_cgroup(d)
        self.netns_down(h.ifname_tag)
        if hd.exists():
            shutil.rmtree(hd)

    # -- whole instance

    def up(self) -> None:
        t = time.monotonic()
        say(
            f"instance {self.inst.name} ({self.profile} profile): {self.inst.network}, "
            f"bridge {self.inst.bridge} {self.inst.bridge_ip}, state {self.dir}, cache {self.cache}"
        )
        check_root()
        self.check_owner()
        self.check_profile()
        self.ssh_key()
        self.profile_file.write_text(self.profile + "\n")
        self.running_profile = self.profile
        self.bridge_up()
        self.acng_up()
        image = self.image()
        self.sink_up()
        self.hosts_fs_up()
        hosts = self.hosts()
        for h in hosts:
            self.host_up(h, image)
        self.wait_hosts(hosts)
        (self.dir / "hosts.json").write_text(json.dumps(self.describe(), indent=1) + "\n")
        self.write_extra_inventory(hosts)
        say(
            f"instance {self.inst.name} up in {time.monotonic() - t:.1f}s: "
            + ", ".join(f"{h.name}={self.host_ip(h)}" for h in hosts)
            + f", sink={self.inst.sink_ip}"
        )

    def write_extra_inventory(self, hosts: list[Host]) -> None:
        """The extra PFX hosts (`--extra-pfx`, LAB_EXTRA_PFX) as an inventory make-lab adds to
        inventory/<instance>: the static one names only pfx and else. JSON is YAML."""
        extra = self.dir / "inventory-extra.yml"
        more = [
            h
            for h in hosts
            if self.profile == "default" and h.group == "pfx_servers" and h.name != "pfx"
        ]
        if not more:
            extra.unlink(missing_ok=True)
            return
        pfx_hosts = {
            h.name: {"ansible_host": self.host_ip(h), "else_server_role": "mixed"} for h in more
        }
        body = {"all": {"children": {"pfx_servers": {"hosts": pfx_hosts}}}}
        extra.write_text(json.dumps(body, indent=1) + "\n")

    def link(self, h: Host, state: str) -> int:
        """Take the bridge side of a host's veth down or up: the host keeps running and its
        sockets stay open, but nothing reaches it (a cut cable, not a stopped service)."""
        veth = self.inst.ifname(h.ifname_tag)
        if not self.link_exists(veth):
            raise SystemExit(f"lab: {h.name} has no link {veth}: is the lab up?")
        if state != "show":
            check_root()
            run("ip", "link", "set", veth, state, quiet=True)
        flags = out("ip", "-o", "link", "show", veth)
        print(f"{h.name}: link {veth} is {'up' if ',UP' in flags or '<UP' in flags else 'down'}")
        return 0

    def describe(self) -> dict:
        return {
            "instance": self.inst.name,
            "profile": self.profile,
            # Where mail from the internet side enters (lab/send-test-mail's default target).
            "mx": "pfx-in" if self.profile == "split" else "pfx",
            "network": str(self.inst.network),
            "bridge_ip": self.inst.bridge_ip,
            "sink": f"{self.inst.sink_ip}:{SINK_PORT}",
            "ssh_key": str(self.key),
            "known_hosts": str(self.known_hosts),
            "hosts": {
                h.name: {"address": self.host_ip(h), "group": h.group}
                | ({"server_role": h.server_role} if h.server_role else {})
                for h in self.hosts()
            },
        }

    def down(self) -> None:
        t = time.monotonic()
        check_root()
        self.check_owner()
        say(f"instance {self.inst.name}: tearing down")
        self.profile = self.running_profile or self.profile  # the hosts that exist, whatever asked
        hosts = self.hosts()
        self.stop_recorded(*[f"host-{h.name}" for h in hosts], timeout=30)
        for h in hosts:
            self.host_down(h)
        self.stop_recorded("sink")
        self.netns_down("sink")
        self.stop_recorded("acng")
        if self.link_exists(self.inst.bridge):
            run("ip", "link", "del", self.inst.bridge)
        for f in ("hosts.json", "known_hosts", "inventory-extra.yml"):
            (self.dir / f).unlink(missing_ok=True)
        self.known_hosts.unlink(missing_ok=True)
        hosts_dir = self.dir / "hosts"
        if self.mounted(hosts_dir):
            run("umount", str(hosts_dir))
        shutil.rmtree(hosts_dir, ignore_errors=True)
        self.profile_file.unlink(missing_ok=True)
        release_netns_mount()
        say(f"instance {self.inst.name} down in {time.monotonic() - t:.1f}s")

    def status(self) -> int:
        bad = 0
        names = ["acng", "sink"] + [f"host-{h.name}" for h in self.hosts()]
        width = max(len(n) for n in names)
        for name in names:
            pid = self.recorded(name)
            state = f"running pid {pid}" if pid else "stopped"
            print(f"{self.inst.name:4} {name:{width}} {state}")
            bad += pid is None
        return 1 if bad else 0


def cgroup_pids(d: Path) -> set[int]:
    pids: set[int] = set()
    if d.is_dir():
        for procs in d.rglob("cgroup.procs"):
            with contextlib.suppress(OSError):
                pids |= {int(x) for x in procs.read_text().split()}
    return pids


def kill_cgroup_tree(d: Path, timeout: float = 10.0) -> None:
    """SIGKILL every process left in a lab cgroup tree and wait until it is empty."""
    left = cgroup_pids(d)
    if not left:
        return
    say(f"killing {len(left)} leftover process(es) in {d}")
    deadline = time.monotonic() + timeout
    while left and time.monotonic() < deadline:
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        left = {p for p in cgroup_pids(d) if proc_starttime(p) is not None}


def remove_cgroup(d: Path) -> None:
    """rmdir a cgroup tree bottom-up (cgroupfs dirs hold only virtual files)."""
    if not d.is_dir():
        return
    for sub in sorted((p for p in d.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        with contextlib.suppress(OSError):
            sub.rmdir()
    try:
        d.rmdir()
    except OSError as e:
        say(f"warning: cgroup {d} not removed yet ({e.strerror}); a process there is still exiting")


def overlays_using(lower: Path) -> set[str]:
    """Names of mounted overlays whose lower layer lies under `lower` (from mountinfo)."""
    prefix = f"lowerdir={lower}/"
    names = set()
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            _, _, tail = line.partition(" - ")
            fields = tail.split()
            if len(fields) >= 3 and fields[0] == "overlay" and prefix in fields[2]:
                names.add(fields[1])
    return names


def release_netns_mount() -> None:
    """`ip netns add` bind-mounts /run/netns; undo that only when no namespace is left at all."""
    run_netns = Path("/run/netns")
    if run_netns.is_dir() and not any(run_netns.iterdir()):
        with open("/proc/self/mountinfo") as fh:
            if any(line.split()[4] == "/run/netns" for line in fh):
                run("umount", "/run/netns", check=False)


def wait_tcp(host: str, port: int, timeout: float, proc: subprocess.Popen | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return True
        time.sleep(0.1)
    return False


def check_root() -> None:
    if os.geteuid() != 0:
        raise SystemExit("lab: must run as root (namespaces, bridge, mounts)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="lab", description=__doc__.splitlines()[0])
    ap.add_argument(
        "-i",
        "--instance",
        default=os.environ.get("LAB_INSTANCE", "lab"),
        choices=sorted(INSTANCES),
        help="instance (default: lab; Molecule uses mol, its split scenario mols)",
    )
    ap.add_argument(
        "--profile",
        choices=PROFILES,
        default=os.environ.get("LAB_PROFILE") or None,
        help="hosts to make: default (pfx, else) or split (pfx-in, pfx-out, else backend, "
        "else-front); env LAB_PROFILE; default: what runs now, else the instance's own",
    )
    ap.add_argument("--state", type=Path, default=DEFAULT_STATE, help="state dir (default .lab/)")
    ap.add_argument(
        "--cache",
        type=Path,
        default=DEFAULT_CACHE,
        help="image and apt cache (default /var/cache/else-lab, env LAB_CACHE)",
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    p_up = sub.add_parser("up", help="create (or reuse) the hosts, proxy and sink")
    p_up.add_argument(
        "--extra-pfx",
        type=int,
        default=int(os.environ.get("LAB_EXTRA_PFX", "0")),
        help="extra PFX hosts pfx2.. at .12.. (default 0)",
    )
    sub.add_parser("down", help="stop and remove everything the instance made (cache stays)")
    sub.add_parser("clean", help="down, then remove the instance's state and the shared cache")
    sub.add_parser("status", help="which recorded processes run")
    sub.add_parser("image", help="build (or reuse) the cached image only")
    sub.add_parser("info", help="addresses and paths as JSON")
    p_ssh = sub.add_parser("ssh", help="ssh into a host: lab.py ssh pfx [cmd...]")
    p_ssh.add_argument("host")
    p_ssh.add_argument("command", nargs=argparse.REMAINDER)
    p_link = sub.add_parser(
        "link",
        help="cut or restore a host's network link (outage drills): lab.py link else down",
    )
    p_link.add_argument("host")
    p_link.add_argument("updown", metavar="down|up|show", choices=["down", "up", "show"])
    args = ap.parse_args(argv)

    lab = Lab(
        INSTANCES[args.instance],
        args.state,
        args.cache,
        getattr(args, "extra_pfx", 0),
        args.profile,
    )
    if args.cmd == "info":
        print(json.dumps(lab.describe(), indent=1))
        return 0
    if args.cmd == "status":
        return lab.status()
    if args.cmd == "ssh":
        hosts = {h.name: h for h in lab.hosts()}
        if args.host not in hosts:
            raise SystemExit(f"lab: no host {args.host!r} (have {', '.join(hosts)})")
        cmd = lab.ssh_cmd(hosts[args.host], *args.command)
        if sys.stdin.isatty() and not args.command:
            cmd.insert(1, "-t")
        os.execvp(cmd[0], cmd)  # noqa: S606 - replace ourselves with ssh, argv fixed above
    if args.cmd == "link":
        hosts = {h.name: h for h in lab.hosts()}
        if args.host not in hosts:
            raise SystemExit(f"lab: no host {args.host!r} (have {', '.join(hosts)})")
        return lab.link(hosts[args.host], args.updown)
    with lab.locked():
        if args.cmd == "up":
            lab.up()
        elif args.cmd == "down":
            lab.down()
        elif args.cmd == "image":
            check_root()
            lab.check_owner()
            lab.ssh_key()
            lab.bridge_up()
            lab.acng_up()
            lab.image()
        elif args.cmd == "clean":
            lab.down()
            shutil.rmtree(lab.dir / "acng", ignore_errors=True)
            # The image is the lower layer of every running host of every instance.
            busy = sorted(overlays_using(lab.cache / "images"))
            if busy:
                say(f"keeping the cache {lab.cache}: still the image of {', '.join(busy)}")
            elif lab.cache.exists():
                say(f"removing the cache {lab.cache}")
                shutil.rmtree(lab.cache)
    return 0


if __name__ == "__main__":
    sys.exit(main())
