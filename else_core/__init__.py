"""ELSE core: parse and correlate Postfix logs, store, search, statistics and SNMP."""

from else_core import compiled as _compiled

__version__ = "0.1.0"

# Before any hot-path module is imported: choose the compiled or the pure build of them.
_compiled.select()
