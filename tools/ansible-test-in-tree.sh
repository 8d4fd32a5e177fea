#!/usr/bin/env bash
# ansible-test only runs inside .../ansible_collections/<namespace>/<name>/ (symlinks resolved), and the repository
# root is the collection itself. Copy what git tracks (plus untracked, not ignored files) into such a tree and run
# ansible-test there. The sandbox, benchmarks and tools are not part of the shipped collection and are left out.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
# Outside the repository: inside it, git would ignore the copy and ansible-test would find no targets.
tree=${ANSIBLE_TEST_TREE:-/tmp/idmops-pingidm-ansible-test-$(echo "$repo" | md5sum | cut -c1-8)}
dest=$tree/ansible_collections/idmops/pingidm
mkdir -p "$dest"
# Keep tests/output (caches, junit) between runs; replace everything else.
find "$dest" -mindepth 1 -maxdepth 1 ! -name tests -exec rm -rf {} +
[ -d "$dest/tests" ] && find "$dest/tests" -mindepth 1 -maxdepth 1 ! -name output -exec rm -rf {} +
cd "$repo"
git ls-files -z --cached --others --exclude-standard \
  | grep -zv -E '^(sandbox|benchmarks|tools)/' \
  | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
  | xargs -0 -r cp --parents -t "$dest"
# integration_config.yml is written by `make integration` and ignored by git.
[ -f tests/integration/integration_config.yml ] && cp tests/integration/integration_config.yml "$dest/tests/integration/"
cd "$dest"
exec ansible-test "$@"
