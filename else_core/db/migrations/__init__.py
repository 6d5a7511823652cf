"""Versioned schema migrations, one module each: ``m<NNNN>_<name>.py`` with ``SQL``.

Why Python modules and not ``.sql`` files: they ship inside the wheel with no
package-data rules, and an import error shows up in the tests, not on a server.
A migration is never edited once released; a change is a new, higher number.
"""
