"""The test harness (``sandbox.testing``) keeps the sandbox's secrets out of what pytest prints on a failure."""

from __future__ import annotations

import json

import yaml

from sandbox.testing import load_sandbox


def test_reprs_of_sandbox_and_tenant_hold_no_secret(tmp_path):
    secrets = ("idm-admin-pw-1", "scim-client-secret-1", "scim-basic-pw-1")
    info = {
        "tenants": [
            {
                "name": "tenant1",
                "idm": {"url": "http://127.0.0.1:1", "username": "openidm-admin", "password": secrets[0]},
                "scim": {"endpoint": "http://127.0.0.1:2/scim/v2", "client_secret": secrets[1]},
            }
        ]
    }
    hostvars = {"idm_password": secrets[0], "scim_client_secret": secrets[1], "scim_password": secrets[2]}
    inventory = {"all": {"children": {"idm_tenants": {"hosts": {"tenant1": hostvars}}}}}
    (tmp_path / "sandbox.json").write_text(json.dumps(info))
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    sandbox = load_sandbox(tmp_path)
    tenant = sandbox.tenant()
    assert tenant.admin_password == secrets[0] and tenant.hostvars["scim_password"] == secrets[2]
    shown = repr(sandbox) + repr(tenant.recons)
    assert "tenant1" in shown and "http://127.0.0.1:1" in shown
    assert not [secret for secret in secrets if secret in shown], shown
