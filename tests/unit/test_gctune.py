"""The batch GC threshold applies inside the block only."""

from __future__ import annotations

import gc

import pytest

from else_core import gctune


def test_batch_raises_the_threshold_inside_the_block() -> None:
    before = gc.get_threshold()
    with gctune.batch():
        assert gc.get_threshold()[0] == gctune.BATCH_THRESHOLD
    assert gc.get_threshold() == before


def test_batch_restores_the_threshold_after_an_error() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), gctune.batch():
        raise RuntimeError("boom")
    assert gc.get_threshold() == before
