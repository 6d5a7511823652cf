"""`elsectl search`/`stats` through the command server answer as the command run alone does.

Each case runs the real ``elsectl`` script twice against a real database: once with the
command server off, once served by a fork of the warm server (else_core.launcher and
else_core.cmdserver). Output, errors and exit status must be the same. That a run was
served is read from the launcher's own import log (``PYTHONPROFILEIMPORTTIME``): a
served run never imports psycopg in the process the user started, one run alone does.
Every server a test starts runs in a private runtime directory and is stopped by its
PID at the end.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from else_core import launcher

pytestmark = pytest.mark.postgres

ELSECTL = str(Path(sys.executable).with_name("elsectl"))
LOG = "pixelpark-postfix-logsums-mail.log"
WAIT = 30.0  # seconds for a server to come up or go away


@pytest.fixture(scope="module")
def mail_db(pg_cluster, corpus, tmp_path_factory) -> Iterator[str]:
    """A database with 12,000 real lines imported; the DSN of the web role."""
    name = pg_cluster.create_db(template="else_template")
    log = tmp_path_factory.mktemp("log") / "mail.log"
    with (corpus / LOG).open("rb") as src:
        log.write_bytes(b"".join(line for _, line in zip(range(12_000), src, strict=False)))
    subprocess.run(
        [ELSECTL, "import", "--dsn", pg_cluster.dsn(name, "else_worker"), str(log)],
        check=True,
        capture_output=True,
        env={**os.environ, launcher.ENV: "0"},
    )
    yield pg_cluster.dsn(name, "else_web")
    pg_cluster.drop_db(name)


@pytest.fixture
def runtime() -> Iterator[Path]:
    """A private XDG_RUNTIME_DIR (short: socket paths are limited to 108 bytes); any
    server started in it is stopped by its PID afterwards."""
    path = Path(tempfile.mkdtemp(prefix="ec-", dir="/tmp"))
    try:
        yield path
    finally:
        for pid_file in path.glob("else-cmd/*.pid"):
            stop(int(pid_file.read_text()))
        subprocess.run(["rm", "-rf", str(path)], check=False)


def stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    gone_within(pid, WAIT)


def gone_within(pid: int, seconds: float) -> bool:
    """Whether ``pid`` ends within ``seconds`` (a zombie has ended: its parent, not this
    test, reaps it)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def env_for(runtime: Path, served: bool, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "ELSE_DSN"}
    env.update(XDG_RUNTIME_DIR=str(runtime), PYTHONPROFILEIMPORTTIME="1", **extra)
    env[launcher.ENV] = "1" if served else "0"
    return env


def run(args: list[str], env: dict[str, str]) -> tuple[int, str, str, bool]:
    """(status, stdout, stderr without the import log, whether psycopg was imported)."""
    proc = subprocess.run([ELSECTL, *args], env=env, capture_output=True, text=True, check=False)
    imports = [line for line in proc.stderr.splitlines() if line.startswith("import time:")]
    errors = "".join(
        line + "\n" for line in proc.stderr.splitlines() if not line.startswith("import time:")
    )
    loaded = any(line.split("|")[-1].strip() == "psycopg" for line in imports)
    return proc.returncode, proc.stdout, errors, loaded


def server_pid(runtime: Path, timeout: float = WAIT) -> int:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for pid_file in (runtime / "else-cmd").glob("*.pid"):
            text = pid_file.read_text()
            if text.endswith("\n"):
                return int(text)
        time.sleep(0.05)
    raise AssertionError(f"no command server came up in {runtime} within {timeout}s")


def warm(runtime: Path, dsn: str) -> int:
    """Start a server the way a user does (the first served command), wait for it."""
    status, _out, _err, loaded = run(["stats", "--dsn", dsn], env_for(runtime, True))
    assert status == 0 and loaded  # no server yet: this one ran in process
    return server_pid(runtime)


