"""`elsectl serve`'s server against malformed request lines and bursts (issue 16, part 5):
a 400 and one log line, never a traceback on stderr."""

from __future__ import annotations

import re
import socket
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import serving

from webui import create_app

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def served(web_db, web_config):
    app = create_app(web_config, dsn=web_db.dsn("else_web"), secret=b"m" * 32, secure_cookies=False)
    with serving(app) as url:
        yield url


def _raw(url: str, data: bytes) -> bytes:
    u = urllib.parse.urlsplit(url)
    with socket.create_connection((u.hostname, u.port), timeout=30) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


@pytest.mark.parametrize(
    "line",
    [
        b"GARBAGE\r\n\r\n",
        b"GET\r\n\r\n",
        b"GET / HTTP/1.1 extra words\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"\x00\x01\x02\xff\r\n\r\n",
        b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n",
    ],
)
def test_malformed_request_lines_get_an_error_and_no_traceback(served, capfd, line):
    answer = _raw(served, line)
    err = capfd.readouterr().err
    # http.server's error page (no status line for what it reads as HTTP/0.9);
    # 505 is its answer to an unknown HTTP version.
    assert re.search(rb"Error code: (4\d\d|505)", answer), answer[:300]
    assert "Traceback" not in err


def test_a_burst_of_connections_waits_instead_of_being_reset(served):
    def fetch(_: int) -> bytes:
        return _raw(served, b"GET /healthz HTTP/1.0\r\n\r\n")

    with ThreadPoolExecutor(40) as pool:
        answers = list(pool.map(fetch, range(40)))
    assert all(a.startswith(b"HTTP/1.0 200") for a in answers)
