"""The SCIM connector against a real (in-process) SCIM 2.0 provider over HTTP."""

from __future__ import annotations

import pytest

from sandbox.idm.provisioner import find_connector, version_matches
from sandbox.idm.provisioner.query import UNTRANSLATABLE, query, translate_filter
from sandbox.idm.provisioner.schema import ObjectType, default_object_types
from sandbox.idm.provisioner.scim import ConnectorError, ScimConnector
from sandbox.tests.idm.sync_helpers import scim_provisioner

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def test_oauth_test_and_token_cached(provider):
    connector = ScimConnector(scim_provisioner(provider))
    before = provider.token_requests
    connector.test()
    connector.test()
    assert provider.token_requests == before + 1


def test_token_refreshed_on_401(provider):
    connector = ScimConnector(scim_provisioner(provider))
    connector.test()
    provider.revoke_tokens()
    before = provider.token_requests
    connector.test()
    assert provider.token_requests == before + 1


def test_wrong_secret_is_credentials_error(provider):
    connector = ScimConnector(scim_provisioner(provider, clientSecret="wrong"))
    with pytest.raises(ConnectorError) as info:
        connector.test()
    assert info.value.kind == "credentials"


def test_secret_decrypted_through_callback(provider):
    encrypted = {"$crypto": {"type": "x-simple-encryption", "value": {"data": "opaque"}}}
    connector = ScimConnector(
        scim_provisioner(provider, clientSecret=encrypted),
        decrypt=lambda value: "idm-secret" if value is encrypted else value,
    )
    connector.test()


def test_static_token_and_basic(provider):
    ScimConnector(scim_provisioner(provider, authenticationMethod="TOKEN", authToken="static-token")).test()
    ScimConnector(
        scim_provisioner(provider, authenticationMethod="BASIC", user="idm-client", password="idm-secret")
    ).test()
    with pytest.raises(ConnectorError) as info:
        ScimConnector(scim_provisioner(provider, authenticationMethod="TOKEN", authToken="nope")).test()
    assert info.value.kind == "credentials"


def test_unreachable_and_wrong_endpoint(provider):
    with pytest.raises(ConnectorError) as info:
        ScimConnector(
            scim_provisioner(
                provider,
                SCIMEndpoint="http://127.0.0.1:9/scim/v2",
                authenticationMethod="TOKEN",
                authToken="static-token",
            )
        ).test()
    assert info.value.kind == "connection"
    assert str(info.value).startswith("Connect to 127.0.0.1:9 failed")
    with pytest.raises(ConnectorError) as info:
        ScimConnector(scim_provisioner(provider, SCIMEndpoint=provider.base + "/nothing/v2")).test()
    assert "404" in str(info.value)


@pytest.mark.parametrize("missing", ["SCIMEndpoint", "clientId", "tokenEndpoint"])
def test_configuration_validated(provider, missing):
    with pytest.raises(ConnectorError) as info:
        ScimConnector(scim_provisioner(provider, **{missing: None}))
    assert info.value.kind == "configuration"
    assert missing in str(info.value)


def test_crud_with_enterprise_extension_and_flags(provider):
    connector = ScimConnector(scim_provisioner(provider, SCIMVersion="2"))
    created = connector.create(
        "account",
        {
            "_id": "ignored",
            "userName": "crud.user",
            "name": {"givenName": "Crud", "familyName": "User"},
            "emails": [{"value": "crud@example.com", "primary": True}],
            "employeeNumber": "77",
            "meta": {"created": "x"},
            "undeclared": "dropped",
        },
    )
    assert created["_id"] != "ignored"
    assert created["employeeNumber"] == "77"
    assert "undeclared" not in created
    stored = connector.request("GET", f"/Users/{created['_id']}")
    assert stored[ENTERPRISE]["employeeNumber"] == "77"
    assert "undeclared" not in stored
    updated = connector.update(
        "account", created["_id"], {"displayName": "Crud U", "department": "R&D", "meta": {"x": 1}}
    )
    assert updated["displayName"] == "Crud U" and updated["department"] == "R&D"
    assert updated["employeeNumber"] == "77"  # untouched attributes stay
    cleared = connector.update("account", created["_id"], {"displayName": None})
    assert "displayName" not in cleared
    assert connector.read("account", created["_id"])["userName"] == "crud.user"
    connector.delete("account", created["_id"])
    with pytest.raises(ConnectorError) as info:
        connector.read("account", created["_id"])
    assert info.value.kind == "not_found"


