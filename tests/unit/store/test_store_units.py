"""Pure pieces of the store: no database needed."""

from __future__ import annotations

import gzip
import pickle
from datetime import UTC, datetime, timedelta

import pytest

from else_core import resend
from else_core.commands.db import parse_age
from else_core.commands.search import parse_where, wildcard
from else_core.config import Config
from else_core.errors import ConfigError, ElseError
from else_core.records import LogLine
from else_core.search import Filter, SearchError, _like, parse_time
from else_core.store.copyfmt import _t, copy_text, domain_of
from else_core.store.copyfmt import field as _field
from else_core.store.importer import order_files
from else_core.store.worker import Dedupe


@pytest.mark.parametrize(
    ("text", "age"),
    [("90d", timedelta(days=90)), ("90", timedelta(days=90)), ("12h", timedelta(hours=12)),
     ("2w", timedelta(weeks=2)), (" 7d ", timedelta(days=7))],
)  # fmt: skip
def test_prune_ages(text, age):
    assert parse_age(text) == age


@pytest.mark.parametrize("text", ["", "d", "-1d", "1y", "1.5d", "90 days"])
def test_prune_rejects_unreadable_ages(text):
    with pytest.raises(ConfigError):
        parse_age(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a@b.c", Filter("sender", "a@b.c", "equals")),
        ("*b.c", Filter("sender", "b.c", "ends")),
        ("a@*", Filter("sender", "a@", "starts")),
        ("*x*", Filter("sender", "x", "contains")),
        ("!a@b.c", Filter("sender", "a@b.c", "not")),
        ("!*x*", Filter("sender", "x", "not_contains")),
        ("*", Filter("sender", "*", "equals")),
    ],
)
def test_cli_wildcards_become_operators(value, expected):
    assert wildcard("sender", value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("helo=mx.example", Filter("helo", "mx.example", "equals")),
        ("size:gt=1000", Filter("size", "1000", "gt")),
        ("sasl-username=*bob*", Filter("sasl_username", "bob", "contains")),
        ("response:contains=a=b", Filter("response", "a=b", "contains")),
    ],
)
def test_cli_where_syntax(text, expected):
    assert parse_where(text) == expected


@pytest.mark.parametrize("text", ["helo", "size:bigger=3"])
def test_cli_where_refuses_nonsense(text):
    with pytest.raises(SearchError):
        parse_where(text)


@pytest.mark.parametrize(
    ("value", "op", "pattern"),
    [("50%", "contains", "%50\\%%"), ("a_b", "starts", "a\\_b%"), ("x\\y", "ends", "%x\\\\y")],
)
def test_like_patterns_escape_wildcards(value, op, pattern):
    assert _like(value, op) == pattern


@pytest.mark.parametrize(
    ("text", "end", "expected"),
    [
        ("2026-03-14", False, datetime(2026, 3, 14, tzinfo=UTC)),
        ("2026-03-14", True, datetime(2026, 3, 15, tzinfo=UTC)),
        ("2026-03-14T10:00", False, datetime(2026, 3, 14, 10, tzinfo=UTC)),
        ("2026-03-14T10:00:00Z", True, datetime(2026, 3, 14, 10, tzinfo=UTC)),
    ],
)
def test_times_are_iso_and_a_bare_until_date_includes_the_day(text, end, expected):
    assert parse_time(text, end) == expected


def test_unreadable_time_is_a_clear_error():
    with pytest.raises(SearchError, match="invalid time"):
        parse_time("yesterday")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "\\N"),
        ("a\tb\nc\\d\re", "a\\tb\\nc\\\\d\\re"),
        ("nul\x00here", "nul\ufffdhere"),
        (True, "t"),
        (42, "42"),
        (0.25, "0.25"),
        (["A1", 'q"x'], '{"A1","q\\\\"x"}'),
        ([1, 2], "{1,2}"),
        (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "2026-01-02T03:04:05+00:00"),
    ],
)
def test_copy_text_format(value, text):
    assert _field(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain@example.org", "plain@example.org"),
        ("ünïcode ✓ 😀", "ünïcode ✓ 😀"),
        ("tab\there", "tab\\there"),
        ("new\nline", "new\\nline"),
        ("carriage\rreturn", "carriage\\rreturn"),
        ("back\\slash", "back\\\\slash"),
        ("nul\x00byte", "nul\ufffdbyte"),
        ("\x01\x7f\u2028 other controls stay", "\x01\x7f\u2028 other controls stay"),
        ("\\\t\n\r\x00", "\\\\\\t\\n\\r\ufffd"),
        ("", ""),
    ],
)
@pytest.mark.parametrize("escape", [copy_text, _t, _field], ids=["copy_text", "_t", "_field"])
def test_copy_text_escapes_exactly_backslash_tab_newline_cr_and_nul(escape, value, text):
    assert escape(value) == text


@pytest.mark.parametrize(
    ("address", "domain"),
    [("a@Example.ORG", "example.org"), ("", None), (None, None), ("postmaster", None)],
)
def test_domain_of(address, domain):
    assert domain_of(address) == domain


def _line(ts: datetime, pid: int = 1, message: str = "m") -> LogLine:
    return LogLine(0, ts, "h", "postfix/smtp", pid, message)


def test_dedupe_drops_exact_repeats_within_the_window_only():
    d = Dedupe(window=timedelta(seconds=60))
    t = datetime(2026, 1, 1, 0, 0, 0, 250000, tzinfo=UTC)  # an exact (RFC 3339 µs) stamp
    assert not d.is_duplicate(_line(t), t)
    assert d.is_duplicate(_line(t), t)
    assert not d.is_duplicate(_line(t, pid=2), t)  # another pid is another line
    later = t + timedelta(seconds=120)
    assert not d.is_duplicate(_line(later, pid=9, message="other"), later)  # evicts the old key
    assert not d.is_duplicate(_line(t), later)
    assert d.dropped == 1


