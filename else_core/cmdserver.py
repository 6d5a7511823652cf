"""The command server behind :mod:`else_core.launcher`: forks a warm process per query.

``python -m else_core.cmdserver SOCKET`` imports what the served commands need (psycopg,
the search and statistics code), listens on SOCKET, and for each request forks a child
that becomes the command: it takes the client's stdin/stdout/stderr, working directory,
umask and environment (so ``ELSE_DSN``, ``PGPASSWORD``, ``TZ`` or the config path are the
caller's), runs ``elsectl`` with the client's argv and sends back the exit status. The
server itself runs no command and opens no connection, so every fork starts as a new
process would, minus the imports. It accepts only its own user (``SO_PEERCRED``, on top
of a socket in a private directory) and exits after :data:`launcher.IDLE_SECONDS`
without a request, or ``ELSE_CMD_SERVER_IDLE`` seconds when that is set.

Files beside SOCKET: ``.lock`` (one server per socket), ``.pid`` (its process, for
whoever must stop it) and ``.failed`` (why it could not start; the launcher then stops
trying for this code).
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import signal
import socket
import sys
import time
import traceback

from else_core import launcher


def preload() -> None:
    """Import what the served commands import, before the first request."""
    from else_core import cli  # noqa: PLC0415

    for name in sorted(launcher.SERVED):
        cli.build_parser([name])


def serve(path: str, idle: float) -> int:
    lock = os.open(path + ".lock", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another server has this socket
    try:
        preload()
    except Exception:
        with open(path + ".failed", "w") as out:
            traceback.print_exc(file=out)
        return 1
    if os.path.exists(path):
        os.unlink(path)  # a server that died; we hold the lock
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(64)
    listener.settimeout(idle)
    with open(path + ".pid", "w") as out:
        out.write(f"{os.getpid()}\n")
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                return 0
            with conn:
                _accept(listener, lock, conn)
    finally:
        for leftover in (path, path + ".pid"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)


def _accept(listener: socket.socket, lock: int, conn: socket.socket) -> None:
    conn.settimeout(5)
    if launcher.peer_uid(conn) != os.getuid():
        return
    try:
        request = _receive(conn)
    except (OSError, ValueError):
        return
    if os.fork() == 0:
        listener.close()
        os.close(lock)  # a new server may start while this command still runs
        os._exit(_child(conn, request))


def _receive(conn: socket.socket) -> list[bytes]:
    size = launcher.read_int(conn)
    body = None if size is None else launcher.recv_exactly(conn, size)
    if body is None:
        raise ValueError("truncated request")
    fields = body.split(b"\0")
    if fields[0] != launcher.MAGIC:
        raise ValueError("not a request of this version")
    return fields[1:]


def _handover(conn: socket.socket) -> list[int] | None:
    """Tell the client this process's PID; its stdin/stdout/stderr in return, or None
    when it gave up waiting (it runs the command itself then)."""
    conn.settimeout(launcher.HANDOVER_SECONDS)
    try:
        conn.sendall(launcher.INT.pack(os.getpid()))
        go, fds, _flags, _addr = socket.recv_fds(conn, 1, 3)
    except OSError:
        return None
    if go != launcher.GO or len(fds) != 3:
        for fd in fds:
            os.close(fd)
        return None
    conn.settimeout(None)
    return fds


def _child(conn: socket.socket, request: list[bytes]) -> int:
    """Become the client's command; returns the exit status to report."""
    fds = _handover(conn)
    if fds is None:
        return launcher.LOST
    # As a new Python process has them, whatever the process that started the server had.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_DFL)
    cwd, umask, argc = request[0], int(request[1], 8), int(request[2])
    argv = [os.fsdecode(a) for a in request[3 : 3 + argc]]
    environ = dict(item.split(b"=", 1) for item in request[3 + argc :] if b"=" in item)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(cwd)
    os.umask(umask)
    os.environb.clear()
    os.environb.update(environ)
    time.tzset()
    _standard_streams()
    status = _run(argv)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    with contextlib.suppress(OSError):  # the client is gone
        conn.sendall(launcher.INT.pack(status))
    return status & 0xFF


def _standard_streams() -> None:
    """sys.stdin/stdout/stderr on the client's descriptors, as Python opens them."""
    encoding = os.environ.get("PYTHONIOENCODING", "").partition(":")[0] or "utf-8"

    def stream(fd: int, mode: str, errors: str) -> io.TextIOWrapper:
        raw = io.FileIO(fd, mode, closefd=False)
        tty = raw.isatty()
        if mode == "r":
            return io.TextIOWrapper(io.BufferedReader(raw), encoding, errors)
        return io.TextIOWrapper(
            io.BufferedWriter(raw), encoding, errors, line_buffering=tty or fd == 2
        )

    sys.stdin = stream(0, "r", "strict")
    sys.stdout = stream(1, "w", "strict")
    sys.stderr = stream(2, "w", "backslashreplace")


def _run(argv: list[str]) -> int:
    from else_core.cli import main  # noqa: PLC0415 - imported by preload() already

    sys.argv = ["elsectl", *argv]
    try:
        return main(argv)
    except SystemExit as exc:  # argparse: --help, usage errors
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BaseException:
        traceback.print_exc()
        return 1


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: python -m else_core.cmdserver SOCKET", file=sys.stderr)
        return 2
    idle = float(os.environ.get("ELSE_CMD_SERVER_IDLE") or launcher.IDLE_SECONDS)
    return serve(sys.argv[1], idle)


if __name__ == "__main__":
    sys.exit(main())
