"""The ``elsectl`` entry point: hands quick queries to a warm command server.

`elsectl search` answers from an index in a few milliseconds, but a new Python process
spent ~150 ms importing psycopg (asyncio, ssl, importlib.metadata, ctypes) before it
could ask. Like Mercurial's chg, the queries in :data:`SERVED` are instead run by a
fork of a per-user server that has imported everything once
(:mod:`else_core.cmdserver`): this process, which imports only the standard library's
socket module, passes it its argv, environment, working directory, umask and its
stdin/stdout/stderr descriptors, forwards the signals that would stop it, and exits with
the command's status. What the command prints, reads and returns is the same as in
process; the fork starts from a server that has run no command.

The server is started, detached, by the first served command that finds none (that
command runs in process), ends after :data:`IDLE_SECONDS` without a request, and is tied
to one interpreter and one version of the code: an upgrade or an edited source gets a
server of its own. ``ELSE_CMD_SERVER=0`` turns it off; every other command always runs in
process. The socket lives in a directory only its user can enter
(``$XDG_RUNTIME_DIR/else-cmd`` or ``/tmp/else-cmd-UID``); a directory that is not
exactly that is not used.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import sys
import zlib
from collections.abc import Sequence

#: The commands a server runs: short, read-only queries that a person types again and again.
SERVED = frozenset({"search", "stats"})
#: Set to 0 to run every command in process.
ENV = "ELSE_CMD_SERVER"
#: Seconds a server waits for a request before it exits.
IDLE_SECONDS = 600
#: First field of a request: the protocol's version.
MAGIC = b"ELSE-CMD-1"
#: The client's go-ahead to the fork that will run its command.
GO = b"\x01"
#: Seconds a server has to hand a request to a fork before the command runs in process.
HANDOVER_SECONDS = 5.0
#: Exit status when a served command's process ended without reporting one.
LOST = 70

_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
_PACKAGE = os.path.dirname(os.path.abspath(__file__))
INT = struct.Struct("!i")  # the protocol's integers
_CREDENTIALS = struct.Struct("3i")  # struct ucred: pid, uid, gid


def main() -> int:
    """The console script: serve the command if it can be, else run it here."""
    argv = sys.argv[1:]
    if served(argv) and os.environ.get(ENV, "1") != "0":
        path = socket_path()
        if path is not None:
            status = request(path, argv)
            if status is not None:
                return status
            spawn(path)
    from else_core.cli import main as run  # noqa: PLC0415 - only when not served

    return run(argv)


def served(argv: Sequence[str]) -> bool:
    """Whether a server runs this command line (its first word is one of :data:`SERVED`)."""
    for word in argv:
        if not word.startswith("-"):
            return word in SERVED
    return False


def code_stamp(package: str = _PACKAGE) -> str:
    """A short fingerprint of the interpreter and of every module file of the package:
    a server only runs the code it was started with."""
    parts = [sys.executable.encode(), package.encode()]
    stack = [package]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if not entry.name.startswith((".", "__")):
                        stack.append(entry.path)
                elif entry.name.endswith((".py", ".so")):
                    st = entry.stat(follow_symlinks=False)
                    parts.append(f"{entry.path}:{st.st_mtime_ns}:{st.st_size}".encode())
    parts.sort()
    return f"{zlib.crc32(b'|'.join(parts)):08x}"


def socket_dir() -> str | None:
    """This user's directory for command servers, made if missing; None when it exists
    but someone else owns it or others may enter it."""
    base = os.environ.get("XDG_RUNTIME_DIR") or ""
    uid = os.getuid()
    fallback = f"/tmp/else-cmd-{uid}"  # noqa: S108 - made 0700, or refused below
    try:  # another user's runtime dir (after su, say) could be swapped under us: not used
        mine = os.stat(base).st_uid == uid and os.path.isdir(base)
    except OSError:
        mine = False
    path = os.path.join(base, "else-cmd") if mine else fallback
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    st = os.lstat(path)
    if not os.path.isdir(path) or os.path.islink(path) or st.st_uid != uid or st.st_mode & 0o077:
        return None
    return path


def socket_path() -> str | None:
    """Where the server of this interpreter and code listens (None: no usable directory)."""
    directory = socket_dir()
    return None if directory is None else os.path.join(directory, f"{code_stamp()}.sock")


def encode_request(argv: Sequence[str]) -> bytes:
    """argv, environment, working directory and umask, NUL-separated, length first."""
    umask = os.umask(0)
    os.umask(umask)
    fields = [MAGIC, os.fsencode(os.getcwd()), b"%o" % umask, b"%d" % len(argv)]
    fields += [os.fsencode(a) for a in argv]
    fields += [k + b"=" + v for k, v in os.environb.items()]
    body = b"\0".join(fields)
    return INT.pack(len(body)) + body


def request(path: str, argv: Sequence[str]) -> int | None:
    """Run ``argv`` through the server at ``path``: its exit status, or None when no
    server took the request (then nothing has run)."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        try:
            conn.settimeout(HANDOVER_SECONDS)
            conn.connect(path)
            if peer_uid(conn) != os.getuid():  # our environment goes only to ourselves
                return None
            conn.sendall(encode_request(argv))
            pid = read_int(conn)  # a fork is ready for the command
            if pid is None:
                return None
            # The go-ahead, with stdin/stdout/stderr: a fork that gets none runs nothing,
            # and no descriptor of ours waits in a socket if the server stopped answering.
            socket.send_fds(conn, [GO], [0, 1, 2])
            conn.settimeout(None)
        except OSError:  # no server, a dead one's socket, or one that did not answer
            return None
        return _wait(conn, pid)
    finally:
        conn.close()