CASES = {
    "search by sender": ["search", "--sender", "*@*", "--limit", "5"],
    "search as JSON": ["search", "--status", "delivered", "--format", "json", "--limit", "3"],
    "rejects as CSV": ["search", "--rejects", "--format", "csv", "--limit", "5"],
    "statistics": ["stats"],
    "statistics as JSON": ["stats", "--format", "json"],
    "an unknown option": ["search", "--no-such-option"],
    "a bad value": ["search", "--limit", "many"],
    "help": ["search", "--help"],
}


@pytest.mark.parametrize("args", CASES.values(), ids=CASES.keys())
def test_a_served_command_answers_as_one_run_alone(mail_db, runtime, args):
    warm(runtime, mail_db)
    argv = [*args, "--dsn", mail_db] if "--help" not in args else args
    alone = run(argv, env_for(runtime, served=False))
    served = run(argv, env_for(runtime, served=True))
    assert alone[3] and not served[3]  # psycopg: imported alone, not by the served launcher
    assert served[:3] == alone[:3]


def test_an_unreachable_database_is_the_same_error_served(runtime, mail_db):
    warm(runtime, mail_db)
    with socket.socket() as closed:  # a loopback port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    argv = ["search", "--sender", "a", "--dsn", f"host=127.0.0.1 port={port} dbname=x user=y"]
    alone = run(argv, env_for(runtime, served=False))
    served = run(argv, env_for(runtime, served=True))
    assert alone[0] == served[0] != 0
    assert served[:3] == alone[:3]
    assert "cannot connect" in served[2]


def test_a_served_command_takes_the_callers_environment(runtime, mail_db):
    warm(runtime, mail_db)
    argv = ["search", "--sender", "*@*", "--limit", "2"]
    alone = run([*argv, "--dsn", mail_db], env_for(runtime, served=False))
    served = run(argv, env_for(runtime, served=True, ELSE_DSN=mail_db))
    assert not served[3]
    assert served[:3] == alone[:3]


