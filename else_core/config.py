"""Configuration: one TOML file (``/etc/else/else.toml``) plus environment overrides.

Precedence for every setting is: command-line option, then environment variable, then
the file, then the built-in default. The file is optional for commands that do not
need it (``elsectl parse``/``report`` work on files alone).

File layout (all sections optional)::

    [database]
    dsn = "host=127.0.0.1 dbname=else user=else_worker password=..."   # ELSE_DSN overrides
    owner_dsn = "host=127.0.0.1 dbname=else user=else_owner ..."       # `elsectl db upgrade`
    web_dsn = "host=127.0.0.1 dbname=else user=else_web ..."           # the WUI
    web_read_dsn = "host=/run/postgresql dbname=else user=else_web ..."  # the WUI's reads
                                # (a hot standby on a frontend host; empty: web_dsn)

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

    [alerts]                    # docs/alerts.md
    interval = 60               # seconds between evaluations
    mail_to = "postmaster@example.org"   # comma-separated; empty: no e-mail
    webhook_url = ""            # JSON POST per alert event; empty: no webhook

    [[servers]]                 # one table per PFX host ELSE knows
    name = "pfx"                # the syslog host name its lines carry
    address = "198.18.0.10"     # where SNMP reaches it
    role = "mixed"              # incoming | outgoing | relay | filter | mixed
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from else_core.errors import ConfigError

DEFAULT_PATH = Path("/etc/else/else.toml")
SERVER_ROLES = ("incoming", "outgoing", "relay", "filter", "mixed")
#: Database role -> (key in [database], environment variable).
DSN_KEYS = {
    "worker": ("dsn", "ELSE_DSN"),
    "owner": ("owner_dsn", "ELSE_OWNER_DSN"),
    "web": ("web_dsn", "ELSE_WEB_DSN"),
}


# -- sections: one dataclass each, its defaults the only ones ----------------------------
# The else_app role writes a key only when the deployer set its variable (they default to
# null), so these defaults apply on the appliance too; tests/unit/test_role_config_defaults.py
# fails if the role grows its own copy.


@dataclass(frozen=True, slots=True)
class DatabaseSection:
    dsn: str = ""
    owner_dsn: str = ""
    web_dsn: str = ""
    web_read_dsn: str = ""


@dataclass(frozen=True, slots=True)
class IngestSection:
    batch_size: int = 5000
    poll_interval: float = 2.0


@dataclass(frozen=True, slots=True)
class WebSection:
    secret_file: str = "/etc/else/web-secret"  # noqa: S105 - a path, not a secret
    base_url: str = ""
    insecure_http: bool = False
    timezone: str = "UTC"
    session_max_age: int = 12 * 3600


@dataclass(frozen=True, slots=True)
class SnmpSection:
    user: str = ""
    auth_protocol: str = "SHA-256"
    auth_key: str = ""
    priv_protocol: str = "AES"
    priv_key: str = ""
    port: int = 161
    timeout: float = 2.0
    retries: int = 1
    poll_interval: float = 60
    down_after: int = 3


@dataclass(frozen=True, slots=True)
class AlertsSection:
    interval: float = 60.0
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_timeout: float = 10.0
    mail_from: str = "else-alerts@localhost"
    mail_to: str = ""
    webhook_url: str = ""
    webhook_timeout: float = 5.0
    max_attempts: int = 10
    retry_interval: float = 60.0
    dns_resolver: str = ""
    dns_timeout: float = 2.0


#: Section name -> its dataclass (``[[servers]]`` is a list, read by ``Config.servers``).
SECTIONS: dict[str, type[Any]] = {
    "database": DatabaseSection,
    "ingest": IngestSection,
    "web": WebSection,
    "snmp": SnmpSection,
    "alerts": AlertsSection,
}
#: The built-in defaults, for code that reads a raw section table or takes a setting as an
#: argument (a dataclass with slots keeps no class-level default to read).
INGEST_DEFAULTS = IngestSection()
WEB_DEFAULTS = WebSection()
SNMP_DEFAULTS = SnmpSection()
_S = TypeVar("_S")
_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _typed(want: type[Any], value: Any) -> bool:
    if want is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if want is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, want)


def section_problems(name: str, table: dict[str, Any]) -> list[str]:
    """What is wrong with a section's table: unknown keys and values of the wrong type."""
    cls = SECTIONS[name]
    types = {f.name: _field_type(f) for f in fields(cls)}
    out = []
    for key, value in table.items():
        if key not in types:
            out.append(f"[{name}] unknown key {key!r} (known: {', '.join(types)})")
        elif not _typed(types[key], value):
            out.append(f"[{name}] {key} must be {_TYPE_NAMES[types[key]]}, not {value!r}")
    return out


