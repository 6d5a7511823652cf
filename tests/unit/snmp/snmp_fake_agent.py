"""A pysnmp command responder on 127.0.0.1 that plays a PFX's snmpd for the manager.

It serves the same numeric OIDs the snmpd role configures (host figures, the two
extends, the dskTable, the control subtree) with one SHA-256/AES user, and its writable
control objects record every committed SET in ``agent.calls``. It runs in its own thread
and event loop, so the code under test (including ``elsectl``) uses ``asyncio.run`` as
it does in production.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.entity import config, engine
from pysnmp.entity.rfc3413 import cmdrsp, context
from pysnmp.proto.api import v2c

from else_core.snmp import oids

USER, AUTH_KEY, PRIV_KEY = "elsemgr", "auth-pass-12345", "priv-pass-12345"


def oid_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split("."))


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class FakePfx:
    """State the agent serves; tests change it and read ``calls``."""

    port: int
    stats: str = (
        "maildrop 0\nincoming 1\nactive 2\ndeferred 3\nhold 4\n"
        "oldest_deferred_age 3600\nmaster_running 1\n"
    )
    listing: list[str] = field(default_factory=list)
    calls: list[tuple[str, Any]] = field(default_factory=list)
    fail_next: bool = False
    last: str = "none"
    foreign_last: str | None = None  # what lastResult shows instead, if set
    loop: Any = None


def build_agent(pfx: FakePfx, ready: threading.Event, box: dict[str, Any]) -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    eng = engine.SnmpEngine()
    config.add_transport(
        eng, udp.DOMAIN_NAME, udp.UdpTransport().open_server_mode(("127.0.0.1", pfx.port))
    )
    config.add_v3_user(
        eng, USER, config.USM_AUTH_HMAC192_SHA256, AUTH_KEY, config.USM_PRIV_CFB128_AES, PRIV_KEY
    )
    control = oid_tuple(oids.CONTROL)
    config.add_vacm_user(eng, 3, USER, "authPriv", (1, 3, 6), control)
    ctx = context.SnmpContext(eng)
    builder = ctx.get_mib_instrum().get_mib_builder()
    mib_scalar, mib_instance = builder.import_symbols(
        "SNMPv2-SMI", "MibScalar", "MibScalarInstance"
    )

    class Dynamic(mib_instance):
        """Value computed from the FakePfx state at each read."""

        def __init__(self, type_name, inst_id, syntax, read):
            super().__init__(type_name, inst_id, syntax)
            self._read = read

        def getValue(self, name, **ctx):
            return self.syntax.clone(self._read())

    class Control(mib_instance):
        def writeCommit(self, varBind, **ctx):
            action = {v: k for k, v in oids.CONTROL_COLUMNS.items()}[self.typeName[-1]]
            value = varBind[1]
            arg = int(value) if action == "flush" else bytes(value).decode()
            shown = "-" if action == "flush" else arg  # as else-snmp-ctl writes lastResult
            pfx.calls.append((action, arg))
            super().writeCommit(varBind, **ctx)
            if pfx.fail_next:
                pfx.fail_next = False
                pfx.last = f"{len(pfx.calls)} {action} {shown} failed no such message"
                raise pysnmp_error.CommitFailedError(name=varBind[0], idx=ctx.get("idx"))
            pfx.last = f"{len(pfx.calls)} {action} {shown} ok"

    from pysnmp.smi import error as pysnmp_error

    symbols: list[Any] = []
    scalars: dict[tuple[int, ...], Any] = {}

    def serve(oid: str, syntax: Any, read=None) -> None:
        full = oid_tuple(oid)
        # Scalars are leaves of a "type" OID one level up; tables here are scalars too,
        # each row one instance, which is all a GET/GETNEXT/GETBULK client can tell.
        type_oid, inst = full[:-1], full[-1:]
        if type_oid not in scalars:
            scalars[type_oid] = mib_scalar(type_oid, syntax.clone())
            symbols.append(scalars[type_oid])
        if read is None:
            symbols.append(mib_instance(type_oid, inst, syntax))
        else:
            symbols.append(Dynamic(type_oid, inst, syntax, read))

    serve(oids.SYS_NAME, v2c.OctetString("pfx-test"))
    serve(oids.SYS_UPTIME, v2c.TimeTicks(123456))
    for i, load in enumerate(("0.15", "0.10", "0.05")):
        serve(oids.LA_LOAD[i], v2c.OctetString(load))
    for oid, value in (
        (oids.MEM_TOTAL_REAL, 2048000),
        (oids.MEM_AVAIL_REAL, 1024000),
        (oids.MEM_BUFFER, 100000),
        (oids.MEM_CACHED, 200000),
        (oids.MEM_TOTAL_SWAP, 0),
        (oids.MEM_AVAIL_SWAP, 0),
    ):
        serve(oid, v2c.Integer32(value))
    for col, value in (
        (oids.DSK_PATH, v2c.OctetString("/")),
        (oids.DSK_PERCENT, v2c.Integer32(40)),
        (oids.DSK_TOTAL_LOW, v2c.Gauge32(1000000)),
        (oids.DSK_TOTAL_HIGH, v2c.Gauge32(1)),
        (oids.DSK_AVAIL_LOW, v2c.Gauge32(600000)),
        (oids.DSK_AVAIL_HIGH, v2c.Gauge32(0)),
        (oids.DSK_USED_LOW, v2c.Gauge32(400000)),
        (oids.DSK_USED_HIGH, v2c.Gauge32(0)),
    ):
        serve(f"{oids.DSK_ENTRY}.{col}.1", value)
    serve(
        oids.extend_oid(oids.NS_EXTEND_OUTPUT_FULL, oids.EXTEND_STATS),
        v2c.OctetString(""),
        lambda: pfx.stats,
    )
    serve(oids.extend_oid(oids.NS_EXTEND_RESULT, oids.EXTEND_STATS), v2c.Integer32(0))
    serve(oids.extend_oid(oids.NS_EXTEND_RESULT, oids.EXTEND_LIST), v2c.Integer32(0))
    line_root = oids.extend_oid(oids.NS_EXTEND_OUT_LINE, oids.EXTEND_LIST)
    for n in range(1, 41):  # up to 40 listing lines; unset ones read as empty strings
        serve(f"{line_root}.{n}", v2c.OctetString(""), lambda n=n: _line(pfx, n))

    for action, col in oids.CONTROL_COLUMNS.items():
        type_oid = (*control, col)
        syntax = v2c.Integer32(0) if action == "flush" else v2c.OctetString("")
        symbols.append(mib_scalar(type_oid, syntax.clone()).setMaxAccess("read-write"))
        symbols.append(Control(type_oid, (0,), syntax))
    serve(oids.LAST_RESULT, v2c.OctetString(""), lambda: pfx.foreign_last or pfx.last)

    builder.export_symbols("__ELSE_FAKE_PFX", *symbols)
    for app in (
        cmdrsp.GetCommandResponder,
        cmdrsp.SetCommandResponder,
        cmdrsp.NextCommandResponder,
        cmdrsp.BulkCommandResponder,
    ):
        app(eng, ctx)
    box["loop"], box["engine"] = loop, eng
    ready.set()
    loop.run_forever()
    eng.close_dispatcher()
    loop.close()


def _line(pfx: FakePfx, n: int) -> str:
    return pfx.listing[n - 1] if n <= len(pfx.listing) else ""


def queue_line(queue_id: str, queue_name: str = "deferred", **extra: Any) -> str:
    obj = {
        "queue_name": queue_name,
        "queue_id": queue_id,
        "arrival_time": 1700000000,
        "message_size": 1234,
        "sender": "alice@example.test",
        "recipients": [{"address": "bob@example.test", "delay_reason": "connection refused"}],
        **extra,
    }
    return json.dumps(obj, separators=(",", ":"))
