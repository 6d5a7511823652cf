"""The else-alerts service loop keeps running through a database it cannot reach, says so
in its log each round, and ends cleanly on SIGTERM (what systemd sends)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys


def test_the_service_survives_an_unreachable_database_and_stops_on_sigterm(tmp_path):
    conf = tmp_path / "else.toml"
    conf.write_text('[database]\ndsn = "host=127.0.0.1 port=1 dbname=else connect_timeout=1"\n')
    env = {**os.environ, "ELSE_CONFIG": str(conf)}
    env.pop("ELSE_DSN", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "else_core", "alert", "run", "--interval", "0.1"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        errors = []
        for line in proc.stderr:
            if "cannot connect to PostgreSQL" in line:
                errors.append(line)
            if len(errors) == 2:  # a second round came: the first failure did not end it
                break
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in "".join(errors)
