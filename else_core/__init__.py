"""ELSE core: parse and correlate Postfix logs, store, search, statistics and SNMP."""

__version__ = "0.1.0"
