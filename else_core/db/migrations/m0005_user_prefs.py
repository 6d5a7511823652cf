"""Display preferences that belong to the account, not to one browser session.

A time zone picked in the WUI used to live in the session cookie only, so it was lost
at the next log-in. NULL means "no choice saved": the session then uses the zone the
browser sent at log-in, else ``[web] timezone``. ``else_core.accounts.set_timezone``
checks a name against zoneinfo before writing; the CHECK here only keeps anything that
is not even shaped like a zone name out, whoever writes. ``else_web`` already has UPDATE
on ``users`` (its admin pages change other columns), so no new grant is needed.
"""

SQL = r"""
ALTER TABLE users ADD COLUMN timezone text
    CONSTRAINT users_timezone_shape CHECK (timezone ~ '^[A-Za-z][A-Za-z0-9_+/-]{0,63}$');
"""
