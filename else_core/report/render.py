"""Render a report dict as text (pflogsumm's look), JSON (exact numbers) or CSV (tables).

The text form keeps pflogsumm's layout and units (``27825k``: integers above 512 k are
shown in k, above 512 m in m, both 1024-based) so that people used to pflogsumm find
their way; JSON and CSV always carry the exact integers.
"""

from __future__ import annotations

import csv
import io
import json
import textwrap
from collections.abc import Callable
from typing import Any

from else_core.report.pflogsumm import KEYS

_ONE_K, _ONE_M = 1024, 1024 * 1024
_K_AT, _M_AT = 524288, 536870912


def int_units(value: float) -> str:
    """pflogsumm's ``adj_int_units`` + ``%6d%s``: ``"  2745 "``, ``" 27825k"``."""
    unit = " "
    if value > _M_AT:
        value, unit = value / _ONE_M, "m"
    elif value > _K_AT:
        value, unit = value / _ONE_K, "k"
    return f"{int(value):6d}{unit}"


def time_units(value: float) -> str:
    """pflogsumm's ``adj_time_units`` + ``%5.1f %s``: ``"  1.5 m"``."""
    unit = "s"
    if value > 3600:
        value, unit = value / 3600, "h"
    elif value > 60:
        value, unit = value / 60, "m"
    return f"{value:5.1f} {unit}"


