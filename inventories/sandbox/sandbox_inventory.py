#!/usr/bin/env python
"""Ansible script inventory: the tenants of a running sandbox (``python -m sandbox up``).

Reads ``$IDMOPS_SANDBOX_STATE/inventory.yml`` (default: ``<repo>/.sandbox/inventory.yml``), the file the sandbox
CLI writes, and puts every host in the group ``idm_tenants`` as well. Returns an empty inventory when no sandbox
runs, so ``-i inventories/sandbox`` can always be given. group_vars/all.yml maps the sandbox's variables onto the
scim_sync role's.
"""

import json
import os
import sys

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GROUP = "idm_tenants"


def state_file():
    state = os.environ.get("IDMOPS_SANDBOX_STATE") or os.path.join(REPO, ".sandbox")
    return os.path.join(state, "inventory.yml")


def walk(name, node, out):
    """Flatten one group of a YAML inventory into the script format (groups, hosts, vars, children)."""
    node = node or {}
    group = out.setdefault(name, {"hosts": [], "vars": {}, "children": []})
    for host, host_vars in (node.get("hosts") or {}).items():
        if host not in group["hosts"]:
            group["hosts"].append(host)
        out["_meta"]["hostvars"].setdefault(host, {}).update(host_vars or {})
    group["vars"].update(node.get("vars") or {})
    for child, child_node in (node.get("children") or {}).items():
        if child not in group["children"]:
            group["children"].append(child)
        walk(child, child_node, out)


def build():
    out = {"_meta": {"hostvars": {}}}
    path = state_file()
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
        for name, node in data.items():
            walk(name, node, out)
    group = out.setdefault(GROUP, {"hosts": [], "vars": {}, "children": []})
    group["hosts"] = sorted(set(group["hosts"]) | set(out["_meta"]["hostvars"]))
    return out


def main(argv):
    if len(argv) > 1 and argv[1] == "--host":
        print(json.dumps(build()["_meta"]["hostvars"].get(argv[2], {}) if len(argv) > 2 else {}))
    else:
        print(json.dumps(build(), indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
