"""Bounded index keys: what the writer stores in indexed columns and the search compares."""

from __future__ import annotations

import pytest

from else_core.store.keys import HOST_BYTES, KEY_BYTES, host_key, index_key


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", ""),
        ("alice@example.org", "alice@example.org"),
        ("a" * KEY_BYTES, "a" * KEY_BYTES),  # exactly at the bound: kept whole
        ("a" * (KEY_BYTES + 1), "a" * KEY_BYTES),
        ("é" * KEY_BYTES, "é" * (KEY_BYTES // 2)),  # 2 bytes each: cut at a character
        ("a" + "€" * KEY_BYTES, "a" + "€" * ((KEY_BYTES - 1) // 3)),
        ("\x00" * 400, "\ufffd" * (KEY_BYTES // 3)),  # NUL is stored as U+FFFD (3 bytes)
    ],
)
def test_index_key_cuts_to_the_byte_bound_at_a_character(value, expected):
    assert index_key(value) == expected


@pytest.mark.parametrize("value", ["x" * 70_000, "ü" * 70_000, "😀" * 70_000])
def test_index_key_never_exceeds_the_bound_and_is_a_prefix(value):
    key = index_key(value)
    assert len(key.encode()) <= KEY_BYTES and value.startswith(key)


def test_host_key_has_its_own_smaller_bound():
    assert len(host_key("h" * 5000).encode()) == HOST_BYTES
