"""The SCIM connector in SCIM 1.1 mode (``SCIMVersion: 1``) against the sandbox provider's ``/scim/v1`` facade,
plus the same connector through a reconciliation."""

from __future__ import annotations

import pytest

from sandbox.idm.provisioner.schema import default_object_types
from sandbox.idm.provisioner.scim import ScimConnector
from sandbox.tests.idm.scim_fixture import sandbox_provider
from sandbox.tests.idm.sync_helpers import js, minimal_policy, put_config, put_mappings, recon, scim_provisioner


@pytest.fixture(scope="module")
def provider():
    with sandbox_provider(
        "v1", clients={"idm-client": "idm-secret"}, basic_users={"basic": "pw"}, seed=(3, 1, "v1")
    ) as handle:
        yield handle


def v1_config(provider, **props):
    config = scim_provisioner(provider, SCIMVersion="1", **props)
    config["objectTypes"] = default_object_types()
    return config


def test_v1_crud_enterprise_and_patch(provider):
    connector = ScimConnector(v1_config(provider))
    connector.test()
    created = connector.create(
        "account",
        {
            "userName": "v1.user",
            "name": {"givenName": "V"},
            "department": "Ops",
            "emails": [{"value": "v1@example.com"}],
        },
    )
    uid = created["_id"]
    raw = connector.request("GET", f"/Users/{uid}")
    assert "urn:scim:schemas:core:1.0" in raw["schemas"]
    assert raw["urn:scim:schemas:extension:enterprise:1.0"]["department"] == "Ops"
    updated = connector.update(
        "account", uid, {"title": "Lead", "department": "Dev", "emails": [{"value": "new@example.com"}]}
    )
    assert updated["title"] == "Lead" and updated["department"] == "Dev"
    assert [e["value"] for e in updated["emails"]] == ["new@example.com"]  # replaced, not added
    cleared = connector.update("account", uid, {"title": None})
    assert "title" not in cleared
    found = connector.search("account", 'userName eq "v1.user"')[0]
    assert [o["_id"] for o in found] == [uid]
    connector.delete("account", uid)


def test_v1_basic_auth(provider):
    ScimConnector(v1_config(provider, authenticationMethod="BASIC", user="basic", password="pw")).test()


def test_v1_reconciliation(idm_server, provider):
    minimal_policy(idm_server)  # the mapping fills userName and sn only
    put_config(idm_server, "provisioner.openicf/scim", v1_config(provider))
    assert idm_server.request("POST", "system/scim?_action=test").json()["ok"] is True
    put_mappings(
        idm_server,
        {
            "name": "systemScimAccount_managedUser",
            "source": "system/scim/account",
            "target": "managed/user",
            "correlationQuery": js("var q = {'_queryFilter': 'userName eq \"' + source.userName + '\"'}; q;"),
            "properties": [{"source": "userName", "target": "userName"}, {"source": "name/familyName", "target": "sn"}],
        },
    )
    first = recon(idm_server, "systemScimAccount_managedUser")
    total = int(first["progress"]["source"]["existing"]["total"])
    assert total >= 3 and first["progress"]["target"]["created"] == total
    assert recon(idm_server, "systemScimAccount_managedUser")["progress"]["target"]["unchanged"] == total
