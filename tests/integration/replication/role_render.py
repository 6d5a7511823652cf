"""The postgresql role's files for a backend and a frontend, rendered by Ansible itself.

A throwaway inventory (``back`` in else_servers → else_backend, ``front`` in else_frontend,
both on 127.0.0.1 with their own ports and configuration directories) and a play that
loads the role's defaults, as a role's tasks see them, then renders ``50-else.conf`` and
``pg_hba.conf`` on the controller. Nothing is installed or started: the tests run real
PostgreSQL clusters with these files.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
ROLE = REPO / "roles" / "postgresql"
TEMPLATES = ROLE / "templates" / "etc" / "postgresql" / "15" / "main"
FILES = {"50-else.conf": TEMPLATES / "conf.d" / "50-else.conf.j2", "pg_hba.conf": TEMPLATES / "pg_hba.conf.j2"}  # fmt: skip

PLAY = """\
- name: Render the postgresql role's files
  hosts: else_servers:else_frontend
  connection: local
  gather_facts: false
  roles: [defaults_only]
  tasks:
    - name: Render
      ansible.builtin.template:
        src: "{{ item.value }}"
        dest: "{{ out_dir }}/{{ inventory_hostname }}/{{ item.key }}"
        mode: "0644"
      loop: "{{ files | dict2items }}"
"""


def render(out: Path, hosts: dict[str, dict[str, object]]) -> dict[str, dict[str, str]]:
    """Render for ``hosts`` (``back``/``front`` → host vars); {host: {file: text}}."""
    role = out / "roles" / "defaults_only" / "defaults"
    role.mkdir(parents=True)
    (role / "main.yml").symlink_to(ROLE / "defaults" / "main.yml")
    inventory = {
        "all": {
            "vars": {
                "ansible_python_interpreter": sys.executable,
                "postgresql_memory_mb": 512,
                "postgresql_listen_addresses": ["127.0.0.1"],
            },
            "children": {
                "else_servers": {"children": {"else_backend": {"hosts": {"back": hosts["back"]}}}},
                "else_frontend": {"hosts": {"front": hosts["front"]}},
            },
        }
    }
    (out / "hosts.yml").write_text(yaml.safe_dump(inventory))
    (out / "play.yml").write_text(PLAY)
    for host in hosts:
        (out / host).mkdir()
    extra = {"out_dir": str(out), "files": {k: str(v) for k, v in FILES.items()}}
    (out / "extra.yml").write_text(yaml.safe_dump(extra))
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_ROLES_PATH": str(out / "roles"),
        "ANSIBLE_LOCALHOST_WARNING": "false",
    }
    argv = [str(bin_dir / "ansible-playbook"), "-i", str(out / "hosts.yml"), str(out / "play.yml")]
    res = subprocess.run(
        [*argv, "-e", f"@{out / 'extra.yml'}"], capture_output=True, text=True, env=env, check=False
    )
    if res.returncode != 0:
        raise AssertionError(f"ansible-playbook failed:\n{res.stdout}\n{res.stderr}")
    return {h: {f: (out / h / f).read_text() for f in FILES} for h in hosts}
