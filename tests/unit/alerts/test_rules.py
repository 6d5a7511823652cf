"""Rule validation: every kind of bad rule gets a clear error; good ones are normalised."""

from __future__ import annotations

import pytest

from else_core.alerts.rules import KINDS, Rule, validate
from else_core.errors import ElseError


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (Rule("", "queue_size", 1), "needs a name"),
        (Rule("x", "queue_sise", 1), "unknown rule kind 'queue_sise'"),
        (Rule("x", "queue_size", 1, scope_kind="host", scope_value="a"), "scope must be one of"),
        (Rule("x", "queue_size", 1, scope_kind="server"), "needs one"),
        (Rule("x", "queue_size", 1, scope_value="pfx"), "scope all takes no name"),
        (Rule("x", "queue_size", 10, resolve_threshold=20), "must not be above"),
        (Rule("x", "queue_size", 1, window_minutes=0), "window and clear-after"),
        (Rule("x", "queue_size", 1, clear_after=0), "window and clear-after"),
        (Rule("x", "queue_size", 1, repeat_minutes=-1), "repeat >= 0"),
        (Rule("x", "queue_size", 1, params={"zones": "a"}), "has no parameter 'zones'"),
        (Rule("x", "bounce_rate", 1, params={"min_volume": 0}), "whole number >= 1"),
        (Rule("x", "bounce_rate", 1, params={"min_volume": "5"}), "whole number >= 1"),
        (Rule("x", "remote_refusing", 1, params={"by": "mx"}), "domain or relay"),
        (Rule("x", "dnsbl", 0), "needs zones"),
        (Rule("x", "dnsbl", 0, params={"zones": [""]}), "list of names"),
    ],
)
def test_bad_rules_are_refused_with_a_reason(rule, message):
    with pytest.raises(ElseError, match=message):
        validate(rule)


@pytest.mark.parametrize(
    ("params", "normalised"),
    [
        ({"zones": "bl.test, dbl.test"}, {"zones": ["bl.test", "dbl.test"]}),
        (
            {"zones": ["bl.test"], "domains": "example.org"},
            {"zones": ["bl.test"], "domains": ["example.org"]},
        ),
    ],
)
def test_list_parameters_accept_comma_separated_text(params, normalised):
    assert validate(Rule("x", "dnsbl", 0, params=params)).params == normalised


def test_every_kind_has_a_measurement():
    from else_core.alerts.signals import MEASURES

    assert set(MEASURES) == set(KINDS)


def test_parameter_defaults_apply():
    rule = validate(Rule("x", "deferral_rate", 20))
    assert (rule.param("baseline_hours"), rule.param("min_volume")) == (24, 20)