def hms(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:2d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def clean(text: Any) -> str:
    """One line of printable text: log data can carry control characters."""
    return "".join(ch if ch.isprintable() else "?" for ch in str(text))


def _title(out: list[str], title: str) -> None:
    out.extend(("", title, "-" * len(title)))


# -- JSON --------------------------------------------------------------------------------------


def render_json(report: dict[str, Any]) -> str:
    return json.dumps(report, ensure_ascii=False, indent=1) + "\n"


# -- CSV ---------------------------------------------------------------------------------------

# section name -> how to get its rows from the report
_CSV_SECTIONS: dict[str, Callable[[dict[str, Any]], list[dict[str, Any]]]] = {
    "totals": lambda r: [{"name": k, "value": v} for k, v in r["totals"].items()],
    "ways": lambda r: r.get("ways", []),
    "per_day": lambda r: r["per_day"],
    "per_hour": lambda r: r["per_hour"],
    "recipient_domains": lambda r: r["recipient_domains"],
    "sending_domains": lambda r: r["sending_domains"],
    "senders_by_count": lambda r: r["senders_by_count"],
    "recipients_by_count": lambda r: r["recipients_by_count"],
    "senders_by_size": lambda r: r["senders_by_size"],
    "recipients_by_size": lambda r: r["recipients_by_size"],
    "deferrals": lambda r: r["deferrals"],
    "bounces": lambda r: r["bounces"],
    "rejects": lambda r: r["rejects"],
    "reject_warnings": lambda r: r["reject_warnings"],
    "holds": lambda r: r["holds"],
    "discards": lambda r: r["discards"],
    "smtp_failures": lambda r: r["smtp_failures"],
    "warnings": lambda r: r["warnings"],
    "errors": lambda r: r["errors"],
    "fatals": lambda r: r["fatals"],
    "panics": lambda r: r["panics"],
    "master": lambda r: r["master"],
    "smtpd": lambda r: [
        {"name": k, "value": v} for k, v in r["smtpd"].items() if not isinstance(v, list)
    ],
    "smtpd_per_hour": lambda r: r["smtpd"]["per_hour"],
    "smtpd_domains": lambda r: r["smtpd"]["domains"],
    "postscreen": lambda r: [
        {"name": k, "value": v}
        for k, v in (
            [(k, v) for k, v in r["postscreen"].items() if isinstance(v, int)]
            + list(r["postscreen"]["events"].items())
        )
    ],
    "postscreen_dnsbl_sites": lambda r: r["postscreen"]["dnsbl_sites"],
    "emails_by_status": lambda r: [
        {"name": k, "value": v} for k, v in r["emails"]["by_status"].items()
    ],
    "recipients_by_status": lambda r: [
        {"name": k, "value": v} for k, v in r["emails"]["recipients_by_status"].items()
    ],
}


def csv_cell(value: Any) -> Any:
    """Log text is attacker-controlled: no control characters, and no cell a spreadsheet
    would run as a formula (``=``, ``+``, ``-``, ``@`` first: quoted with ``'``, OWASP)."""
    if not isinstance(value, str):
        return value
    value = clean(value)
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def _csv_table(w: Any, section: str, rows: list[dict[str, Any]]) -> None:
    """One table: a header row (``section`` first), then its rows; a blank line after."""
    if not rows:
        return
    cols = list(rows[0])
    w.writerow(["section", *cols])
    for row in rows:
        w.writerow([section, *(csv_cell(row.get(c, "")) for c in cols)])
    w.writerow([])


def render_csv(report: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for section, rows in _CSV_SECTIONS.items():
        _csv_table(w, section, rows(report))
    return buf.getvalue()


# -- text --------------------------------------------------------------------------------------

_TRAFFIC_HEAD = (
    "    {0:<12}  received  delivered   deferred    bounced     rejected",
    "    --------------------------------------------------------------------",
)


def _grand_totals(out: list[str], t: dict[str, Any]) -> None:
    _title(out, "Grand Totals")
    out.extend(("messages", ""))
    out.append(f" {int_units(t['received'])}  received")
    out.append(f" {int_units(t['delivered'])}  delivered")
    out.append(f" {int_units(t['forwarded'])}  forwarded")
    line = f" {int_units(t['deferred'])}  deferred"
    if t["deferrals"]:
        line += f"  ({int_units(t['deferrals']).strip()} deferrals)"
    out.append(line)
    out.append(f" {int_units(t['bounced'])}  bounced")
    out.append(f" {int_units(t['rejected'])}  rejected ({t.get('rejected_pct', 0)}%)")
    out.append(f" {int_units(t['reject_warnings'])}  reject warnings")
    out.append(f" {int_units(t['held'])}  held")
    out.append(f" {int_units(t['discarded'])}  discarded ({t.get('discarded_pct', 0)}%)")
    out.append("")
    out.append(f" {int_units(t['bytes_received'])}  bytes received")
    out.append(f" {int_units(t['bytes_delivered'])}  bytes delivered")
    out.append(f" {int_units(t['senders'])}  senders")
    out.append(f" {int_units(t['sending_hosts_domains'])}  sending hosts/domains")
    out.append(f" {int_units(t['recipients'])}  recipients")
    out.append(f" {int_units(t['recipient_hosts_domains'])}  recipient hosts/domains")
    if "notifications" in t:
        out.append(f" {int_units(t['notifications'])}  notifications (bounce/delay/success DSNs)")


def _traffic(out: list[str], title: str, rows: list[tuple[str, list[float]]], head: str) -> None:
    _title(out, title)
    out.append(_TRAFFIC_HEAD[0].format(head))
    out.append(_TRAFFIC_HEAD[1])
    for label, values in rows:
        out.append(f"    {label:<12}" + "".join(f"    {int_units(v)}" for v in values))


def _table(out: list[str], title: str, head: str, lines: list[str]) -> None:
    if not lines:
        return
    _title(out, title)
    if head:
        out.append(head)
    out.extend(lines)


def _counted(rows: list[dict[str, Any]], *keys: str) -> list[str]:
    out = []
    for row in rows:
        label = "  ".join(clean(row[k]) for k in keys if row.get(k) not in (None, ""))
        out.append(f"  {int_units(row['count'])}  {label}")
    return out


def render_text(report: dict[str, Any]) -> str:
    out: list[str] = []
    t = report["totals"]
    period = report["period"]
    out.append(
        "ELSE report" + (f": {period['first']} .. {period['last']}" if period["first"] else "")
    )
    _grand_totals(out, t)

    out.append("")
    out.append("e-mails (each message once, through content filters and forwards)")
    out.append("")
    emails = report["emails"]
    out.append(f" {int_units(emails['total'])}  e-mails")
    for status, n in emails["by_status"].items():
        if n:
            out.append(f" {int_units(n)}  {status}")
    out.append("")
    out.append("recipients by final status")
    out.append("")
    for status, n in emails["recipients_by_status"].items():
        if n:
            out.append(f" {int_units(n)}  {status}")
    if "ways" in report:
        out.append("")
        out.append("e-mails by way through the servers (their roles)")
        out.append("")
        for row in report["ways"]:
            out.append(f" {int_units(row['emails'])}  {clean(row['way'])}")

    days = period["days"]
    if len(report["per_day"]) > 1:
        _traffic(
            out,
            "Per-Day Traffic Summary",
            [(r["date"], [r[k] for k in _TRAFFIC_KEYS]) for r in report["per_day"]],
            "date",
        )
    _traffic(
        out,
        f"Per-Hour Traffic {'Daily Average' if days > 1 else 'Summary'}",
        [
            (
                f"{r['hour']:02d}00-{r['hour'] + 1:02d}00",
                [r[k] / days + 0.5 if days else 0 for k in _TRAFFIC_KEYS],
            )
            for r in report["per_hour"]
        ],
        "time",
    )
    _table(
        out,
        "Host/Domain Summary: Message Delivery",
        " sent cnt  bytes   defers   avg dly max dly host/domain\n"
        " -------- -------  -------  ------- ------- -----------",
        [
            f" {int_units(d['delivered'])}  {int_units(d['bytes'])}  {int_units(d['defers'])}"
            f"  {time_units(d['avg_delay'])}  {time_units(d['max_delay'])}  {clean(d['domain'])}"
            for d in report["recipient_domains"]
        ],
    )
    _table(
        out,
        "Host/Domain Summary: Messages Received",
        " msg cnt   bytes   host/domain\n -------- -------  -----------",
        [
            f" {int_units(d['received'])}  {int_units(d['bytes'])}  {clean(d['domain'])}"
            for d in report["sending_domains"]
        ],
    )
    smtpd = report["smtpd"]
    if smtpd["connections"]:
        _title(out, "smtpd Connection Statistics")
        out.append(f"  {int_units(smtpd['connections'])}  connections")
        out.append(f"  {int_units(smtpd['hosts_domains'])}  hosts/domains")
        out.append(f"  {int(smtpd['avg_seconds'] + 0.5):6d}   avg. connect time (seconds)")
        out.append(f"  {int(smtpd['max_seconds'] + 0.5):6d}   max. connect time (seconds)")
        out.append(f" {hms(smtpd['total_seconds'])}  total connect time")
        _table(
            out,
            "Host/Domain Summary: SMTPD Connections",
            " connections  time conn.  avg./conn.  max. time  host/domain\n"
            " -----------  ----------  ----------  ---------  -----------",
            [
                f"  {int_units(d['connections'])}     {hms(d['total_seconds'])}"
                f"  {d['avg_seconds']:10.1f}  {d['max_seconds']:9.1f}  {clean(d['domain'])}"
                for d in smtpd["domains"]
            ],
        )
    for key, title in (
        ("senders_by_count", "Senders by message count"),
        ("recipients_by_count", "Recipients by message count"),
    ):
        _table(
            out,
            title,
            "",
            [f" {int_units(r['messages'])}  {clean(r['address'])}" for r in report[key]],
        )
    for key, title in (
        ("senders_by_size", "Senders by message size"),
        ("recipients_by_size", "Recipients by message size"),
    ):
        _table(
            out,
            title,
            "",
            [f" {int_units(r['bytes'])}  {clean(r['address'])}" for r in report[key]],
        )
    ps = report["postscreen"]
    if ps["connects"] or ps["events"] or ps["pass_new"] or ps["pass_old"]:
        _title(out, "postscreen")
        out.append(f"  {int_units(ps['connects'])}  connections")
        out.append(f"  {int_units(ps['pass_new'])}  PASS NEW")
        out.append(f"  {int_units(ps['pass_old'])}  PASS OLD")
        out.append(f"  {int_units(ps['rejects'])}  rejected")
        for name, n in ps["events"].items():
            out.append(f"  {int_units(n)}  {clean(name.upper().replace('_', ' '))}")
        _table(out, "postscreen DNSBL hits by list", "", _counted(ps["dnsbl_sites"], "domain"))
    for key, title, keys in (
        ("deferrals", "message deferral detail", ("daemon", "reason")),
        ("bounces", "message bounce detail (by relay)", ("relay", "reason")),
        ("rejects", "message reject detail", ("daemon", "stage", "reason")),
        ("reject_warnings", "message reject warning detail", ("daemon", "stage", "reason")),
        ("holds", "message hold detail", ("daemon", "stage", "reason")),
        ("discards", "message discard detail", ("daemon", "stage", "reason")),
        ("smtp_failures", "smtp delivery failures", ("reason", "host")),
        ("warnings", "Warnings", ("daemon", "text")),
        ("errors", "Errors", ("daemon", "text")),
        ("fatals", "Fatal Errors", ("daemon", "text")),
        ("panics", "Panics", ("daemon", "text")),
        ("master", "Master daemon messages", ("text",)),
    ):
        _table(out, title, "", _counted(report[key], *keys))
    _title(out, "How this differs from pflogsumm")
    for note in report["differences_from_pflogsumm"]:
        out.extend(textwrap.wrap(clean(note), 88, initial_indent="  - ", subsequent_indent="    "))
    return "\n".join(out) + "\n"


_TRAFFIC_KEYS = ("received", "delivered", "deferred", "bounced", "rejected")


# -- compat ------------------------------------------------------------------------------------


def render_compat(totals: dict[str, int], fmt: str) -> str:
    """pflogsumm's Grand Totals: its JSON keys, its text block, or a name,value CSV."""
    if fmt == "json":
        return json.dumps({k: totals[k] for k in KEYS}) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["section", "name", "value"])
        for k in KEYS:
            w.writerow(["pflogsumm_totals", k, totals[k]])
        return buf.getvalue()
    counted = totals["delivered"] + totals["rejected"] + totals["discarded"]
    shown = dict(totals)
    shown["rejected_pct"] = int(totals["rejected"] / counted * 100) if counted else 0
    shown["discarded_pct"] = int(totals["discarded"] / counted * 100) if counted else 0
    out: list[str] = []
    _grand_totals(out, shown)
    return "\n".join(out) + "\n"
