"""The files ``up`` writes: ``DIR/sandbox.json`` (pids, ports, urls, credentials) and ``DIR/inventory.yml`` (one
host per tenant in group ``idm_tenants``), both mode 0600 because they hold the tenants' secrets."""

from __future__ import annotations

import json
import os

import yaml

from .common import INVENTORY_GROUP, NO_SCRIPT_USER, default_profile


def write_private(path, text):
    """Write a file readable by the owner only (it holds secrets), atomically."""
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load_state(state_dir):
    path = os.path.join(state_dir, "sandbox.json")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def save_state(state_dir, state):
    write_private(os.path.join(state_dir, "sandbox.json"), json.dumps(state, indent=2) + "\n")


def _scim_auth_vars(tenant):
    scim = tenant["scim"]
    method = scim.get("auth", "OAUTH")
    if method == "BASIC":
        return {"scim_auth_method": "BASIC", "scim_user": scim["basic_user"], "scim_password": scim["basic_password"]}
    if method == "TOKEN":
        return {"scim_auth_method": "TOKEN", "scim_token": scim["static_token"]}
    return {
        "scim_auth_method": "OAUTH",
        "scim_token_endpoint": scim["token_endpoint"],
        "scim_client_id": scim["client_id"],
        "scim_client_secret": scim["client_secret"],
    }


def inventory(state):
    hosts = {}
    for tenant in state["tenants"]:
        scim = tenant["scim"]
        host = {
            "ansible_connection": "local",
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "idm_url": tenant["idm"]["url"],
            "idm_username": tenant["idm"]["username"],
            "idm_password": tenant["idm"]["password"],
            # A second IDM user that may not evaluate scripts, for testing modules that need script rights.
            "idm_noscript_username": tenant["idm"].get("noscript_username", NO_SCRIPT_USER),
            "idm_noscript_password": tenant["idm"].get("noscript_password"),
            "scim_endpoint": scim["endpoint"],
            "scim_version": state["scim_version"],
            **_scim_auth_vars(tenant),
            "sandbox_profile": tenant.get("profile") or default_profile(),
        }
        if state.get("ca_path"):
            host["idm_ca_path"] = state["ca_path"]
        hosts[tenant["name"]] = host
    return {"all": {"children": {INVENTORY_GROUP: {"hosts": hosts}}}}


def write_inventory(state_dir, state):
    text = "# Written by `python -m sandbox up`; holds secrets (mode 0600).\n" + yaml.safe_dump(
        inventory(state), sort_keys=False, default_flow_style=False
    )
    write_private(os.path.join(state_dir, "inventory.yml"), text)