def test_patch_with_path_option(provider):
    connector = ScimConnector(scim_provisioner(provider, usePathForPatchV2=True))
    created = connector.create("account", {"userName": "path.user"})
    updated = connector.update("account", created["_id"], {"costCenter": "C1", "title": "Boss"})
    assert updated["costCenter"] == "C1" and updated["title"] == "Boss"
    connector.delete("account", created["_id"])


def test_groups_members_replaced_as_a_whole(provider):
    connector = ScimConnector(scim_provisioner(provider))
    users = [connector.create("account", {"userName": f"member{i}"}) for i in range(3)]
    group = connector.create("group", {"displayName": "team", "members": [{"value": users[0]["_id"]}]})
    assert [m["value"] for m in group["members"]] == [users[0]["_id"]]
    group = connector.update("group", group["_id"], {"members": [{"value": u["_id"]} for u in users[1:]]})
    assert sorted(m["value"] for m in group["members"]) == sorted(u["_id"] for u in users[1:])
    connector.delete("group", group["_id"])
    for user in users:
        connector.delete("account", user["_id"])


def test_query_translation_and_paging(provider):
    connector = ScimConnector(scim_provisioner(provider))
    ids = [
        connector.create("account", {"userName": f"page{i:02d}", "title": "T" if i % 2 else "U"})["_id"]
        for i in range(7)
    ]
    try:
        provider.requests.clear()
        found, cookie, _total = query(connector, "account", 'userName eq "page03"')
        assert [o["userName"] for o in found] == ["page03"] and cookie is None
        assert any("filter=userName" in (q or "") for _m, _p, q in provider.requests)
        page1, cookie, _ = query(connector, "account", 'userName sw "page"', page_size=3)
        page2, cookie2, _ = query(connector, "account", 'userName sw "page"', page_size=3, cookie=cookie)
        page3, cookie3, _ = query(connector, "account", 'userName sw "page"', page_size=3, cookie=cookie2)
        names = [o["userName"] for o in page1 + page2 + page3]
        assert sorted(names) == [f"page{i:02d}" for i in range(7)] and cookie3 is None
        from sandbox.idm import queryfilter

        def local(text):
            node = queryfilter.parse(text)
            return lambda obj: queryfilter.matches(node, obj, case_insensitive=True)

        odd, _, total = query(connector, "account", '(userName sw "page") and !(title eq "U")', local_filter=local)
        assert total == 3 and all(o["title"] == "T" for o in odd)
    finally:
        for uid in ids:
            connector.delete("account", uid)


def test_translate_filter():
    otype = ObjectType("account", default_object_types()["account"], 2)
    assert translate_filter("true", otype) is None
    assert translate_filter("false", otype) is False
    assert translate_filter("/userName eq 'bob'", otype) == 'userName eq "bob"'
    assert translate_filter('_id eq "1" or employeeNumber pr', otype) == f'id eq "1" or {ENTERPRISE}:employeeNumber pr'
    assert translate_filter('userName eq "a" and title eq "b" or x eq "c"', otype) is UNTRANSLATABLE
    assert translate_filter('!(userName eq "a")', otype) is UNTRANSLATABLE
    assert translate_filter('unknownAttr eq "a"', otype) is UNTRANSLATABLE
    # The translation walks the CREST parser's tree: parentheses that change nothing do not matter.
    assert translate_filter('(userName eq "a") and title eq "b"', otype) == 'userName eq "a" and title eq "b"'
    assert translate_filter('userName eq "a" and (title eq "b" or title eq "c")', otype) is UNTRANSLATABLE


def test_bundle_version_resolution():
    assert version_matches("[1.5.0.0,1.6.0.0)", "1.5.20.31")
    assert not version_matches("[1.4.0.0,1.5.0.0)", "1.5.20.31")
    assert version_matches("1.5.20.31", "1.5.20.31")
    assert find_connector(
        {"connectorName": "org.forgerock.openicf.connectors.scim.ScimConnector", "bundleVersion": "[1.5.0.0,1.6.0.0)"}
    )
    assert find_connector({"connectorName": "org.example.Other"}) is None
