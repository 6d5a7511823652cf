"""The SNMP manager: reads a PFX's status and queue, and sends queue-control SETs.

A thin async layer over pysnmp 7.1 (``pysnmp.hlapi.v3arch.asyncio``). It speaks SNMPv3
authPriv only, always naming both protocols (pysnmp silently falls back to MD5/DES
otherwise), uses numeric OIDs without MIB look-ups, and turns every pysnmp failure into
one clear :class:`~else_core.errors.ElseError` line: a timeout is a
:class:`SnmpTimeout` (the agent, the network or TCP wrappers), a USM report is a
:class:`SnmpAuthError` (wrong key, wrong user), a refused SET is :class:`SnmpRefused`.

net-snmp equivalents, for debugging from a shell (``-m ''``: Debian ships no MIBs)::

    snmpget -v3 -l authPriv -u USER -a SHA-256 -A AUTHKEY -x AES -X PRIVKEY -m '' -On \\
        udp:198.18.0.10:161 .1.3.6.1.4.1.8072.1.3.2.3.1.2.16.101.108.115.101.45.113.117. ...
    snmpbulkwalk ... udp:198.18.0.10:161 .1.3.6.1.4.1.8072.1.3.2.4.1.2     # queue listing lines
    snmpset ... udp:198.18.0.10:161 .1.3.6.1.4.1.8072.9999.25.3.0 s 4F2A3B1C9D   # hold
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pysnmp.error import PySnmpError
from pysnmp.hlapi.v3arch.asyncio import (
    USM_AUTH_HMAC96_SHA,
    USM_AUTH_HMAC192_SHA256,
    USM_AUTH_HMAC384_SHA512,
    USM_PRIV_CFB128_AES,
    USM_PRIV_CFB256_AES_BLUMENTHAL,
    ContextData,
    Integer32,
    ObjectIdentity,
    ObjectType,
    OctetString,
    SnmpEngine,
    UdpTransportTarget,
    UsmUserData,
    bulk_walk_cmd,
    get_cmd,
    set_cmd,
)

from else_core.config import SNMP_DEFAULTS, Config, ServerConfig
from else_core.errors import ConfigError, ElseError, ServiceUnavailable
from else_core.snmp import oids
from else_core.snmp.model import (
    ACTIONS,
    ControlResult,
    DiskUsage,
    HostStatus,
    QueueEntry,
    QueueListing,
    QueueSizes,
    valid_queue_id,
)

AUTH_PROTOCOLS = {
    "SHA": USM_AUTH_HMAC96_SHA,
    "SHA-256": USM_AUTH_HMAC192_SHA256,
    "SHA-512": USM_AUTH_HMAC384_SHA512,
}
PRIV_PROTOCOLS = {"AES": USM_PRIV_CFB128_AES, "AES-256": USM_PRIV_CFB256_AES_BLUMENTHAL}

# USM reports (RFC 3414) and what the operator should check.
_AUTH_HINTS = {
    "WrongDigest": "wrong authentication key or protocol",
    "AuthenticationError": "wrong authentication key or protocol",
    "AuthenticationFailure": "wrong authentication key or protocol",
    "DecryptionError": "wrong privacy key or protocol",
    "UnknownUserName": "unknown SNMPv3 user",
    "UnknownSecurityName": "unknown SNMPv3 user",
    "UnsupportedSecurityLevel": "the agent does not allow authPriv for this user",
    "UnsupportedAuthProtocol": "unsupported authentication protocol",
    "UnsupportedPrivProtocol": "unsupported privacy protocol",
    "NotInTimeWindow": "engine time out of window (agent restarted mid-request?)",
}
_SET_STATUS_HINTS = {
    "wrongValue": "the PFX refused the value (not a valid queue ID?)",
    "wrongType": "the PFX expected another type",
    "notWritable": "the object is not writable",
    "noAccess": "no write access to this object (outside the control subtree?)",
    "authorizationError": "the SNMPv3 user may not write here",
    "commitFailed": "the Postfix command failed on the PFX",
    "noCreation": "no such control object on the PFX (is the pass_persist handler set up?)",
}
SET_TIMEOUT = 15.0  # control commands run postsuper; never retried (a retry would repeat them)


class SnmpTimeout(ServiceUnavailable):
    """No answer: agent down, wrong address/port, blocked by TCP wrappers or a firewall."""


class SnmpAuthError(ElseError):
    """The agent answered with a USM report: wrong user, key or protocol."""


class SnmpRefused(ElseError):
    """The agent refused a request (error-status in the response PDU)."""


@dataclass(frozen=True, slots=True)
class SnmpTarget:
    """Where and how to reach one PFX agent; built from ``[snmp]`` and ``[[servers]]``."""

    name: str
    address: str
    user: str
    auth_key: str
    priv_key: str
    auth_protocol: str = SNMP_DEFAULTS.auth_protocol
    priv_protocol: str = SNMP_DEFAULTS.priv_protocol
    port: int = SNMP_DEFAULTS.port
    timeout: float = SNMP_DEFAULTS.timeout
    retries: int = SNMP_DEFAULTS.retries

    @classmethod
    def from_config(cls, config: Config, server: ServerConfig) -> SnmpTarget:
        snmp = config.section("snmp")
        where = config.path or "the configuration"
        missing = [k for k in ("user", "auth_key", "priv_key") if not snmp.get(k)]
        if missing:
            raise ConfigError(f"[snmp] {', '.join(missing)} missing in {where}")
        auth = str(snmp.get("auth_protocol", SNMP_DEFAULTS.auth_protocol)).upper()
        priv = str(snmp.get("priv_protocol", SNMP_DEFAULTS.priv_protocol)).upper()
        if auth not in AUTH_PROTOCOLS:
            raise ConfigError(f"[snmp] auth_protocol must be one of {', '.join(AUTH_PROTOCOLS)}")
        if priv not in PRIV_PROTOCOLS:
            raise ConfigError(f"[snmp] priv_protocol must be one of {', '.join(PRIV_PROTOCOLS)}")
        try:
            return cls(
                name=server.name,
                address=server.address,
                user=str(snmp["user"]),
                auth_key=str(snmp["auth_key"]),
                priv_key=str(snmp["priv_key"]),
                auth_protocol=auth,
                priv_protocol=priv,
                port=int(snmp.get("port", SNMP_DEFAULTS.port)),
                timeout=float(snmp.get("timeout", SNMP_DEFAULTS.timeout)),
                retries=int(snmp.get("retries", SNMP_DEFAULTS.retries)),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"[snmp] port/timeout/retries must be numbers: {exc}") from None

    @property
    def label(self) -> str:
        return f"{self.name} ({self.address}:{self.port})"


def targets_from_config(config: Config, host: str | None = None) -> list[SnmpTarget]:
    """Every configured server, or the one named (by name or address) by ``host``."""
    servers = config.servers
    if host is not None:
        servers = [s for s in servers if host in (s.name, s.address)]
        if not servers:
            known = ", ".join(s.name for s in config.servers) or "none configured"
            raise ElseError(f"unknown server {host!r} (known: {known})")
    if not servers:
        raise ConfigError(f"no [[servers]] in {config.path or 'the configuration'}")
    return [SnmpTarget.from_config(config, s) for s in servers]


def _oid(text: str) -> ObjectType:
    return ObjectType(ObjectIdentity(text))


def _text(value: Any) -> str:
    if isinstance(value, OctetString):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _number(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _is_missing(value: Any) -> bool:
    """noSuchObject / noSuchInstance / endOfMibView come back as values, not errors."""
    return type(value).__name__ in ("NoSuchObject", "NoSuchInstance", "EndOfMibView", "Null")


class SnmpManager:
    """One pysnmp engine for many requests; use ``async with`` or call :meth:`close`."""

    def __init__(self) -> None:
        self.engine = SnmpEngine()

    async def __aenter__(self) -> SnmpManager:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.engine.close_dispatcher()

    # -- plumbing -------------------------------------------------------------------

    def _auth(self, t: SnmpTarget) -> UsmUserData:
        return UsmUserData(
            t.user,
            authKey=t.auth_key,
            privKey=t.priv_key,
            authProtocol=AUTH_PROTOCOLS[t.auth_protocol],
            privProtocol=PRIV_PROTOCOLS[t.priv_protocol],
        )

    async def _transport(
        self, t: SnmpTarget, timeout: float | None = None, retries: int | None = None
    ) -> UdpTransportTarget:
        try:
            return await UdpTransportTarget.create(
                (t.address, t.port),
                timeout=t.timeout if timeout is None else timeout,
                retries=t.retries if retries is None else retries,
            )
        except PySnmpError as exc:
            raise ElseError(f"SNMP: cannot resolve {t.label}: {exc}") from None

    def _check(self, t: SnmpTarget, err_ind: Any, err_stat: Any, err_idx: Any, vbs: Any) -> None:
        if err_ind:
            kind = type(err_ind).__name__
            if kind == "RequestTimedOut":
                raise SnmpTimeout(
                    f"SNMP: no answer from {t.label} within {t.timeout:g} s x {t.retries + 1}"
                    " (snmpd down, wrong address/port, this host not allowed by TCP wrappers,"
                    " or a wrong [snmp] priv_key: net-snmp drops what it cannot decrypt)"
                )
            if kind in _AUTH_HINTS:
                raise SnmpAuthError(
                    f"SNMP: {t.label} refused user {t.user!r}: {_AUTH_HINTS[kind]} ({err_ind}); "
                    "check [snmp] user/auth_key/priv_key against the PFX's snmpd user"
                )
            raise ElseError(f"SNMP: {t.label}: {err_ind}")
        if err_stat:
            status = err_stat.prettyPrint() if hasattr(err_stat, "prettyPrint") else str(err_stat)
            oid = vbs[int(err_idx) - 1][0] if err_idx and len(vbs) >= int(err_idx) else "?"
            hint = _SET_STATUS_HINTS.get(status, "request refused")
            raise SnmpRefused(f"SNMP: {t.label} answered {status} for {oid}: {hint}")

    async def get(self, t: SnmpTarget, oid_list: Iterable[str]) -> dict[str, Any]:
        """GET several OIDs at once; missing ones map to None."""
        transport = await self._transport(t)
        result = await get_cmd(
            self.engine,
            self._auth(t),
            transport,
            ContextData(),
            *[_oid(o) for o in oid_list],
            lookupMib=False,
        )
        self._check(t, *result)
        return {str(name): (None if _is_missing(value) else value) for name, value in result[3]}

    async def walk(self, t: SnmpTarget, root: str) -> list[tuple[str, Any]]:
        """GETBULK walk of one subtree (stops at its end, not at the end of the MIB)."""
        transport = await self._transport(t)
        rows: list[tuple[str, Any]] = []
        async for err_ind, err_stat, err_idx, vbs in bulk_walk_cmd(
            self.engine,
            self._auth(t),
            transport,
            ContextData(),
            0,
            25,
            _oid(root),
            lexicographicMode=False,
            lookupMib=False,
        ):
            self._check(t, err_ind, err_stat, err_idx, vbs)
            rows.extend((str(name), value) for name, value in vbs if not _is_missing(value))
        return rows

    # -- status --------------------------------------------------------------------

    async def status(self, t: SnmpTarget) -> HostStatus:
        """Queue sizes, oldest deferred age, master state, load, memory and disks."""
        stats_oid = oids.extend_oid(oids.NS_EXTEND_OUTPUT_FULL, oids.EXTEND_STATS)
        stats_rc_oid = oids.extend_oid(oids.NS_EXTEND_RESULT, oids.EXTEND_STATS)
        scalars = [
            oids.SYS_NAME,
            oids.SYS_UPTIME,
            *oids.LA_LOAD,
            oids.MEM_TOTAL_REAL,
            oids.MEM_AVAIL_REAL,
            oids.MEM_BUFFER,
            oids.MEM_CACHED,
            oids.MEM_TOTAL_SWAP,
            oids.MEM_AVAIL_SWAP,
            stats_oid,
            stats_rc_oid,
        ]
        values = await self.get(t, scalars)
        disks = parse_disks(await self.walk(t, oids.DSK_ENTRY))
        stats_text = values.get(stats_oid)
        stats, stats_error = parse_stats(
            None if stats_text is None else _text(stats_text), _number(values.get(stats_rc_oid))
        )
        loads = [values.get(o) for o in oids.LA_LOAD]
        load: tuple[float, float, float] | None = None
        if all(v is not None for v in loads):
            try:
                one, five, fifteen = (float(_text(v)) for v in loads)  # 1, 5, 15 minutes
                load = (one, five, fifteen)
            except ValueError:
                pass
        uptime = values.get(oids.SYS_UPTIME)
        master = stats.get("master_running")
        oldest = stats.get("oldest_deferred_age")
        return HostStatus(
            server=t.name,
            address=t.address,
            at=datetime.now(UTC),
            queues=QueueSizes(**{q: stats.get(q) for q in QueueSizes.__dataclass_fields__}),
            oldest_deferred_age=None if oldest is None or oldest < 0 else oldest,
            master_running=None if master is None else bool(master),
            sys_name=None if values.get(oids.SYS_NAME) is None else _text(values[oids.SYS_NAME]),
            uptime_seconds=None if uptime is None else int(uptime) / 100.0,
            load=load,
            mem_total_kb=_number(values.get(oids.MEM_TOTAL_REAL)),
            mem_free_kb=_number(values.get(oids.MEM_AVAIL_REAL)),
            mem_buffer_kb=_number(values.get(oids.MEM_BUFFER)),
            mem_cached_kb=_number(values.get(oids.MEM_CACHED)),
            swap_total_kb=_number(values.get(oids.MEM_TOTAL_SWAP)),
            swap_free_kb=_number(values.get(oids.MEM_AVAIL_SWAP)),
            disks=disks,
            stats_error=stats_error,
        )

    async def queue(self, t: SnmpTarget) -> QueueListing:
        """The PFX's queue listing (``postqueue -j`` through the else-queue-list extend)."""
        root = oids.extend_oid(oids.NS_EXTEND_OUT_LINE, oids.EXTEND_LIST)
        rc_oid = oids.extend_oid(oids.NS_EXTEND_RESULT, oids.EXTEND_LIST)
        rows = await self.walk(t, root)
        if not rows:
            rc = (await self.get(t, [rc_oid])).get(rc_oid)
            if rc is None:
                raise SnmpRefused(
                    f"SNMP: {t.label} has no {oids.EXTEND_LIST} extend (is the snmpd role applied?)"
                )
        prefix = root + "."
        lines = sorted(
            ((int(name[len(prefix) :]), _text(value)) for name, value in rows),
            key=lambda r: r[0],
        )
        return parse_listing(t.name, [line for _, line in lines])

    # -- control -------------------------------------------------------------------

    async def control(
        self, t: SnmpTarget, action: str, queue_id: str | None = None
    ) -> ControlResult:
        """Send one control SET; the queue ID is checked here before anything is sent."""
        action, value = check_action(action, queue_id)
        transport = await self._transport(t, timeout=max(t.timeout, SET_TIMEOUT), retries=0)
        result = await set_cmd(
            self.engine,
            self._auth(t),
            transport,
            ContextData(),
            ObjectType(ObjectIdentity(oids.control_oid(action)), value),
            lookupMib=False,
        )
        err_ind, err_stat = result[0], result[1]
        if err_ind and type(err_ind).__name__ == "RequestTimedOut":
            wait = max(t.timeout, SET_TIMEOUT)
            raise SnmpTimeout(
                f"SNMP: no answer from {t.label} to {action} within {wait:g} s;"
                " the action may or may not have run (see the PFX's syslog)"
            )
        refused: SnmpRefused | None = None
        try:
            self._check(t, *result)
        except SnmpRefused as exc:
            refused = exc
        status = err_stat.prettyPrint() if err_stat else "noError"
        if refused is not None and status != "commitFailed":
            raise refused
        detail = await self.last_result(t)
        if f" {action} {queue_id or '-'} " not in f"{detail} ":
            # Another manager acted in between: its result is not ours to show.
            detail = ""
        if refused is not None:
            return ControlResult(t.name, action, queue_id, False, detail or str(refused))
        return ControlResult(t.name, action, queue_id, True, detail or "done")

    async def last_result(self, t: SnmpTarget) -> str:
        """The PFX's description of its last control action ("" when it has none)."""
        try:
            value = (await self.get(t, [oids.LAST_RESULT])).get(oids.LAST_RESULT)
        except ElseError:
            return ""
        return "" if value is None else _text(value)