WHOLE = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)  # a whole-second stamp (postlogd, relays)
EXACT = WHOLE.replace(microsecond=104233)


def _at(*seconds: float) -> list[datetime]:
    """Receive times of a line's copies, seconds after the line's own stamp."""
    return [WHOLE + timedelta(seconds=s) for s in seconds]


#: (reported stamp, when each copy arrived) -> copies that are RELP resends.
RESEND_CASES = {
    "one copy": (WHOLE, _at(0.2), 0),
    "two real lines of one second, back to back": (WHOLE, _at(0.2, 0.21), 0),
    "three real lines, each within the pause of the one before": (WHOLE, _at(0, 0.7, 1.4), 0),
    "a whole-second line resent after a reconnect": (WHOLE, _at(0.2, 5.2), 1),
    "resent twice": (WHOLE, _at(0.2, 5.2, 40), 2),
    "two real lines, both resent": (WHOLE, _at(0.2, 0.21, 5.2, 5.21), 2),
    "two real lines, one arrived before the break": (WHOLE, _at(0.2, 5.2, 5.21), 1),
    "an exact stamp names one entry: any copy is a resend": (EXACT, _at(0.2, 0.21), 1),
    "an exact stamp resent after a reconnect": (EXACT, _at(0.2, 5.2), 1),
}


@pytest.mark.parametrize(
    ("stamp", "received", "resends"), RESEND_CASES.values(), ids=RESEND_CASES.keys()
)
def test_resends_are_the_copies_beyond_the_largest_transmission(stamp, received, resends):
    assert resend.resent(stamp, received) == resends


@pytest.mark.parametrize(
    ("stamp", "received", "resends"), RESEND_CASES.values(), ids=RESEND_CASES.keys()
)
def test_the_worker_drops_the_resends_one_copy_at_a_time(stamp, received, resends):
    d = Dedupe()
    kept = [not d.is_duplicate(_line(stamp), at) for at in received]
    assert (len(kept) - sum(kept), d.dropped) == (resends, resends)


def test_the_worker_keeps_what_it_dropped_before_an_upgrade_dropped():
    """A checkpoint of the older filter (a set of keys) still drops later copies."""
    old = Dedupe()
    old.is_duplicate(_line(WHOLE), WHOLE)
    state = {**old.__dict__, "seen": set(old.seen)}
    d = Dedupe.__new__(Dedupe)
    d.__setstate__(pickle.loads(pickle.dumps(state)))
    assert d.is_duplicate(_line(WHOLE), WHOLE + timedelta(seconds=0.1))
    assert not d.is_duplicate(_line(WHOLE, pid=2), WHOLE)


@pytest.mark.parametrize(
    ("data", "role", "env", "expected"),
    [
        ({"dsn": "w"}, "worker", {}, "w"),
        ({"dsn": "w", "owner_dsn": "o"}, "owner", {}, "o"),
        ({"dsn": "w"}, "owner", {}, "w"),
        ({"dsn": "w", "web_dsn": "x"}, "web", {}, "x"),
        ({"dsn": "w", "owner_dsn": "o"}, "owner", {"ELSE_OWNER_DSN": "eo"}, "eo"),
        ({"dsn": "w"}, "worker", {"ELSE_DSN": "ew"}, "ew"),
        ({"dsn": "w", "web_dsn": "x"}, "web", {"ELSE_DSN": "ew"}, "x"),
    ],
)
def test_dsn_per_role(monkeypatch, data, role, env, expected):
    for k in ("ELSE_DSN", "ELSE_OWNER_DSN", "ELSE_WEB_DSN"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert Config(None, {"database": data}).dsn(role=role) == expected


def test_missing_dsn_says_where_to_set_it(monkeypatch):
    monkeypatch.delenv("ELSE_OWNER_DSN", raising=False)
    monkeypatch.delenv("ELSE_DSN", raising=False)
    with pytest.raises(ConfigError, match="owner_dsn"):
        Config(None, {}).dsn(role="owner")


def test_rotated_set_is_sorted_into_time_order(tmp_path):
    (tmp_path / "mail.log").write_text("2026-03-03T00:00:00Z h postfix/qmgr[1]: x\n")
    (tmp_path / "mail.log.1").write_text("Mar  2 00:00:00 h postfix/qmgr[1]: x\n")
    with gzip.open(tmp_path / "mail.log.2.gz", "wt") as fh:
        fh.write("Mar  1 00:00:00 h postfix/qmgr[1]: x\n")
    given = [str(tmp_path / n) for n in ("mail.log", "mail.log.2.gz", "mail.log.1")]
    ordered = [p for p, _ in order_files(given, 2026, UTC)]
    assert [p.rsplit("/", 1)[1] for p in ordered] == ["mail.log.2.gz", "mail.log.1", "mail.log"]


def test_stdin_cannot_be_imported():
    with pytest.raises(ElseError, match="standard input"):
        order_files(["-"], None, UTC)


class _Tty:
    def __init__(self, tty: bool) -> None:
        self.tty = tty
        self.text = ""

    def isatty(self) -> bool:
        return self.tty

    def write(self, s: str) -> None:
        self.text += s

    def flush(self) -> None:
        pass


@pytest.mark.parametrize("tty", [True, False])
def test_progress_bar_only_on_a_terminal(tty):
    from else_core.store.importer import Progress

    stream = _Tty(tty)
    p = Progress(1000, stream)  # type: ignore[arg-type]
    p.update(500, 12345, force=True)
    p.close()
    if tty:
        assert "50.0%" in stream.text and "lines/s" in stream.text and "ETA" in stream.text
    else:
        assert stream.text == ""
