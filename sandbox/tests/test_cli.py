"""`python -m sandbox up/status/down` end to end: real subprocesses, two tenants, TLS, restart persistence.

One test on purpose: starting the SCIM providers dominates the cost (~3 s per `up`), so the scenario runs once.
"""

import json
import os
import stat
import subprocess
import sys

import pytest
import requests
import yaml

from sandbox import cli

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "sandbox", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60, check=False)


@pytest.fixture
def sandbox_state(tmp_path):
    state = tmp_path / "sb"
    yield state
    # Whatever happened, stop what `up` started (by pid, through the CLI's own down).
    if (state / "sandbox.json").exists():
        run_cli("down", "--state", str(state))


def test_up_status_down_two_tenants_tls_and_persistence(sandbox_state):
    state = str(sandbox_state)
    up = run_cli("up", "--tenants", "2", "--users", "3", "--groups", "1", "--tls", "--state", state)
    assert up.returncode == 0, up.stderr
    data = json.loads((sandbox_state / "sandbox.json").read_text())
    assert [t["name"] for t in data["tenants"]] == ["tenant1", "tenant2"]
    for path in ("sandbox.json", "inventory.yml"):
        assert stat.S_IMODE(os.stat(sandbox_state / path).st_mode) == 0o600
    secrets = [t["scim"]["client_secret"] for t in data["tenants"]]
    assert len(set(secrets)) == 2
    assert not any(secret in up.stdout + up.stderr for secret in secrets)

    hosts = yaml.safe_load((sandbox_state / "inventory.yml").read_text())["all"]["children"]["idm_tenants"]["hosts"]
    tenant1 = hosts["tenant1"]
    assert tenant1["ansible_connection"] == "local"
    assert tenant1["ansible_python_interpreter"] == "{{ ansible_playbook_python }}"
    assert tenant1["idm_url"].startswith("https://127.0.0.1:") and tenant1["scim_endpoint"].endswith("/scim/v2")
    assert tenant1["scim_auth_method"] == "OAUTH" and tenant1["idm_ca_path"] == data["ca_path"]
    ca = tenant1["idm_ca_path"]

    # Both servers answer over TLS with the generated CA, and the SCIM provider got the secret via env.
    admin = {"X-OpenIDM-Username": tenant1["idm_username"], "X-OpenIDM-Password": tenant1["idm_password"]}
    created = requests.post(tenant1["idm_url"] + "/openidm/managed/user?_action=create", headers=admin,
                            json={"userName": "persisted", "givenName": "P", "sn": "Ersisted",
                                  "mail": "persisted@example.com"}, verify=ca, timeout=5)
    assert created.status_code == 201
    token = requests.post(tenant1["scim_token_endpoint"], data={"grant_type": "client_credentials"},
                          auth=(tenant1["scim_client_id"], tenant1["scim_client_secret"]), verify=ca, timeout=5)
    assert token.status_code == 200
    users = requests.get(tenant1["scim_endpoint"] + "/Users", verify=ca, timeout=5,
                         headers={"Authorization": f"Bearer {token.json()['access_token']}"}).json()
    assert users["totalResults"] == 3
    for tenant in data["tenants"]:
        for kind in ("idm", "scim"):
            argv = open(f"/proc/{tenant[kind]['pid']}/cmdline", "rb").read().decode()
            assert tenant["scim"]["client_secret"] not in argv

    status = run_cli("status", "--state", state)
    assert status.returncode == 0 and status.stdout.count("answers") == 4
    again = run_cli("up", "--tenants", "2", "--users", "3", "--groups", "1", "--tls", "--state", state)
    assert again.returncode == 0 and "already up" in again.stdout

    pids = [t[kind]["pid"] for t in data["tenants"] for kind in ("idm", "scim")]
    down = run_cli("down", "--state", state)
    assert down.returncode == 0
    assert not any(cli.pid_alive(pid) for pid in pids)
    after = json.loads((sandbox_state / "sandbox.json").read_text())
    assert all(t[kind]["pid"] is None for t in after["tenants"] for kind in ("idm", "scim"))
    assert run_cli("status", "--state", state).returncode == 1

    # Up again on the same state: same secrets, the IDM user is still there.
    assert run_cli("up", "--tenants", "1", "--users", "3", "--groups", "1", "--tls", "--state", state).returncode == 0
    restarted = json.loads((sandbox_state / "sandbox.json").read_text())["tenants"][0]
    assert restarted["scim"]["client_secret"] == secrets[0]
    found = requests.get(restarted["idm"]["url"] + '/openidm/managed/user?_queryFilter=userName eq "persisted"',
                         headers=admin, verify=ca, timeout=5).json()
    assert found["resultCount"] == 1


def test_down_leaves_foreign_pids_alone(tmp_path):
    # A pid that runs something else (this test process) must not be signalled.
    assert cli.stop_pid(os.getpid(), "sandbox.idm") == "pid reused by another program; left alone"
    assert cli.stop_pid(None, "sandbox.idm") == "not running"
    assert run_cli("down", "--state", str(tmp_path / "none")).stdout.startswith("sandbox is not up")
