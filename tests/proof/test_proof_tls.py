"""The sandbox over HTTPS with a CA made at test time (`python -m sandbox up --tls`): the flow works with
validate_certs + ca_path, and without the CA a task fails with a message that says what to set."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import proofkit


@pytest.fixture
def tls_sandbox(sandbox_factory):
    sandbox = sandbox_factory(users=6, groups=2, tls=True)
    tenant = sandbox.tenant(0)
    assert tenant.idm_url.startswith("https://"), tenant.idm_url
    assert tenant.ca_path and Path(tenant.ca_path).is_file(), f"no CA file in sandbox.json: {sandbox.info}"
    return sandbox


def _info_playbook(tmp_path: Path, **options) -> Path:
    playbook = tmp_path / "info.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "tls", "hosts": "localhost", "gather_facts": False,
        "tasks": [{"name": "info over https", "idmops.pingidm.info": options}],
    }]))
    return playbook


def test_flow_over_https_with_the_ca(tls_sandbox, tmp_path):
    tenant = tls_sandbox.tenant(0)
    assert tenant.hostvars.get("idm_ca_path") == tenant.ca_path
    run = proofkit.run_flow(tls_sandbox, tmp_path)
    assert run.rc == 0, run.describe()
    assert tenant.managed_count("user") == 6


def test_module_with_ca_path_and_validate_certs(tls_sandbox, tmp_path, localhost_inventory):
    tenant = tls_sandbox.tenant(0)
    run = proofkit.run_playbook(_info_playbook(tmp_path, validate_certs=True, **proofkit.connection_vars(tenant)),
                                [localhost_inventory])
    assert run.rc == 0, run.describe()
    assert run.by_action("info")[0]["result"]["ping"]["state"] == "ACTIVE_READY"


def test_without_the_ca_the_message_says_what_to_set(tls_sandbox, tmp_path, localhost_inventory):
    tenant = tls_sandbox.tenant(0)
    options = proofkit.connection_vars(tenant)
    options.pop("ca_path")
    run = proofkit.run_playbook(_info_playbook(tmp_path, validate_certs=True, **options), [localhost_inventory])
    assert run.rc != 0
    message = run.failure_messages()
    assert "ca_path" in message, f"the message does not say to set ca_path:\n{message}"
    assert "certificate" in message.lower() or "ssl" in message.lower(), message
    assert "Traceback" not in message


def test_flow_without_the_ca_fails_before_writing(tls_sandbox, tmp_path):
    tenant = tls_sandbox.tenant(0)
    before = tenant.snapshot()
    run = proofkit.run_flow(tls_sandbox, tmp_path, extra_vars={"scim_sync_idm_ca_path": None,
                                                               "scim_sync_scim_ca_path": None})
    assert run.rc != 0
    assert "ca_path" in run.failure_messages(), run.failure_messages()
    assert tenant.snapshot() == before
