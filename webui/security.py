"""Signed session cookies, CSRF tokens, the session secret and the security headers.

Sessions live in the cookie itself (JSON, HMAC-SHA256 signed with a server secret,
with an issue time checked against a maximum age): nothing to clean up on the server,
and Apache can run several mod_wsgi processes without shared state. A session names
the user and the password "version" it was issued for, so changing a password ends
every other session. Every session (anonymous ones too) carries a random CSRF token;
every state-changing request must send it back in a form field or a header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from else_core.config import WEB_DEFAULTS
from else_core.errors import ConfigError

COOKIE = "else_session"
SECRET_BYTES = 32

#: The same policy for every HTML page: only our own files, no inline script or style.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
#: pygal's SVG carries its own <style>; as an <img> it cannot run script anyway.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def load_secret(path: str | os.PathLike[str]) -> bytes:
    """The session secret from ``path``; made (random, mode 0600) if the file is missing."""
    p = Path(path)
    try:
        data = p.read_bytes().strip()
    except FileNotFoundError:
        data = b""
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                data = secrets.token_hex(SECRET_BYTES).encode()
                fh.write(data + b"\n")
        except FileExistsError:  # another worker process made it first
            data = p.read_bytes().strip()
        except OSError as exc:
            raise ConfigError(f"cannot create the session secret {p}: {exc.strerror}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the session secret {p}: {exc.strerror}") from None
    if len(data) < 32:
        raise ConfigError(f"session secret {p} is too short (at least 32 characters)")
    return data


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionCodec:
    """Encode/decode the session cookie value: ``base64(json) "." base64(hmac)``."""

    def __init__(self, secret: bytes, max_age: int = WEB_DEFAULTS.session_max_age) -> None:
        # A key of its own, so the raw secret is never used for two purposes.
        self.key = hmac.new(secret, b"else-session-v1", hashlib.sha256).digest()
        self.max_age = max_age

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self.key, payload.encode(), hashlib.sha256).digest())

    def dumps(self, data: dict[str, Any]) -> str:
        body = dict(data)
        body["iat"] = int(body.get("iat") or time.time())
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        return f"{payload}.{self._sign(payload)}"

    def loads(self, value: str | None) -> dict[str, Any] | None:
        """The session, or None when missing, tampered with, malformed or too old."""
        if not value or len(value) > 4096 or value.count(".") != 1:
            return None
        payload, sig = value.split(".")
        if not hmac.compare_digest(sig, self._sign(payload)):
            return None
        try:
            data = json.loads(_unb64(payload))
        except (ValueError, json.JSONDecodeError):
            return None
        if not isinstance(data, dict):
            return None
        iat = data.get("iat")
        if not isinstance(iat, int) or not (0 <= time.time() - iat <= self.max_age):
            return None
        return data


def new_csrf() -> str:
    return secrets.token_urlsafe(24)


def csrf_ok(session: dict[str, Any], sent: str | None) -> bool:
    expected = session.get("c")
    return bool(expected and sent) and hmac.compare_digest(str(expected), str(sent))


def security_headers(content_type: str, secure: bool) -> list[tuple[str, str]]:
    """Headers every response gets, whatever produced it (pages, errors, static files)."""
    csp = SVG_CSP if content_type.startswith("image/svg") else CSP
    out = [
        ("Content-Security-Policy", csp),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Cross-Origin-Resource-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"),
    ]
    if secure:
        out.append(("Strict-Transport-Security", "max-age=31536000"))
    return out
