"""Errors that the CLI turns into one clear line on stderr instead of a traceback."""


class ElseError(Exception):
    """A failure the user can act on (bad argument, unreachable service, refused input)."""

    exit_code = 2


class ConfigError(ElseError):
    """The configuration file or an option is wrong."""


class ServiceUnavailable(ElseError):
    """A service ELSE depends on (PostgreSQL, an SNMP agent) could not be reached."""

    exit_code = 3