def check_action(action: str, queue_id: str | None) -> tuple[str, Integer32 | OctetString]:
    """Map a CLI/WUI action to its control object and value, refusing bad queue IDs."""
    if action == "flush" and queue_id:
        action = "flush-id"
    if action not in ACTIONS:
        raise ElseError(f"unknown action {action!r} (one of {', '.join(ACTIONS)})")
    if action == "flush":
        return action, Integer32(1)
    if not queue_id:
        raise ElseError(f"{action} needs a queue ID")
    if not valid_queue_id(queue_id):
        raise ElseError(
            f"invalid queue ID {queue_id[:64]!r}: expected a Postfix queue ID "
            "(short: 6+ upper-case hex digits; long: 10+ characters of 0-9, consonants)"
        )
    return action, OctetString(queue_id)


def parse_stats(text: str | None, rc: int | None) -> tuple[dict[str, int], str | None]:
    """The else-queue-stats extend prints "name value" lines; anything else is an error."""
    if text is None:
        return {}, "no else-queue-stats extend on this PFX (is the snmpd role applied?)"
    out: dict[str, int] = {}
    for line in text.splitlines():
        name, _, value = line.strip().partition(" ")
        try:
            out[name] = int(value)
        except ValueError:
            continue
    if rc not in (0, None) or not out:
        return out, (" ".join(text.split())[:200] or f"exit status {rc}")
    return out, None


