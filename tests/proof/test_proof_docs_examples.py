"""The documentation's examples run as written (issue 15.8).

- README.md: every fenced block is run, in its section's order, or carries `<!-- not run: reason -->`. The quick
  start runs as a user would: the collection installed from the tarball `ansible-galaxy collection build` makes,
  a fresh project directory and HOME, the inventory files the README shows written where it says, and its commands
  run one by one against a sandbox. The only changes are the placeholders a user replaces too (example.com URLs,
  ids and secrets) and `--ask-vault-pass`, which needs a terminal.
- The role guide (docs/docsite/rst/scim_sync_guide.rst): every YAML snippet is a valid inventory or valid role
  variables (the role's argument spec), and its template tables name every variable the templates read.
  (That `ansible-doc -t role` shows the role's real defaults is tests/unit/test_role_defaults.py's.)
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from sandbox import testing as proofkit
from sandbox.testing import REPO

README = REPO / "README.md"
GUIDE = REPO / "docs" / "docsite" / "rst" / "scim_sync_guide.rst"
ROLE = REPO / "roles" / "scim_sync"
NOT_RUN = re.compile(r"<!-- not run: (.+?) -->")
# README sections whose examples a test below runs; any other block must say why it is not run.
RUN_SECTIONS = ("Quick start against a real PingIDM", "The sandbox", "GitOps: export, edit, apply")


def readme_blocks() -> list[dict]:
    """Fenced blocks of README.md with their language, section and not-run reason (the line before the fence)."""
    blocks, section, previous, block = [], "", "", None
    for number, line in enumerate(README.read_text().splitlines(), 1):
        if block is not None:
            if line.startswith("```"):
                blocks.append(block)
                block = None
            else:
                block["text"] += line + "\n"
            continue
        if line.startswith("## "):
            section = line[3:].strip()
        if line.startswith("```"):
            reason = NOT_RUN.search(previous)
            block = {
                "lang": line[3:].strip(),
                "text": "",
                "section": section,
                "line": number,
                "not_run": reason.group(1) if reason else None,
            }
        elif line.strip():
            previous = line
    return blocks


def guide_yaml_blocks() -> list[tuple[int, str]]:
    """`.. code-block:: yaml` snippets of the role guide, dedented."""
    lines, found = GUIDE.read_text().splitlines(), []
    for index, line in enumerate(lines):
        if line.strip() == ".. code-block:: yaml":
            body = []
            for following in lines[index + 1 :]:
                if following.strip() and not following.startswith("  "):
                    break
                body.append(following[2:])
            found.append((index + 1, "\n".join(body).strip() + "\n"))
    return found


def commands(text: str) -> list[str]:
    """Shell lines of a bash block (backslash continuations joined, comment-only lines dropped)."""
    joined = text.replace("\\\n", " ")
    return [line for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


def expected_rc(command: str) -> int:
    match = re.search(r"#.*exit code (\d+)", command)
    return int(match.group(1)) if match else 0


def user_env(home: Path) -> dict:
    """A user's shell: this venv's tools on PATH, an empty HOME, no Ansible or IDM settings of the test run."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANSIBLE_", "IDM_", "SCIM_", "IDMOPS_", "PROOF_", "PYTEST_"))
    }
    env.update(
        HOME=str(home),
        PATH=f"{Path(proofkit.PYTHON).parent}:{os.environ.get('PATH', '')}",
        ANSIBLE_NOCOLOR="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def run(command: str, cwd: Path, env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-eo", "pipefail", "-c", command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_every_readme_example_is_run_or_says_why():
    for block in readme_blocks():
        where = f"README.md line {block['line']} ({block['section']})"
        assert block["lang"], f"{where}: a fenced block names its language"
        assert block["section"] in RUN_SECTIONS or block["not_run"], (
            f"{where}: not run by any test; run it or mark it <!-- not run: reason -->"
        )


def test_readme_quick_start_runs_as_written(sandbox_factory, tmp_path):
    sandbox = sandbox_factory(users=6, groups=2)
    tenant = sandbox.tenant(0)
    project, home = tmp_path / "project", tmp_path / "home"
    project.mkdir(), home.mkdir()
    env = user_env(home)
    vault_password = tmp_path / "vault-password"
    vault_password.write_text("docs-example-vault-password\n")

    build = run(f"ansible-galaxy collection build {shlex.quote(str(REPO))} --output-path .", project, env)
    assert build.returncode == 0, build.stdout + build.stderr

    placeholders = {
        "https://idm-eu.example.com": tenant.idm_url,
        "https://scim.provider.example.com/scim/v2": tenant.scim_url,
        "https://scim.provider.example.com/oauth2/token": tenant.hostvars["scim_token_endpoint"],
        "idm-sync": tenant.hostvars["scim_client_id"],
        "the-admin-password": tenant.admin_password,
        "the-client-secret": tenant.hostvars["scim_client_secret"],
        "--ask-vault-pass": f"--vault-password-file {vault_password}",
    }
    blocks = [b for b in readme_blocks() if b["section"] == RUN_SECTIONS[0]]
    everything = "".join(b["text"] for b in blocks)
    for placeholder in placeholders:
        assert placeholder in everything, f"placeholder {placeholder!r} is no longer in the quick start"

    ran = []
    for block in blocks:
        text = block["text"]
        for placeholder, value in placeholders.items():
            text = text.replace(placeholder, value)
        if block["lang"] == "yaml":
            first = text.splitlines()[0]
            assert first.startswith("# "), f"README line {block['line']}: a YAML example starts with # <its file>"
            path = project / first[2:].split()[0]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            yaml.safe_load(text)
        elif block["lang"] == "bash":
            for command in commands(text):
                result = run(command, project, env)
                ran.append((command, result.returncode))
                assert result.returncode == expected_rc(command), (
                    f"README line {block['line']}: {command}\nrc={result.returncode}\n"
                    f"{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
                )
        else:
            pytest.fail(f"README line {block['line']}: no runner for a {block['lang']!r} block")

    assert any("idmops.pingidm.scim_sync" in command and "--check" not in command for command, _rc in ran)
    assert tenant.managed_count("user") == 6, "the quick start's flow did not reconcile the SCIM users"
    report = yaml.safe_load((project / "drift-reports" / "idm-eu.json").read_text())
    assert report["status"] == "clean", report
    assert "docs-example" not in (project / "inventories/prod/host_vars/idm-eu/vault.yml").read_text(), (
        "the vault file is encrypted"
    )


def _tenant_inventory(project: Path, host: str, tenant) -> None:
    """host_vars of one tenant in the quick start's layout, its secrets in an encrypted vault.yml."""
    prefix = "vault_" + host.replace("-", "_")
    host_vars = project / "inventories" / "prod" / "host_vars" / host
    host_vars.mkdir(parents=True, exist_ok=True)
    (host_vars / "vars.yml").write_text(
        yaml.safe_dump(
            {
                "scim_sync_idm_url": tenant.idm_url,
                "scim_sync_idm_username": tenant.admin_user,
                "scim_sync_idm_password": "{{ " + prefix + "_admin_password }}",
                "scim_sync_scim_endpoint": tenant.scim_url,
                "scim_sync_scim_version": 2,
                "scim_sync_scim_auth_method": "OAUTH",
                "scim_sync_scim_token_endpoint": tenant.hostvars["scim_token_endpoint"],
                "scim_sync_scim_client_id": tenant.hostvars["scim_client_id"],
                "scim_sync_scim_client_secret": "{{ " + prefix + "_scim_client_secret }}",
            }
        )
    )


def _vault(path: Path, values: dict, vault_password: Path, project: Path, env: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(values))
    done = run(f"ansible-vault encrypt {shlex.quote(str(path))} --vault-password-file {vault_password}", project, env)
    assert done.returncode == 0, done.stdout + done.stderr


def test_readme_gitops_section_runs_as_written(sandbox_factory, tmp_path):
    """export -> edit -> apply from idm-dev to a fresh idm-test, as the README shows it. The interactive steps are
    done the way a user would do them: the vault file is written and encrypted, the editor's change is the one the
    README's comment shows (the provider's endpoints and client id become the target host's variables)."""
    sandbox = sandbox_factory(tenants=2, users=6, groups=2)
    dev, test = sandbox.tenant(0), sandbox.tenant(1)
    project, home = tmp_path / "project", tmp_path / "home"
    project.mkdir(), home.mkdir()
    env = dict(
        user_env(home),
        GIT_AUTHOR_NAME="docs",
        GIT_AUTHOR_EMAIL="docs@example.com",
        GIT_COMMITTER_NAME="docs",
        GIT_COMMITTER_EMAIL="docs@example.com",
    )
    vault_password = tmp_path / "vault-password"
    vault_password.write_text("docs-example-vault-password\n")
    for command in (
        f"ansible-galaxy collection build {shlex.quote(str(REPO))} --output-path .",
        "ansible-galaxy collection install idmops-pingidm-*.tar.gz",
        "git init -q .",
    ):
        done = run(command, project, env)
        assert done.returncode == 0, command + done.stdout + done.stderr
    (project / "inventories" / "prod").mkdir(parents=True)
    (project / "inventories" / "prod" / "hosts.yml").write_text(
        yaml.safe_dump(
            {
                "idm_tenants": {
                    "hosts": {"idm-dev": None, "idm-test": None},
                    "vars": {
                        "ansible_connection": "local",
                        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                    },
                }
            }
        )
    )
    for host, tenant in (("idm-dev", dev), ("idm-test", test)):
        _tenant_inventory(project, host, tenant)
    _vault(
        project / "inventories/prod/host_vars/idm-dev/vault.yml",
        {
            "vault_idm_dev_admin_password": dev.admin_password,
            "vault_idm_dev_scim_client_secret": dev.hostvars["scim_client_secret"],
        },
        vault_password,
        project,
        env,
    )
    vault_option = f"--vault-password-file {vault_password}"
    # A running dev tenant: the sample's flow.
    done = run(
        f"ansible-playbook -i inventories/prod idmops.pingidm.scim_sync --limit idm-dev {vault_option}", project, env
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]

    block = next(b for b in readme_blocks() if b["section"] == RUN_SECTIONS[2])
    lines = commands(block["text"])
    assert len(lines) <= 6, "the README promises export -> edit -> apply in six commands or fewer"
    for command in lines:
        if command.startswith("ansible-vault create "):
            # what the user types into the editor ansible-vault opens
            _vault(
                project / command.split()[2],
                {
                    "vault_idm_test_admin_password": test.admin_password,
                    "vault_idm_test_scim_client_secret": test.hostvars["scim_client_secret"],
                },
                vault_password,
                project,
                env,
            )
            continue
        if command.startswith("$EDITOR "):
            path = project / command.split()[1]
            connector = json.loads(path.read_text())
            properties = connector["configurationProperties"]
            properties["SCIMEndpoint"] = "{{ scim_sync_scim_endpoint }}"
            properties["tokenEndpoint"] = "{{ scim_sync_scim_token_endpoint }}"
            properties["clientId"] = "{{ scim_sync_scim_client_id }}"
            path.write_text(json.dumps(connector, indent=2, sort_keys=True) + "\n")
            continue
        if command.startswith("ansible-playbook "):
            code, hash_mark, comment = command.partition(" #")  # the option goes before a trailing comment
            command = f"{code.rstrip()} {vault_option}{hash_mark}{comment}"
        done = run(command, project, env)
        assert done.returncode == 0, f"{command}\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}"

    # idm-test has idm-dev's connector (with its own secret) and mappings; applying again changes nothing.
    stored = test.idm_json("GET", "config/provisioner.openicf/scim")
    assert stored["configurationProperties"]["SCIMEndpoint"] == test.scim_url
    assert stored["configurationProperties"]["clientSecret"].get("$crypto"), "the secret is stored encrypted"
    clear = test.idm_json(
        "POST",
        "script",
        {
            "type": "text/javascript",
            "source": "openidm.decrypt(val);",
            "globals": {"val": stored["configurationProperties"]["clientSecret"]},
        },
        params={"_action": "eval"},
    )
    assert clear == test.hostvars["scim_client_secret"]

    def names(tenant):
        return [m["name"] for m in tenant.idm_json("GET", "config/sync")["mappings"]]

    assert names(test) == names(dev) and len(names(test)) == 4
    again = run(lines[-1] + " " + vault_option, project, env)
    assert again.returncode == 0 and re.search(r"idm-test +: ok=\d+ +changed=0 ", again.stdout), again.stdout[-3000:]


def test_readme_sandbox_section_runs_as_written(tmp_path):
    block = next(b for b in readme_blocks() if b["section"] == RUN_SECTIONS[1])
    env = dict(os.environ, IDMOPS_SANDBOX_STATE=str(tmp_path / "sandbox"), ANSIBLE_NOCOLOR="1")
    env = {k: v for k, v in env.items() if not k.startswith(("ANSIBLE_COLLECTIONS", "ANSIBLE_CONFIG", "PROOF_"))}
    try:
        for command in commands(block["text"]):
            if command.startswith(". .venv/bin/activate"):
                continue  # this test already runs with the venv's tools first on PATH
            result = run(command, REPO, dict(env, PATH=f"{Path(proofkit.PYTHON).parent}:{env.get('PATH', '')}"))
            assert result.returncode == 0, f"{command}\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    finally:
        proofkit.sandbox_down(tmp_path / "sandbox")


def _argument_spec(entry_point: str = "main") -> dict:
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    return specs[entry_point]["options"]


def test_guide_yaml_snippets_are_valid():
    blocks = guide_yaml_blocks()
    assert blocks, "no YAML snippet found in the guide"
    spec = _argument_spec()
    for line, text in blocks:
        data = yaml.safe_load(text)
        first = text.splitlines()[0]
        if first.startswith("# role variables"):
            unknown = sorted(set(data) - set(spec))
            assert not unknown, f"guide line {line}: not role variables: {unknown}"
            # A snippet sets some variables; the inventory sets the required ones.
            optional = {name: dict(option, required=False) for name, option in spec.items()}
            result = ArgumentSpecValidator(optional).validate(data)
            assert not result.error_messages, f"guide line {line}: {result.error_messages}"
        elif re.match(r"# inventories/.+/hosts\.yml", first):
            group = data["idm_tenants"]
            assert group["vars"]["ansible_python_interpreter"] == "{{ ansible_playbook_python }}"
            assert group["vars"]["ansible_connection"] == "local"
        else:
            pytest.fail(
                f"guide line {line}: a YAML snippet starts with '# role variables' or '# inventories/.../hosts.yml'"
            )


TEMPLATES = REPO / "conf_templates"
IMPORT = re.compile(r"{%-?\s*(?:import|from)\s+'([\w.-]+)'")


def _reads(template: str) -> set[str]:
    """The role variables a template reads, with those of the helper templates it imports."""
    text = (TEMPLATES / template).read_text()
    used = set(re.findall(r"\b(scim_sync_[a-z0-9_]+)", text))
    for helper in IMPORT.findall(text):
        used |= _reads(helper)
    return used


def _rendered_templates() -> list[str]:
    """Templates a user renders; helpers that other templates import are covered through those."""
    names = sorted(p.name for p in TEMPLATES.glob("*.j2"))
    helpers = {h for name in names for h in IMPORT.findall((TEMPLATES / name).read_text())}
    return [name for name in names if name not in helpers]


@pytest.mark.parametrize("template", _rendered_templates())
def test_guide_lists_every_variable_a_template_reads(template):
    # The guide has one table per template, under a line "``<template>`` (what it renders):".
    parts = re.split(r"^``([\w.-]+\.j2)`` \(.*\):$", GUIDE.read_text(), flags=re.M)
    tables = dict(zip(parts[1::2], parts[2::2], strict=True))
    assert template in tables, f"the guide has no table for {template}"
    missing = sorted(_reads(template) - set(re.findall(r"``(scim_sync_[a-z0-9_]+)``", tables[template])))
    assert not missing, f"the guide's table for {template} lacks {missing}"
