"""The rule kinds and the rule record.

A rule measures one number per subject (a server, a remote domain, a listed address) and
compares it with its ``threshold``: above it the alert opens; at or below
``resolve_threshold`` for ``clear_after`` evaluations in a row it resolves. Between the two
the alert stays as it is, so a value that hovers around the limit cannot flap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from else_core.errors import ElseError

SCOPES = ("all", "server", "group")


@dataclass(frozen=True, slots=True)
class Kind:
    """What a rule kind measures, in which unit, and which parameters it takes."""

    name: str
    measures: str
    unit: str
    params: tuple[str, ...] = ()


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "queue_size", "messages in the Postfix queues of a PFX (latest SNMP sample)", "messages"
        ),
        Kind("oldest_deferred", "age of the oldest deferred message of a PFX", "seconds"),
        Kind("snmp_down", "consecutive SNMP polls a PFX did not answer", "polls"),
        Kind("log_silence", "minutes since the last log line from a PFX", "minutes"),
        Kind("log_gap", "log lines a PFX sent (heartbeat counts) that ELSE lacks", "lines"),
        Kind(
            "bounce_rate",
            "bounced share of delivery attempts, above its baseline",
            "percentage points",
            ("baseline_hours", "min_volume"),
        ),
        Kind(
            "deferral_rate",
            "deferred share of delivery attempts, above its baseline",
            "percentage points",
            ("baseline_hours", "min_volume"),
        ),
        Kind(
            "reject_rate",
            "rejected share of connections' mail (rejects / (rejects + e-mails)), above baseline",
            "percentage points",
            ("baseline_hours", "min_volume"),
        ),
        Kind(
            "remote_refusing",
            "share of one remote domain's (or relay's) attempts deferred or bounced",
            "percent",
            ("by", "min_volume"),
        ),
        Kind("ingest_lag", "how far the ingest worker is behind the newest line", "seconds"),
        Kind(
            "dnsbl",
            "configured DNS blocklist zones that list a PFX address or a sending domain",
            "zones",
            ("zones", "addresses", "domains"),
        ),
    )
}

#: Parameter defaults: a rule that leaves one out gets these.
PARAM_DEFAULTS: dict[str, Any] = {
    "baseline_hours": 24,
    "min_volume": 20,
    "by": "domain",
    "zones": [],
    "addresses": [],
    "domains": [],
}


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of ``alert_rules``."""

    name: str
    kind: str
    threshold: float
    resolve_threshold: float | None = None
    window_minutes: int = 15
    clear_after: int = 2
    repeat_minutes: int = 0
    scope_kind: str = "all"
    scope_value: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True
    id: int | None = None

    @property
    def clear_below(self) -> float:
        """The value at or below which an evaluation counts as clear."""
        return self.threshold if self.resolve_threshold is None else self.resolve_threshold

    def param(self, name: str) -> Any:
        return self.params.get(name, PARAM_DEFAULTS[name])

    @property
    def scope_text(self) -> str:
        return (
            "all servers" if self.scope_kind == "all" else f"{self.scope_kind} {self.scope_value}"
        )


def _strings(name: str, value: Any) -> list[str]:
    if isinstance(value, str):
        value = [v for v in (s.strip() for s in value.split(",")) if v]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ElseError(f"parameter {name} must be a list of names")
    return list(value)


def parse_params(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` words (the CLI's ``--param``, the WUI's parameters field) as a dict;
    whole numbers become integers, the rest stays text (lists are comma-separated)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ElseError(f"parameter {item!r}: expected KEY=VALUE")
        out[key.strip()] = int(value) if value.strip().isdigit() else value.strip()
    return out


def params_text(params: dict[str, Any]) -> str:
    """The parameters as :func:`parse_params` reads them back (for an edit form)."""
    return " ".join(
        f"{k}={','.join(v) if isinstance(v, list) else v}" for k, v in sorted(params.items())
    )


def _check_params(kind: Kind, params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key not in kind.params:
            known = ", ".join(kind.params) or "none"
            raise ElseError(f"rule kind {kind.name} has no parameter {key!r} (known: {known})")
        if key in ("baseline_hours", "min_volume"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ElseError(f"parameter {key} must be a whole number >= 1, not {value!r}")
            out[key] = value
        elif key == "by":
            if value not in ("domain", "relay"):
                raise ElseError(f"parameter by must be domain or relay, not {value!r}")
            out[key] = value
        else:
            out[key] = _strings(key, value)
    if kind.name == "dnsbl" and not out.get("zones"):
        raise ElseError("a dnsbl rule needs zones (e.g. zones=zen.spamhaus.org)")
    return out


def validate(rule: Rule) -> Rule:
    """The rule with its parameters normalised, or an ElseError naming what is wrong."""
    if not rule.name.strip():
        raise ElseError("a rule needs a name")
    if "/" in rule.name or not rule.name.isprintable() or len(rule.name) > 100:
        raise ElseError("a rule name is up to 100 printable characters, without '/'")
    kind = KINDS.get(rule.kind)
    if kind is None:
        raise ElseError(f"unknown rule kind {rule.kind!r} (known: {', '.join(KINDS)})")
    if rule.scope_kind not in SCOPES:
        raise ElseError(f"scope must be one of {', '.join(SCOPES)}, not {rule.scope_kind!r}")
    if (rule.scope_kind == "all") != (not rule.scope_value):
        raise ElseError("scope all takes no name; scope server or group needs one")
    if rule.resolve_threshold is not None and rule.resolve_threshold > rule.threshold:
        raise ElseError("resolve threshold must not be above the threshold")
    if rule.window_minutes < 1 or rule.clear_after < 1 or rule.repeat_minutes < 0:
        raise ElseError("window and clear-after must be >= 1, repeat >= 0")
    params = _check_params(kind, rule.params)
    return Rule(
        rule.name.strip(),
        rule.kind,
        float(rule.threshold),
        None if rule.resolve_threshold is None else float(rule.resolve_threshold),
        rule.window_minutes,
        rule.clear_after,
        rule.repeat_minutes,
        rule.scope_kind,
        rule.scope_value or None,
        params,
        rule.enabled,
        rule.id,
    )
