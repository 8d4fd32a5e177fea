"""The modules' EXAMPLES run as written against a sandbox tenant (issue 15.8).

Each module's EXAMPLES block becomes one play, run in an order that keeps the tenant usable (the connector's own
examples, which remove it, come last), after the role has converged the tenant. What a reader would replace is
replaced, and nothing else: the example URLs and client ids (as whole values), the example users, and the
variables the examples leave to the reader (`idm_admin_password`, `scim_client_secret`, ...). Connection options
an example leaves out come from module_defaults of the action group, as the modules' docs say. The templates the
examples name are found in the collection's conf_templates/ and render with the sandbox inventory's role
variables and the role's default attribute maps (the role guide tells readers to copy those), and `managed.json`
holds the managed objects the sandbox IDM has.
"""

from __future__ import annotations

import ast
import json

import pytest
import yaml

from sandbox import testing as proofkit
from sandbox.testing import REPO

ROLE_DEFAULTS = yaml.safe_load((REPO / "roles" / "scim_sync" / "defaults" / "main.yml").read_text())
# In this order: read-only first, then recons, then config changes; the connector's examples remove it.
MODULES = ("info", "scim_provider_info", "connector_test", "recon", "recon_info", "config", "mapping", "connector")
# Examples found not to run as written. Each must still fail, so that fixing the
# example without removing it here fails this test; the examples after it still run.
KNOWN_BROKEN = {}


def examples(module: str) -> list[dict]:
    tree = ast.parse((REPO / "plugins" / "modules" / f"{module}.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "EXAMPLES" for t in node.targets):
            return yaml.safe_load(node.value.value)
    raise AssertionError(f"{module} has no EXAMPLES")


def replace_values(data, values: dict):
    """Replace whole string values (never parts of strings) that a reader would replace."""
    if isinstance(data, dict):
        return {k: replace_values(v, values) for k, v in data.items()}
    if isinstance(data, list):
        return [replace_values(v, values) for v in data]
    if isinstance(data, str) and data in values:
        return values[data]
    return data


@pytest.fixture(scope="module")
def converged(tmp_path_factory):
    """One tenant, converged by the role; stopped after the last module's examples."""
    state = tmp_path_factory.mktemp("examples") / "sandbox"
    sandbox = proofkit.sandbox_up(state, users=4, groups=2)
    try:
        flow = proofkit.run_flow(sandbox, state.parent)
        assert flow.rc == 0, flow.describe()
        yield sandbox
    finally:
        proofkit.sandbox_down(state)


@pytest.mark.parametrize("module", MODULES)
def test_module_examples_run_as_written(converged, module, tmp_path):
    tenant = converged.tenant(0)
    host = tenant.hostvars
    # The file config's first example reads: the managed objects as this tenant's IDM defines them.
    (tmp_path / "managed.json").write_text(
        json.dumps(
            {
                "objects": [
                    {"name": "user", "schema": {"required": ["userName"]}},
                    {"name": "role", "schema": {"required": ["name"]}},
                ]
            }
        )
    )
    readers_values = {
        "http://localhost:8080": tenant.idm_url,
        "https://idm.example.com": tenant.idm_url,
        "https://scim.example.com/scim/v2": tenant.scim_url,
        "https://scim.example.com/oauth2/token": host["scim_token_endpoint"],
        "idm-client": host["scim_client_id"],
        "deployer": host["idm_noscript_username"],
    }
    tasks = replace_values(examples(module), readers_values)
    broken = {name for (owner, name) in KNOWN_BROKEN if owner == module}
    for task in tasks:
        if task.get("name") in broken:
            task["ignore_errors"] = True
    for task in tasks:  # the example's client id "idm" is a whole value only under clientId
        properties = task.get("idmops.pingidm.connector", {}).get("config", {}).get("configurationProperties", {})
        if properties.get("clientId") == "idm":
            properties["clientId"] = host["scim_client_id"]
    play = {
        "name": f"EXAMPLES of idmops.pingidm.{module}",
        "hosts": "idm_tenants",
        "gather_facts": False,
        "module_defaults": {
            "group/idmops.pingidm.idm": {
                "idm_url": tenant.idm_url,
                "username": tenant.admin_user,
                "password": tenant.admin_password,
            }
        },
        "vars": {
            "idm_admin_password": tenant.admin_password,
            "idm_url": tenant.idm_url,
            "idm_username": tenant.admin_user,
            "idm_password": tenant.admin_password,
            "scim_client_secret": host["scim_client_secret"],
            "deployer_password": host["idm_noscript_password"],
            "scim_object_types": "{{ (lookup('ansible.builtin.template', '%s') | from_json).objectTypes }}"
            % (REPO / "conf_templates" / "provisioner.openicf-scim.json.j2"),
            # Outside the role the mapping template needs the attribute maps; the role guide says to copy the
            # role's default lists, as a reader of these examples would.
            **{name: value for name, value in ROLE_DEFAULTS.items() if "_attribute_map" in name},
        },
        "tasks": tasks,
    }
    playbook = tmp_path / f"examples_{module}.yml"
    playbook.write_text(yaml.safe_dump([play], sort_keys=False))
    result = proofkit.run_flow(converged, tmp_path, playbook=playbook)
    failed = [f"{t['task']}: {t['result'].get('msg')}" for t in result.failed() if t["task"] not in broken]
    assert result.rc == 0 and not failed, (
        f"examples of {module} that do not run:\n" + "\n".join(failed) + ("\n" + result.describe())
    )
    still_broken = {t["task"] for t in result.tasks if t["task"] in broken and t["status"] == "ignored"}
    fixed = sorted(broken - still_broken)
    assert not fixed, f"examples of {module} run now; remove them from KNOWN_BROKEN: {fixed}"
