#!/usr/bin/env bash
# Integration targets (all, or the ones named as arguments) against a fresh sandbox: start it, hand its connection variables to ansible-test through
# tests/integration/integration_config.yml, run the targets, and always stop the sandbox again.
set -euo pipefail
cd "$(dirname "$0")/.."
state=$PWD/.sandbox/integration
rm -rf "$state"
python -m sandbox up --state "$state" --tenants 1 --users 20 --groups 3 >/dev/null
trap 'python -m sandbox down --state "$state" >/dev/null 2>&1 || true' EXIT
python - "$state/inventory.yml" tests/integration/integration_config.yml <<'PY'
import sys, yaml
inventory = yaml.safe_load(open(sys.argv[1]))
hosts = inventory["all"].get("hosts") or {}
for group in (inventory["all"].get("children") or {}).values():
    hosts.update(group.get("hosts") or {})
tenant = hosts[sorted(hosts)[0]]
config = {k: v for k, v in tenant.items() if not k.startswith("ansible_")}
with open(sys.argv[2], "w") as handle:
    yaml.safe_dump(config, handle)
PY
chmod 600 tests/integration/integration_config.yml
tools/ansible-test-in-tree.sh integration --local --python 3.11 --color no "$@"
