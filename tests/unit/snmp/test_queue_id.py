"""One queue-ID rule, enforced in three places: ELSE, the pass_persist handler, the wrapper."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from snmp_scripts import load_script

from else_core.snmp import valid_queue_id

VALIDATORS: dict[str, Callable[[str], bool]] = {
    "else_core": valid_queue_id,
    "pass_persist": load_script("else-snmp-ctl").valid_queue_id,
    "root_wrapper": load_script("else-postfix-ctl").valid_queue_id,
}

CASES = [
    # short form: upper-case hex, 6 to 20 digits
    ("4F2A3B1C9D", True),
    ("3942620C56C", True),
    ("ABCDEF", True),
    ("ABCDE", False),  # too short
    ("4f2a3b1c9d", False),  # short IDs are upper-case
    ("4F2A3B1C9DG", False),  # G is not hex; A rules out the long form
    ("0123456789ABCDEF01234", False),  # 21 hex digits
    # long form (enable_long_queue_ids): base-52 alphabet without vowels, 10 to 32
    ("3Zvc3G4PNVz1DF", True),
    ("4bTQW22tMNz2vm", True),
    ("3Zvc3G4PNA", False),  # A is a vowel
    ("3zvc3g4pnvz1dfe", False),  # e is a vowel
    ("bcdfghjklm" * 3 + "np", True),  # 32 characters
    ("bcdfghjklm" * 3 + "npq", False),  # 33 characters
    # hostile input
    ("ALL", False),
    ("-", False),
    ("", False),
    ("-d ALL", False),
    ("4F2A3B1C9D ", False),
    ("4F2A3B1C9D\n", False),
    (" 4F2A3B1C9D", False),
    ("4F2A3B1C9D;reboot", False),
    ("../4F2A3B1C9D", False),
    ("4F2A3B1C9D\x00", False),
    ('"4F2A3B1C9D"', False),
    ("４F2A3B1C9D", False),  # full-width digit
]


@pytest.mark.parametrize("where", VALIDATORS)
@pytest.mark.parametrize(("queue_id", "valid"), CASES)
def test_queue_id_rule(where: str, queue_id: str, valid: bool) -> None:
    assert VALIDATORS[where](queue_id) is valid