def _wait(conn: socket.socket, pid: int) -> int:
    """Forward signals to the command's process until it reports its status."""

    def forward(signum: int, _frame: object) -> None:
        try:  # noqa: SIM105 - contextlib is one import more at every start
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for signum in _FORWARDED:
        if signal.getsignal(signum) is not signal.SIG_IGN:  # e.g. SIGINT of a background job
            signal.signal(signum, forward)
    while True:
        try:
            status = read_int(conn)
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries reads itself
            continue
        except OSError:
            status = None
            break
    if status is None:
        print("elsectl: error: the command's process ended without a status", file=sys.stderr)
        return LOST
    return status


def peer_uid(conn: socket.socket) -> int:
    """The uid of the process at the other end (struct ucred: pid, uid, gid)."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDENTIALS.size)
    uid: int = _CREDENTIALS.unpack(creds)[1]
    return uid


def recv_exactly(conn: socket.socket, size: int) -> bytes | None:
    """``size`` bytes from ``conn``, or None when it ends before."""
    data = bytearray()
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def read_int(conn: socket.socket) -> int | None:
    """One integer of the protocol (a length, a PID, a status), or None at its end."""
    data = recv_exactly(conn, INT.size)
    if data is None:
        return None
    value: int = INT.unpack(data)[0]
    return value


def spawn(path: str) -> None:
    """Start a detached server for ``path`` (for the next command; this one runs here).

    A server that failed to start leaves ``PATH.failed`` and is not tried again for this
    code; a second server for the same path stops at once (it takes a lock first)."""
    if os.path.exists(path + ".failed"):
        return
    try:
        pid = os.fork()
    except OSError:
        return
    if pid:
        os.waitpid(pid, 0)  # the intermediate child exits at once
        return
    try:  # the intermediate child: a new session, then the server, not its child
        os.setsid()
        if os.fork() == 0:
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            server = [sys.executable, "-m", "else_core.cmdserver", path]
            os.execv(sys.executable, server)  # noqa: S606 - our own interpreter, fixed argv
    finally:
        os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