def parse_disks(rows: list[tuple[str, Any]]) -> tuple[DiskUsage, ...]:
    """dskTable walk -> one DiskUsage per row (low/high halves joined into 64-bit kB)."""
    table: dict[str, dict[int, Any]] = {}
    prefix = oids.DSK_ENTRY + "."
    for name, value in rows:
        if not name.startswith(prefix):
            continue
        column, _, index = name[len(prefix) :].partition(".")
        table.setdefault(index, {})[int(column)] = value

    def wide(row: dict[int, Any], low: int, high: int) -> int:
        return ((_number(row.get(high)) or 0) << 32) | ((_number(row.get(low)) or 0) & 0xFFFFFFFF)

    disks = []
    for index in sorted(table, key=lambda i: int(i) if i.isdigit() else 0):
        row = table[index]
        if oids.DSK_PATH not in row:
            continue
        disks.append(
            DiskUsage(
                path=_text(row[oids.DSK_PATH]),
                total_kb=wide(row, oids.DSK_TOTAL_LOW, oids.DSK_TOTAL_HIGH),
                used_kb=wide(row, oids.DSK_USED_LOW, oids.DSK_USED_HIGH),
                avail_kb=wide(row, oids.DSK_AVAIL_LOW, oids.DSK_AVAIL_HIGH),
                percent=_number(row.get(oids.DSK_PERCENT)) or 0,
            )
        )
    return tuple(disks)


def parse_listing(server: str, lines: list[str]) -> QueueListing:
    """JSON lines of else-queue-list: entries, then maybe {"truncated": ...} or {"error": ...}."""
    entries = []
    truncated, total, skipped = False, None, 0
    for line in lines:
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            skipped += 1
            continue
        if not isinstance(obj, dict):
            skipped += 1
        elif "error" in obj:
            raise ElseError(f"SNMP: {server}: queue listing failed on the PFX: {obj['error']}")
        elif obj.get("truncated"):
            truncated, total = True, _number(obj.get("total"))
        elif "queue_id" in obj:
            entries.append(QueueEntry.from_json(obj))
        else:
            skipped += 1
    return QueueListing(
        server=server,
        entries=tuple(entries),
        truncated=truncated,
        total=total if total is not None else len(entries),
        skipped_lines=skipped,
    )


def run(coro: Any) -> Any:
    """Run one manager coroutine from synchronous code (the CLI, the WUI)."""
    return asyncio.run(coro)
