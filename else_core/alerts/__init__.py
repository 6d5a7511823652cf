"""Alerting: rules evaluated against the signals ELSE already keeps, alerts with a history,
and messages by e-mail and webhook (issue 18; docs/alerts.md).

- :mod:`.rules`: the rule kinds and the rule record (pure, validated);
- :mod:`.state`: when an alert opens, stays, reminds and resolves (pure: hysteresis);
- :mod:`.signals`: one measurement per kind, from the database;
- :mod:`.dnsbl`: blocklist look-ups with real DNS queries;
- :mod:`.store`: the alert tables; :mod:`.deliver`: e-mail and webhook;
- :mod:`.engine`: one evaluation round and the service loop.
"""
