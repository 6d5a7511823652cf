"""The else_app role writes no default of its own into else.toml: a setting the deployer
left unset (null) is not rendered, so else_core.config's section dataclasses are the one
place each default lives. These tests fail when the role's defaults/main.yml or
meta/argument_specs.yml grow a copy of a Python default, disagree with a field's type,
or when the template renders a setting that was not set (or drops one that was)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from dataclasses import MISSING, Field, fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from else_core import config

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "else_app"
DEFAULTS: dict[str, Any] = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
SPECS: dict[str, Any] = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())[
    "argument_specs"
]["main"]["options"]
ELSECTL = Path(sys.executable).parent / "elsectl"
#: argument_specs type names of the section fields' types.
SPEC_TYPES = {"str": "str", "int": "int", "float": "float", "bool": "bool"}
#: A valid value other than the default, for the str settings (numbers: default + 1).
OTHER_STR = {
    "auth_protocol": "SHA-512",
    "priv_protocol": "AES-256",
    "timezone": "Europe/Berlin",
    "smtp_host": "relay.else.test",
    "mail_to": "postmaster@else.test",
    "webhook_url": "http://127.0.0.1:8089/hook",
    "dns_resolver": "127.0.0.1:5353",
}


def _role_settings() -> list[tuple[str, str, Field[Any]]]:
    """(role variable, section, field) for every else.toml setting the role can set:
    ``else_app_<section>_<key>``."""
    out = []
    for section, cls in config.SECTIONS.items():
        for f in fields(cls):
            var = f"else_app_{section}_{f.name}"
            if var in DEFAULTS:
                out.append((var, section, f))
    return out


SETTINGS = _role_settings()
#: The settings whose value the role leaves to Python (its variable defaults to null).
UNSET = [(var, section, f) for var, section, f in SETTINGS if DEFAULTS[var] is None]


def _other(f: Field[Any]) -> Any:
    default = f.default
    assert default is not MISSING
    if isinstance(default, bool):
        return not default
    if isinstance(default, int | float):
        return type(default)(default + 1) if str(f.type) == "int" else float(default) + 0.5
    return OTHER_STR[f.name]


def test_the_role_sets_the_settings_a_deployer_tunes() -> None:
    assert {var for var, _, _ in UNSET} >= {
        "else_app_ingest_batch_size",
        "else_app_ingest_poll_interval",
        "else_app_snmp_port",
        "else_app_snmp_poll_interval",
    }


@pytest.mark.parametrize(("var", "section", "field"), SETTINGS, ids=[s[0] for s in SETTINGS])
def test_a_role_default_is_null_or_drawn_from_the_inventory(
    var: str, section: str, field: Field[Any]
) -> None:
    """A literal here would be a second copy of the dataclass default."""
    value = DEFAULTS[var]
    assert value is None or (isinstance(value, str) and "{{" in value)


@pytest.mark.parametrize(("var", "section", "field"), SETTINGS, ids=[s[0] for s in SETTINGS])
def test_argument_specs_give_no_default_and_the_fields_type(
    var: str, section: str, field: Field[Any]
) -> None:
    spec = SPECS[var]
    assert "default" not in spec
    assert spec["type"] == SPEC_TYPES[str(field.type)]


_PLAYBOOK = """\
- name: Render else.toml as the else_app role does
  hosts: localhost
  connection: local
  gather_facts: false
  vars_files: [{defaults}]
  tasks:
    - name: The role's argument_specs accept its defaults (what the role checks first)
      ansible.builtin.validate_argument_spec:
        argument_spec: "{{{{ (lookup('ansible.builtin.file', '{specs}') | from_yaml).argument_specs.main.options }}}}"
    - name: Every setting left unset
      ansible.builtin.template:
        src: {template}
        dest: {out}/unset.toml
        mode: "0600"
        validate: {elsectl} config check %s
    - name: Every setting set
      ansible.builtin.template:
        src: {template}
        dest: {out}/set.toml
        mode: "0600"
        validate: {elsectl} config check %s
      vars: {set_vars}
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """else.toml rendered by ansible-playbook from the role's own template and defaults,
    validated by ``elsectl config check`` like the role does: once with the defaults,
    once with every null setting given another value."""
    tmp = tmp_path_factory.mktemp("else_toml")
    set_vars = {var: _other(f) for var, _, f in UNSET}
    playbook = tmp / "render.yml"
    playbook.write_text(
        _PLAYBOOK.format(
            defaults=ROLE / "defaults" / "main.yml",
            template=ROLE / "templates" / "etc" / "else" / "else.toml.j2",
            specs=ROLE / "meta" / "argument_specs.yml",
            out=tmp,
            elsectl=ELSECTL,
            set_vars=json.dumps(set_vars),
        )
    )
    extra = {
        "else_app_secrets_dir": str(tmp / "secrets"),
        "snmp_v3_auth_pass": "auth-pass-phrase",
        "snmp_v3_priv_pass": "priv-pass-phrase",
        "ansible_python_interpreter": sys.executable,
        "role_path": str(ROLE),  # defined inside the role; the playbook only borrows its files
    }
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(tmp / "none.cfg"),
        "ANSIBLE_HOME": str(tmp / "ansible"),
        "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-tmp"),
    }
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            "localhost,",
            "-e",
            json.dumps(extra),
            str(playbook),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return {name: tomllib.loads((tmp / f"{name}.toml").read_text()) for name in ("unset", "set")}


@pytest.mark.parametrize(("var", "section", "field"), UNSET, ids=[s[0] for s in UNSET])
def test_a_setting_left_unset_is_not_written_so_python_decides(
    rendered: dict[str, dict[str, Any]], var: str, section: str, field: Field[Any]
) -> None:
    assert field.name not in rendered["unset"].get(section, {})


def test_with_nothing_set_the_sections_are_the_dataclass_defaults(
    rendered: dict[str, dict[str, Any]],
) -> None:
    cfg = config.Config(None, rendered["unset"])
    assert (cfg.ingest, cfg.snmp.port, cfg.snmp.poll_interval) == (
        config.IngestSection(),
        config.SnmpSection().port,
        config.SnmpSection().poll_interval,
    )


@pytest.mark.parametrize(("var", "section", "field"), UNSET, ids=[s[0] for s in UNSET])
def test_a_setting_the_deployer_set_is_written_with_its_type(
    rendered: dict[str, dict[str, Any]], var: str, section: str, field: Field[Any]
) -> None:
    value = rendered["set"][section][field.name]
    assert (value, type(value).__name__) == (_other(field), str(field.type))


def _else_toml_task() -> dict[str, Any]:
    tasks = yaml.safe_load((ROLE / "tasks" / "configure.yml").read_text())
    (task,) = [
        t
        for t in tasks
        if t.get("ansible.builtin.template", {}).get("src", "").endswith("else.toml.j2")
    ]
    return task


def test_else_toml_is_checked_by_elsectl_before_it_replaces_the_old_one():
    assert _else_toml_task()["ansible.builtin.template"]["validate"].endswith(
        "/bin/elsectl config check %s"
    )


@pytest.mark.parametrize(
    "reader", ["Restart else-ingest", "Restart else-snmp-poller", "Reload the WUI"]
)
def test_a_changed_else_toml_reaches_every_service_that_reads_it(reader: str) -> None:
    """issue 14.5: the WUI reads else.toml too, so it is reloaded with ingest and the poller."""
    handlers = {h["name"] for h in yaml.safe_load((ROLE / "handlers" / "main.yml").read_text())}
    assert reader in _else_toml_task()["notify"] and reader in handlers
