#!/usr/bin/env bash
# Build the collection, check what the tarball ships, run galaxy-importer on it offline, and check that
# ansible-builder reads the execution-environment metadata.
set -euo pipefail
tarball=$1
cd "$(dirname "$0")/.."
rm -rf dist && mkdir -p dist
ansible-galaxy collection build --output-path dist --force >/dev/null
echo "build-check: built $tarball"

listing=$(tar -tzf "$tarball")
forbidden=$(echo "$listing" | grep -E '^(sandbox|benchmarks|tools|\.venv[^/]*|\.sandbox|\.ci|dist|build|tests/output|collections|inventories/sandbox|extensions/molecule|tests/integration|tests/proof|docs/sphinx)(/|$)|__pycache__|\.pyc$' || true)
if [ -n "$forbidden" ]; then
  echo "build-check: the tarball ships development files:"; echo "$forbidden" | head -20; exit 1
fi
# Nothing shipped may need the sandbox: no playbook, role, template, inventory or plugin starts or reads it.
unpacked=$(mktemp -d)
tar -xzf "$tarball" -C "$unpacked"
needs_sandbox=$(cd "$unpacked" && grep -rlE 'python -m sandbox|inventories/sandbox|IDMOPS_SANDBOX_STATE|__sandbox' \
  --include='*.yml' --include='*.yaml' --include='*.py' --include='*.j2' . || true)
rm -rf "$unpacked"
if [ -n "$needs_sandbox" ]; then
  echo "build-check: shipped files need the unshipped sandbox:"; echo "$needs_sandbox"; exit 1
fi
for required in MANIFEST.json FILES.json meta/runtime.yml plugins/modules/recon.py conf_templates roles/scim_sync; do
  grep -q "^$required" <<<"$listing" || { echo "build-check: $required missing from the tarball"; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# galaxy-importer: ansible-doc and ansible-lint over the built artifact, no network, no containers. It writes
# importer_result.json into its working directory.
(cd "$work" && GALAXY_IMPORTER_CONFIG=/dev/null python -m galaxy_importer.main "$OLDPWD/$tarball" >importer.log 2>&1) || {
  echo "build-check: galaxy-importer failed:"; tail -40 "$work/importer.log"; exit 1; }
python - "$work/importer_result.json" "$work/importer.log" <<'PY'
import json, sys
log = open(sys.argv[2]).read()
result = json.load(open(sys.argv[1]))
names = sorted(c["name"] for c in result.get("contents", []) if c.get("content_type") == "module")
problems = [line for line in log.splitlines() if line.startswith(("ERROR", "WARNING"))]
if problems:
    sys.exit("build-check: galaxy-importer reported:\n" + "\n".join(problems))
print(f"build-check: galaxy-importer accepted the collection ({len(names)} modules: {', '.join(names)})")
PY

# ansible-builder: introspect the installed collection's EE metadata and create a build context.
ansible-galaxy collection install --force -p "$work/collections" "$tarball" >/dev/null 2>&1
ansible-builder introspect "$work/collections" >"$work/introspect.txt"
grep -q "requests" "$work/introspect.txt" || { echo "build-check: ansible-builder did not read requirements.txt"; cat "$work/introspect.txt"; exit 1; }
cat >"$work/execution-environment.yml" <<YML
---
version: 3
images:
  base_image:
    name: quay.io/ansible/awx-ee:latest
dependencies:
  galaxy:
    collections:
      - name: $(cd dist && pwd)/$(basename "$tarball")
        type: file
YML
ansible-builder create -f "$work/execution-environment.yml" --context "$work/context" >/dev/null
test -f "$work/context/Containerfile" -o -f "$work/context/Dockerfile"
echo "build-check: ansible-builder read the EE metadata and wrote a build context"
