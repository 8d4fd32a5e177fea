#!/usr/bin/env bash
# Unit and sanity tests on ansible-core 2.21 when a Python >= 3.12 exists here; says so and skips otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
py=""
for candidate in python3.13 python3.12 "$(pyenv root 2>/dev/null)/versions/3.12.1/bin/python" "$(pyenv root 2>/dev/null)/versions/3.13.0/bin/python"; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
    py=$candidate; break
  fi
done
if [ -z "$py" ]; then
  echo "test-matrix: no Python >= 3.12 on this machine; skipping the ansible-core 2.21 run"; exit 0
fi
# Inside .venv: ignored by git, by the collection build and by the linters, like the main venv.
venv=.venv/matrix
pyver=$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
if [ ! -f "$venv/.stamp" ] || [ requirements-matrix.txt -nt "$venv/.stamp" ]; then
  "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-matrix.txt
  pipver=$("$venv/bin/python" -c "import re,inspect,ansible_test._internal.python_requirements as r; print(re.search(r\"pip='([0-9.]+)'\", inspect.getsource(r)).group(1))")
  mkdir -p "$HOME/.ansible/test/cache"; cp tools/get_pip_offline.py "$HOME/.ansible/test/cache/get_pip_${pipver//./_}.py"
  touch "$venv/.stamp"
fi
echo "test-matrix: ansible-core $("$venv/bin/ansible" --version | head -1) on Python $pyver"
PATH=$PWD/$venv/bin:$PATH ANSIBLE_TEST_TREE=/tmp/idmops-pingidm-ansible-test-matrix-$(echo "$PWD" | md5sum | cut -c1-8) tools/ansible-test-in-tree.sh sanity --local --python "$pyver"
"$venv/bin/python" -m pytest -q -o pythonpath=".venv/collroot ." tests/unit
# The whole flow on that core too, in process (the action plugins use ansible-core's module JSON profiles and
# argument validation, which move between versions): a first run, then an idempotent one.
state=$(mktemp -d /tmp/idmops-matrix-sandbox.XXXXXX)
trap '.venv/bin/python -m sandbox down --state "$state" >/dev/null 2>&1 || true; rm -rf "$state"' EXIT
.venv/bin/python -m sandbox up --state "$state" --tenants 1 --users 6 --groups 2 >/dev/null
for run in first second; do
  out=$(IDMOPS_SANDBOX_STATE=$state ANSIBLE_NOCOLOR=1 "$venv/bin/ansible-playbook" -i inventories/sandbox \
        playbooks/scim_sync.yml -e "ansible_python_interpreter=$PWD/$venv/bin/python" 2>&1) || { echo "$out" | tail -30; exit 1; }
  recap=$(echo "$out" | grep -E '^tenant1 +:')
  echo "test-matrix: flow on ansible-core 2.21, $run run: $recap"
  if [ "$run" = second ] && ! echo "$recap" | grep -q ' changed=0 '; then
    echo "test-matrix: the second run changed something"; exit 1
  fi
done