def test_interrupting_a_served_command_stops_it(runtime, mail_db):
    pid = warm(runtime, mail_db)
    with socket.socket() as silent:  # accepts, never answers: the command waits
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        dsn = f"host=127.0.0.1 port={port} dbname=x user=y connect_timeout=600"
        client = subprocess.Popen(
            [ELSECTL, "search", "--sender", "a", "--dsn", dsn],
            env=env_for(runtime, served=True),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        silent.settimeout(WAIT)
        conn, _ = silent.accept()  # the command is running, in a child of the server
        with conn:
            (child,) = children(pid)
            client.send_signal(signal.SIGINT)
            assert client.wait(WAIT) == 130
            assert gone_within(child, WAIT)


def children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


def test_a_stopped_server_does_not_hold_a_command_up(runtime, mail_db):
    """A server that does not hand the request over within launcher.HANDOVER_SECONDS: the
    command runs in process, once, and the server serves again when it resumes."""
    pid = warm(runtime, mail_db)
    argv = ["search", "--sender", "*@*", "--limit", "3", "--dsn", mail_db]
    alone = run(argv, env_for(runtime, served=False))
    os.kill(pid, signal.SIGSTOP)
    try:
        late = run(argv, env_for(runtime, served=True))
    finally:
        os.kill(pid, signal.SIGCONT)
    assert late[3]  # ran in process
    assert late[:3] == alone[:3]
    served = run(argv, env_for(runtime, served=True))
    assert not served[3]
    assert served[:3] == alone[:3]


def test_an_idle_server_exits_and_removes_its_socket(runtime, mail_db):
    env = env_for(runtime, served=True, ELSE_CMD_SERVER_IDLE="1")
    assert run(["stats", "--dsn", mail_db], env)[0] == 0
    pid = server_pid(runtime)
    assert gone_within(pid, WAIT)
    assert list((runtime / "else-cmd").glob("*.sock")) == []
    assert list((runtime / "else-cmd").glob("*.pid")) == []


def test_a_directory_others_may_enter_is_not_used(runtime, mail_db):
    shared = runtime / "else-cmd"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    status, _out, _err, loaded = run(["stats", "--dsn", mail_db], env_for(runtime, True))
    assert status == 0 and loaded
    time.sleep(1)  # a server would have written its files by now; none may appear
    assert list(shared.iterdir()) == []


IMPOSTOR = """
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)
os.setgid(65534); os.setuid(65534)  # nobody: the peer the launcher will see
s.listen()
print("ready", flush=True)
s.settimeout(60)
conn, _ = s.accept()
conn.settimeout(5)
got = b""
try:
    while chunk := conn.recv(65536):
        got += chunk
except OSError:
    pass
print(len(got), flush=True)
"""


def test_a_server_of_another_user_gets_nothing(runtime, mail_db):
    """A socket in the place of ours, listened on by another uid (SO_PEERCRED): the
    command runs in process and sends that process not a byte of its environment."""
    directory = runtime / "else-cmd"
    directory.mkdir(mode=0o700)
    impostor = subprocess.Popen(
        [sys.executable, "-c", IMPOSTOR, str(directory / f"{stamp()}.sock")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert impostor.stdout is not None and impostor.stdout.readline() == "ready\n"
        status, _out, _err, loaded = run(["stats", "--dsn", mail_db], env_for(runtime, True))
        assert status == 0 and loaded  # ran in process
        assert impostor.stdout.readline() == "0\n"  # received nothing
    finally:
        impostor.kill()
        impostor.wait()


def test_another_users_runtime_directory_is_not_used(runtime, mail_db):
    """XDG_RUNTIME_DIR of another user (kept through su): the launcher does not put its
    directory there."""
    os.chown(runtime, 65534, 65534)
    fallback = Path(f"/tmp/else-cmd-{os.getuid()}")
    before = set(fallback.glob("*.pid")) if fallback.exists() else set()
    try:
        status, _out, _err, _loaded = run(["stats", "--dsn", mail_db], env_for(runtime, True))
        assert status == 0
        assert not (runtime / "else-cmd").exists()
    finally:
        end = time.monotonic() + WAIT  # a server this test started in the fallback: stop it
        started: list[int] = []
        while time.monotonic() < end and not started:
            texts = [p.read_text() for p in set(fallback.glob("*.pid")) - before]
            started = [int(t) for t in texts if t.endswith("\n")]
            time.sleep(0.05)
        for pid in started:
            stop(pid)


def test_a_dead_servers_socket_is_replaced(runtime, mail_db):
    directory = runtime / "else-cmd"
    directory.mkdir(mode=0o700)
    stale = directory / f"{stamp()}.sock"
    with socket.socket(socket.AF_UNIX) as dead:  # bound, then closed without unlinking
        dead.bind(str(stale))
    env = env_for(runtime, served=True)
    assert run(["stats", "--dsn", mail_db], env)[3]  # refused: ran in process
    server_pid(runtime)
    assert not run(["stats", "--dsn", mail_db], env)[3]


def stamp() -> str:
    """The code stamp the elsectl script computes: by the interpreter of its #! line (the
    stamp covers the interpreter's path, which may be python3 where pytest runs python)."""
    interpreter = Path(ELSECTL).read_text().splitlines()[0].removeprefix("#!").strip()
    return subprocess.run(
        [interpreter, "-c", "from else_core import launcher; print(launcher.code_stamp())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.mark.parametrize(
    ("change", "same"),
    [("nothing", True), ("a module's time", False), ("a new module", False)],
)
def test_the_code_stamp_follows_the_package_files(tmp_path, change, same):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "a.py").write_text("x = 1\n")
    (package / "sub" / "b.py").write_text("y = 2\n")
    before = launcher.code_stamp(str(package))
    if change == "a module's time":
        os.utime(package / "sub" / "b.py", ns=(1, 10**18))
    elif change == "a new module":
        (package / "sub" / "c.py").write_text("")
    assert (launcher.code_stamp(str(package)) == before) is same
