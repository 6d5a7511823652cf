"""Configuration: one TOML file (``/etc/else/else.toml``) plus environment overrides.

Precedence for every setting is: command-line option, then environment variable, then
the file, then the built-in default. The file is optional for commands that do not
need it (``elsectl parse``/``report`` work on files alone).

File layout (all sections optional)::

    [database]
    dsn = "host=127.0.0.1 dbname=else user=else_worker password=..."   # ELSE_DSN overrides
    owner_dsn = "host=127.0.0.1 dbname=else user=else_owner ..."       # `elsectl db upgrade`
    web_dsn = "host=127.0.0.1 dbname=else user=else_web ..."           # the WUI

    [ingest]
    batch_size = 5000          # raw lines per worker transaction
    poll_interval = 2.0        # seconds between polls when LISTEN/NOTIFY is silent

    [web]
    secret_file = "/etc/else/web-secret"   # signs session cookies
    base_url = "https://else.example.test"

    [snmp]
    user = "elsemgr"
    auth_protocol = "SHA-256"   # SHA-256 | SHA-512 | SHA (never MD5)
    auth_key = "..."
    priv_protocol = "AES"       # AES | AES-256
    priv_key = "..."
    port = 161
    timeout = 2.0
    retries = 1
    poll_interval = 60
    down_after = 3

    [[servers]]                 # one table per PFX host ELSE knows
    name = "pfx"                # the syslog host name its lines carry
    address = "198.18.0.10"     # where SNMP reaches it
    role = "mixed"              # incoming | outgoing | relay | filter | mixed
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from else_core.errors import ConfigError

DEFAULT_PATH = Path("/etc/else/else.toml")
SERVER_ROLES = ("incoming", "outgoing", "relay", "filter", "mixed")
#: Database role -> (key in [database], environment variable).
DSN_KEYS = {
    "worker": ("dsn", "ELSE_DSN"),
    "owner": ("owner_dsn", "ELSE_OWNER_DSN"),
    "web": ("web_dsn", "ELSE_WEB_DSN"),
}


@dataclass(frozen=True, slots=True)
class ServerConfig:
    name: str
    address: str
    role: str = "mixed"


@dataclass(slots=True)
class Config:
    path: Path | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def section(self, name: str) -> dict[str, Any]:
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{self.path}: [{name}] must be a table")
        return value

    def get(self, section: str, key: str, default: Any = None) -> Any:
        return self.section(section).get(key, default)

    def dsn(self, override: str | None = None, role: str = "worker") -> str:
        """The PostgreSQL connection string, or a ConfigError that says where to set one.

        ``role`` picks the database role the caller acts as: ``worker`` (``[database] dsn``,
        ``ELSE_DSN``), ``owner`` (``owner_dsn``, ``ELSE_OWNER_DSN``: migrations) or ``web``
        (``web_dsn``, ``ELSE_WEB_DSN``). Owner and web fall back to the worker DSN, so a
        single-DSN development setup keeps working with one setting.
        """
        if role not in DSN_KEYS:
            raise ValueError(f"unknown database role {role!r}")
        key, env = DSN_KEYS[role]
        dsn = override or (
            (os.environ.get(env) if env != "ELSE_DSN" else None)
            or (self.get("database", key) if key != "dsn" else None)
            or os.environ.get("ELSE_DSN")
            or self.get("database", "dsn")
        )
        if not dsn:
            where = self.path or DEFAULT_PATH
            raise ConfigError(
                f"no database configured: use --dsn, {env}, or [database] {key} in {where}"
            )
        return str(dsn)

    @property
    def servers(self) -> list[ServerConfig]:
        out = []
        for i, raw in enumerate(self.data.get("servers", [])):
            if not isinstance(raw, dict) or "name" not in raw:
                raise ConfigError(f"{self.path}: [[servers]] entry {i + 1} needs a name")
            role = raw.get("role", "mixed")
            if role not in SERVER_ROLES:
                roles = ", ".join(SERVER_ROLES)
                name = raw["name"]
                raise ConfigError(f"{self.path}: server {name!r}: role must be one of {roles}")
            out.append(ServerConfig(str(raw["name"]), str(raw.get("address", raw["name"])), role))
        return out


def load(path: str | os.PathLike[str] | None = None) -> Config:
    """Load the configuration; a missing default file is an empty configuration.

    ``ELSE_CONFIG`` names another file. A file that was asked for explicitly must exist.
    """
    explicit = path or os.environ.get("ELSE_CONFIG")
    target = Path(explicit) if explicit else DEFAULT_PATH
    try:
        with target.open("rb") as fh:
            return Config(target, tomllib.load(fh))
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"configuration file not found: {target}") from None
        return Config(None, {})
    except PermissionError:
        raise ConfigError(f"cannot read configuration file {target}: permission denied") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{target}: invalid TOML: {exc}") from None
