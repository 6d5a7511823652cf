"""`elsectl serve`: the development server, started as a user would, stopped by its PID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.support.postfix import free_port

pytestmark = pytest.mark.postgres


def test_serve_runs_the_ui_on_loopback(web_db, tmp_path):
    cfg = tmp_path / "else.toml"
    cfg.write_text(
        f'[database]\nweb_dsn = "{web_db.dsn("else_web")}"\n'
        f'[web]\nsecret_file = "{tmp_path / "web-secret"}"\n'
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "else_core",
            "serve",
            "--insecure-http",
            "--port",
            str(port),
            "--config",
            str(cfg),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "ELSE_CONFIG": ""},
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as res:
                    assert res.status == 200
                    assert "Secure" not in res.headers["Set-Cookie"]
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        assert (tmp_path / "web-secret").stat().st_mode & 0o777 == 0o600
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)
    assert "Traceback" not in proc.stderr.read().decode()


@pytest.mark.parametrize("host", ["0.0.0.0", "198.18.0.11"])
def test_plain_http_off_loopback_is_refused(host):
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "else_core",
            "serve",
            "--insecure-http",
            "--host",
            host,
            "--dsn",
            "host=127.0.0.1 port=1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 2
    assert "only allowed on a loopback address" in res.stderr
