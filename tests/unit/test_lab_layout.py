"""The lab's instances and profiles fit together (lab/lab.py), without starting anything.

Why: the three instances (lab, mol, mols) run side by side on one machine, so their networks
must not overlap, every address must stay in 198.18.0.0/24, no host may take the void gateway,
and every namespace/veth name must fit Linux's 15 characters; a mistake here shows only when
two Molecule scenarios collide in CI. The inventories must name the hosts lab.py makes.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def _load_lab():
    spec = importlib.util.spec_from_file_location("lab_lab", REPO / "lab/lab.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["lab_lab"] = module
    spec.loader.exec_module(module)
    return module


lab = _load_lab()
LAB_NET = ipaddress.IPv4Network("198.18.0.0/24")
CASES = [(i, p) for i in lab.INSTANCES for p in lab.PROFILES]


def test_the_instances_networks_are_disjoint_parts_of_the_lab_range():
    nets = [inst.network for inst in lab.INSTANCES.values()]
    overlaps = [(a, b) for a, b in itertools.combinations(nets, 2) if a.overlaps(b)]
    assert (overlaps, all(n.subnet_of(LAB_NET) for n in nets)) == ([], True)


@pytest.mark.parametrize(("instance", "profile"), CASES)
def test_every_host_address_is_inside_its_instance_and_not_its_gateway(instance, profile):
    inst = lab.INSTANCES[instance]
    used = [inst.bridge_ip, inst.sink_ip] + [inst.addr(h.offset) for h in lab.host_list(0, profile)]
    inside = all(ipaddress.IPv4Address(a) in inst.network for a in used)
    assert (inside, inst.gateway in used, len(set(used)) == len(used)) == (True, False, True)


@pytest.mark.parametrize(("instance", "profile"), CASES)
def test_every_interface_name_fits_fifteen_characters(instance, profile):
    inst = lab.INSTANCES[instance]
    tags = ["br", "sink"] + [h.ifname_tag for h in lab.host_list(0, profile)]
    assert all(len(inst.ifname(t)) <= 15 for t in tags)


def test_the_default_profile_keeps_the_lab_as_it_was():
    hosts = [(h.name, h.offset, h.group, h.ifname_tag) for h in lab.host_list(1)]
    assert hosts == [
        ("pfx", 10, "pfx_servers", "pfx"),
        ("else", 11, "else_servers", "else"),
        ("pfx2", 12, "pfx_servers", "pfx2"),
    ]


def test_mol_keeps_its_addresses_in_its_narrower_network():
    mol = lab.INSTANCES["mol"]
    assert (mol.bridge_ip, mol.addr(10), mol.addr(11), mol.sink_ip) == (
        "198.18.0.129",
        "198.18.0.138",
        "198.18.0.139",
        "198.18.0.148",
    )


def _inventory_hosts(path: Path) -> dict[str, tuple[str, str | None]]:
    """{host: (ansible_host, else_server_role)} from a static YAML inventory."""
    found: dict[str, tuple[str, str | None]] = {}

    def walk(group: dict) -> None:
        for name, hv in (group.get("hosts") or {}).items():
            found[name] = (hv["ansible_host"], hv.get("else_server_role"))
        for child in (group.get("children") or {}).values():
            walk(child or {})

    walk(yaml.safe_load(path.read_text())["all"])
    return found


@pytest.mark.parametrize(
    ("inventory", "instance", "profile"),
    [
        ("inventory/lab/hosts.yml", "lab", "default"),
        ("inventory/lab-split/hosts.yml", "lab", "split"),
        ("molecule/default/inventory/hosts.yml", "mol", "default"),
        ("molecule/split/inventory/hosts.yml", "mols", "split"),
    ],
)
def test_the_inventory_names_the_hosts_lab_py_makes(inventory, instance, profile):
    inst = lab.INSTANCES[instance]
    made = {h.name: (inst.addr(h.offset), h.server_role or None) for h in lab.host_list(0, profile)}
    assert _inventory_hosts(REPO / inventory) == made


def test_the_testinfra_inventory_nests_the_backend_under_else_servers(tmp_path):
    state = tmp_path / "mols"
    state.mkdir()
    inst = lab.INSTANCES["mols"]
    hosts = {
        h.name: {"address": inst.addr(h.offset), "group": h.group}
        | ({"server_role": h.server_role} if h.server_role else {})
        for h in lab.host_list(0, "split")
    }
    info = {"ssh_key": "k", "known_hosts": "kh", "sink": f"{inst.sink_ip}:25", "hosts": hosts}
    (state / "hosts.json").write_text(json.dumps(info))
    out = tmp_path / "inv.yml"
    subprocess.run(
        [sys.executable, str(REPO / "lab/testinfra-inventory"), "-i", "mols", str(out)],
        env={"LAB_STATE": str(tmp_path), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    groups = json.loads(out.read_text())["all"]["children"]
    assert (
        sorted(groups["pfx_servers"]["hosts"]),
        sorted(groups["else_servers"]["children"]["else_backend"]["hosts"]),
        sorted(groups["else_frontend"]["hosts"]),
        groups["pfx_servers"]["hosts"]["pfx-in"]["else_server_role"],
    ) == (["pfx-in", "pfx-out"], ["else"], ["else-front"], "incoming")
