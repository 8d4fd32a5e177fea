"""The SCIM 1.1 facade: requests in 1.1 form under /scim/v1, read back through /scim/v2 (one store)."""

from __future__ import annotations

import uuid

from sandbox.scim.v1 import patch_operations
from sandbox.tests.scim.scim_support import new_user

V1 = "urn:scim:schemas:core:1.0"
V1_ENTERPRISE = "urn:scim:schemas:extension:enterprise:1.0"
V2_ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def test_v1_user_lifecycle_is_visible_through_v2(scim):
    user_name = f"carol-{uuid.uuid4().hex[:8]}"
    created = scim.post(
        f"{scim.base}/scim/v1/Users",
        json={
            "schemas": [V1, V1_ENTERPRISE],
            "userName": user_name,
            "name": {"givenName": "Carol", "familyName": "Cole"},
            "emails": [{"value": "carol@example.com", "type": "work"}, {"value": "carol@home.example", "type": "home"}],
            V1_ENTERPRISE: {"department": "Sales", "employeeNumber": "42"},
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["schemas"] == [V1, V1_ENTERPRISE] and body[V1_ENTERPRISE]["department"] == "Sales"
    assert V2_ENTERPRISE not in body and "resourceType" not in body["meta"]
    assert created.headers["Location"] == f"{scim.base}/scim/v1/Users/{body['id']}" == body["meta"]["location"]

    v2 = scim.get(f"{scim.base}/scim/v2/Users/{body['id']}").json()
    assert v2["userName"] == user_name and v2[V2_ENTERPRISE]["employeeNumber"] == "42"

    listed = scim.get(f"{scim.base}/scim/v1/Users", params={"filter": f'userName eq "{user_name}"'}).json()
    assert listed["schemas"] == [V1]
    assert (listed["totalResults"], listed["itemsPerPage"], listed["startIndex"]) == (1, 1, 1)
    assert listed["Resources"][0]["id"] == body["id"]
    by_extension = scim.get(
        f"{scim.base}/scim/v1/Users",
        params={"filter": f'{V1_ENTERPRISE}.employeeNumber eq "42" and userName eq "{user_name}"'},
    )
    assert by_extension.json()["totalResults"] == 1

    patched = scim.patch(
        f"{scim.base}/scim/v1/Users/{body['id']}",
        json={
            "schemas": [V1],
            "name": {"givenName": "Caroline"},
            "title": "Lead",
            "emails": [
                {"value": "carol@home.example", "operation": "delete"},
                {"value": "c@other.example", "type": "other"},
            ],
            "meta": {"attributes": [f"{V1_ENTERPRISE}:department"]},
        },
    )
    assert patched.status_code == 200, patched.text
    v2 = scim.get(f"{scim.base}/scim/v2/Users/{body['id']}").json()
    assert v2["name"] == {"givenName": "Caroline", "familyName": "Cole"}
    assert v2["title"] == "Lead"
    assert sorted(e["value"] for e in v2["emails"]) == ["c@other.example", "carol@example.com"]
    assert "department" not in v2[V2_ENTERPRISE] and v2[V2_ENTERPRISE]["employeeNumber"] == "42"

    replaced = scim.put(
        f"{scim.base}/scim/v1/Users/{body['id']}",
        json={
            "schemas": [V1],
            "userName": user_name,
            "displayName": "Carol C",
            "active": False,
        },
    )
    assert replaced.status_code == 200, replaced.text
    v2 = scim.get(f"{scim.base}/scim/v2/Users/{body['id']}").json()
    assert v2["displayName"] == "Carol C" and v2["active"] is False and "emails" not in v2

    assert scim.delete(f"{scim.base}/scim/v1/Users/{body['id']}").status_code == 204
    assert scim.get(f"{scim.base}/scim/v2/Users/{body['id']}").status_code == 404
    missing = scim.get(f"{scim.base}/scim/v1/Users/{body['id']}")
    assert missing.status_code == 404 and missing.json()["Errors"][0]["code"] == "404"


def test_v1_group_membership_patch(scim):
    alice = new_user(scim, f"alice-{uuid.uuid4().hex[:8]}")
    bob = new_user(scim, f"bob-{uuid.uuid4().hex[:8]}")
    group = scim.post(
        f"{scim.base}/scim/v1/Groups",
        json={
            "schemas": [V1],
            "displayName": f"v1-{uuid.uuid4().hex[:6]}",
            "members": [{"value": alice["id"]}],
        },
    ).json()
    assert group["members"] == [{"value": alice["id"], "type": "User", "display": alice["userName"]}]
    added = scim.patch(
        f"{scim.base}/scim/v1/Groups/{group['id']}",
        json={
            "schemas": [V1],
            "members": [{"value": bob["id"]}, {"value": alice["id"], "operation": "delete"}],
        },
    )
    assert added.status_code == 200
    assert [m["value"] for m in added.json()["members"]] == [bob["id"]]
    assert scim.get(f"{scim.base}/scim/v2/Users/{bob['id']}").json()["groups"][0]["value"] == group["id"]
    assert "groups" not in scim.get(f"{scim.base}/scim/v2/Users/{alice['id']}").json()
    unknown = scim.patch(f"{scim.base}/scim/v1/Groups/{group['id']}", json={"members": [{"value": "nope"}]})
    assert unknown.status_code == 400 and "nope" in unknown.json()["Errors"][0]["description"]
    cleared = scim.patch(f"{scim.base}/scim/v1/Groups/{group['id']}", json={"meta": {"attributes": ["members"]}})
    assert cleared.status_code == 200 and "members" not in cleared.json()


def test_v1_paging_and_discovery(scim):
    for _ in range(3):
        new_user(scim, f"pager-{uuid.uuid4().hex[:8]}")
    page = scim.get(
        f"{scim.base}/scim/v1/Users", params={"filter": 'userName sw "pager-"', "startIndex": 2, "count": 2}
    ).json()
    assert page["startIndex"] == 2 and page["itemsPerPage"] == 2 and page["totalResults"] >= 3
    schema = scim.get(f"{scim.base}/scim/v1/Schemas/Users").json()
    assert schema["schema"] == V1 and schema["endpoint"] == "/Users"
    names = {a["name"]: a for a in schema["attributes"]}
    assert names["userName"]["required"] and names["groups"]["readOnly"]
    assert names["department"]["schema"] == V1_ENTERPRISE
    listing = scim.get(f"{scim.base}/scim/v1/Schemas").json()
    assert [r["name"] for r in listing["Resources"]] == ["User", "Group"]


def test_v1_patch_null_removes_and_a_value_replaces():
    """A 1.1 PATCH value of null removes the attribute, at the top, in a complex attribute and in the enterprise
    extension; any other value replaces it. Removals come first."""
    operations = patch_operations(
        {
            "schemas": [V1],
            "title": None,
            "nickName": "Cy",
            "name": {"givenName": "Cyrus", "middleName": None},
            V1_ENTERPRISE: {"department": None, "division": "East"},
            "meta": {"attributes": ["emails"]},
        }
    )
    assert operations == [
        {"op": "remove", "path": "emails"},
        {"op": "remove", "path": "title"},
        {"op": "replace", "path": "nickName", "value": "Cy"},
        {"op": "replace", "path": "name.givenName", "value": "Cyrus"},
        {"op": "remove", "path": "name.middleName"},
        {"op": "remove", "path": f"{V2_ENTERPRISE}:department"},
        {"op": "replace", "path": f"{V2_ENTERPRISE}:division", "value": "East"},
    ]