def _field_type(f: Any) -> type[Any]:
    """A section field's type (the annotations are strings under PEP 563)."""
    return {"str": str, "int": int, "float": float, "bool": bool}[str(f.type)]


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

    def typed(self, name: str, cls: type[_S]) -> _S:
        """Section ``name`` as its dataclass; a value of the wrong type is a ConfigError
        (an unknown key is not: ``elsectl config check`` reports those)."""
        table = self.section(name)
        problems = [p for p in section_problems(name, table) if "unknown key" not in p]
        if problems:
            raise ConfigError(f"{self.path or DEFAULT_PATH}: {problems[0]}")
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]  # a dataclass
        return cls(**{k: v for k, v in table.items() if k in known})

    @property
    def ingest(self) -> IngestSection:
        return self.typed("ingest", IngestSection)

    @property
    def web(self) -> WebSection:
        return self.typed("web", WebSection)

    @property
    def snmp(self) -> SnmpSection:
        return self.typed("snmp", SnmpSection)

    @property
    def alerts(self) -> AlertsSection:
        return self.typed("alerts", AlertsSection)

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

    def read_dsn(self, override: str | None = None) -> str:
        """The WUI's read-only DSN (a hot standby), or "" when reads go to ``web_dsn``.

        ``ELSE_WEB_READ_DSN`` overrides ``[database] web_read_dsn``; see
        :mod:`else_core.db.routing` for how the WUI uses the two.
        """
        env = os.environ.get("ELSE_WEB_READ_DSN")
        dsn = override or env or self.get("database", "web_read_dsn")
        return str(dsn or "")

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


def check(cfg: Config) -> list[str]:
    """Every problem of a configuration (empty: it is fine), for ``elsectl config check``."""
    out = []
    for name, value in cfg.data.items():
        if name == "servers":
            continue
        if name not in SECTIONS:
            out.append(f"unknown section [{name}] (known: {', '.join([*SECTIONS, 'servers'])})")
        elif not isinstance(value, dict):
            out.append(f"[{name}] must be a table")
        else:
            out += section_problems(name, value)
    servers = cfg.data.get("servers", [])
    if not isinstance(servers, list):
        out.append("servers must be [[servers]] tables")
    else:
        try:
            names = [s.name for s in cfg.servers]
        except ConfigError as exc:
            out.append(str(exc).removeprefix(f"{cfg.path}: "))
        else:
            dupes = sorted({n for n in names if names.count(n) > 1})
            out += [f"server {n!r} is listed twice" for n in dupes]
    snmp = cfg.data.get("snmp")
    if isinstance(snmp, dict):
        if str(snmp.get("auth_protocol", "SHA-256")).upper() not in ("SHA-256", "SHA-512", "SHA"):
            out.append("[snmp] auth_protocol must be SHA-256, SHA-512 or SHA")
        if str(snmp.get("priv_protocol", "AES")).upper() not in ("AES", "AES-256"):
            out.append("[snmp] priv_protocol must be AES or AES-256")
    out += _alerts_problems(cfg.data.get("alerts"))
    return out


def _alerts_problems(alerts: Any) -> list[str]:
    if not isinstance(alerts, dict):
        return []
    out = []
    for key in ("interval", "smtp_timeout", "webhook_timeout", "retry_interval", "dns_timeout"):
        value = alerts.get(key, 1)
        if _typed(float, value) and value <= 0:
            out.append(f"[alerts] {key} must be > 0")
    attempts = alerts.get("max_attempts", 1)
    if _typed(int, attempts) and attempts < 1:
        out.append("[alerts] max_attempts must be >= 1")
    url = alerts.get("webhook_url", "")
    if isinstance(url, str) and url and not url.startswith(("http://", "https://")):
        out.append("[alerts] webhook_url must start with http:// or https://")
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
