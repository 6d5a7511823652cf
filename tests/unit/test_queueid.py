"""One queue-ID grammar: else_core.queueid. The PFX scripts (no else_core there) carry
a copy of it, which must stay the same text."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from else_core import queueid
from else_core.snmp import model

AGENTS = Path(__file__).resolve().parents[2] / "agents" / "snmpd"


def load(name: str) -> ModuleType:
    loader = importlib.machinery.SourceFileLoader(name.replace("-", "_"), str(AGENTS / name))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.mark.parametrize("script", ["else-snmp-ctl", "else-postfix-ctl"])
def test_script_copy_of_the_grammar_is_the_same(script: str) -> None:
    copy = load(script).QUEUE_ID_RE.pattern
    assert re.compile(f"(?:{copy})").pattern == queueid.PATTERN


def test_the_snmp_model_uses_the_one_grammar() -> None:
    assert model.QUEUE_ID_RE is queueid.QUEUE_ID_RE
