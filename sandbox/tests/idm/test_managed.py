"""Managed objects over REST and the InternalRouter: CRUD, revisions, patch, query, policy, relationships."""

from __future__ import annotations

import pytest

from sandbox.idm.errors import IdmError
from sandbox.tests.idm.sync_helpers import MINIMAL_MANAGED, QUERY_RESULT_KEYS, stock_user


@pytest.fixture(autouse=True)
def _minimal_policy(request, idm_server):
    """Most tests here are about CRUD and create users with few fields: they run with a managed config that
    requires only userName/name. Tests marked ``stock_policy`` see IDM's default policy."""
    if request.node.get_closest_marker("stock_policy") is None:
        assert idm_server.request("PUT", "config/managed", json=MINIMAL_MANAGED).status_code in (200, 201)


def create_user(idm, userName, **extra):
    response = idm.request("POST", "managed/user?_action=create", json=dict(userName=userName, **extra))
    assert response.status_code == 201, response.text
    return response.json()


def create_role(idm, name):
    response = idm.request("POST", "managed/role?_action=create", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()


def test_create_read_with_location_etag_and_fields(idm_server):
    response = idm_server.request(
        "POST",
        "managed/user?_action=create",
        json={"_id": "ignored", "userName": "bjensen", "mail": "b@example.com", "sn": "J"},
    )
    assert response.status_code == 201
    user = response.json()
    assert response.headers["Location"].endswith(f"/openidm/managed/user/{user['_id']}")
    assert user["_id"] != "ignored" and isinstance(user["_rev"], str)
    assert user["effectiveRoles"] == [] and "roles" not in user
    read = idm_server.get(f"managed/user/{user['_id']}")
    assert read.headers["ETag"] == f'"{user["_rev"]}"'
    assert idm_server.get(f"managed/user/{user['_id']}?_fields=mail").json() == {
        "_id": user["_id"],
        "_rev": user["_rev"],
        "mail": "b@example.com",
    }
    assert idm_server.get("managed/user/nope").status_code == 404


def test_put_if_none_match_creates_with_client_id_and_412_when_exists(idm_server):
    created = idm_server.request(
        "PUT",
        "managed/user/u-1",
        headers=dict(idm_server.admin_headers, **{"If-None-Match": "*"}),
        json={"userName": "client-id"},
    )
    assert created.status_code == 201 and created.json()["_id"] == "u-1"
    again = idm_server.request(
        "PUT",
        "managed/user/u-1",
        headers=dict(idm_server.admin_headers, **{"If-None-Match": "*"}),
        json={"userName": "client-id"},
    )
    assert again.status_code == 412
    bad = idm_server.request(
        "PUT", "managed/user/u-2", headers=dict(idm_server.admin_headers, **{"If-None-Match": "abc"}), json={}
    )
    assert bad.status_code == 400


def test_update_with_if_match_and_unchanged_update_keeps_rev(idm_server):
    user = create_user(idm_server, "rev-user", mail="a@x")
    path = f"managed/user/{user['_id']}"
    stale = idm_server.request(
        "PUT",
        path,
        headers=dict(idm_server.admin_headers, **{"If-Match": '"wrong"'}),
        json={"userName": "rev-user", "mail": "b@x"},
    )
    assert stale.status_code == 412
    assert stale.json()["reason"] == "Precondition Failed"
    updated = idm_server.request(
        "PUT",
        path,
        headers=dict(idm_server.admin_headers, **{"If-Match": f'"{user["_rev"]}"'}),
        json={"userName": "rev-user", "mail": "b@x"},
    )
    assert updated.status_code == 200 and updated.json()["mail"] == "b@x"
    assert updated.json()["_rev"] != user["_rev"]
    same = idm_server.request("PUT", path, json={"userName": "rev-user", "mail": "b@x"})
    assert same.json()["_rev"] == updated.json()["_rev"]
    # Plain PUT on a missing id is an upsert.
    assert idm_server.request("PUT", "managed/user/fresh", json={"userName": "fresh"}).status_code == 201


def test_patch_operations(idm_server):
    user = create_user(idm_server, "patchy", tags=["a"], count=1, name={"given": "P"})
    path = f"managed/user/{user['_id']}"
    patched = idm_server.request(
        "PATCH",
        path,
        json=[
            {"operation": "add", "field": "/tags/-", "value": "b"},
            {"operation": "add", "field": "/tags", "value": ["c", "d"]},
            {"operation": "replace", "field": "/name/family", "value": "Q"},
            {"operation": "increment", "field": "/count", "value": 5},
            {"operation": "remove", "field": "/tags", "value": "c"},
            {"operation": "add", "field": "/mail", "value": "p@x"},
        ],
    ).json()
    assert patched["tags"] == ["a", "b", "d"]
    assert patched["name"] == {"given": "P", "family": "Q"} and patched["count"] == 6 and patched["mail"] == "p@x"
    removed = idm_server.request("PATCH", path, json=[{"operation": "remove", "field": "/mail"}]).json()
    assert "mail" not in removed
    stale = idm_server.request(
        "PATCH",
        path,
        headers=dict(idm_server.admin_headers, **{"If-Match": '"x"'}),
        json=[{"operation": "remove", "field": "/count"}],
    )
    assert stale.status_code == 412
    assert idm_server.request("PATCH", path, json={"not": "a list"}).status_code == 400
    assert idm_server.request("PATCH", path, json=[{"operation": "frob", "field": "/x"}]).status_code == 400


def test_delete_returns_object_then_404(idm_server):
    user = create_user(idm_server, "gone")
    deleted = idm_server.request("DELETE", f"managed/user/{user['_id']}")
    assert deleted.status_code == 200 and deleted.json()["userName"] == "gone"
    assert idm_server.request("DELETE", f"managed/user/{user['_id']}").status_code == 404


@pytest.mark.stock_policy
def test_policy_required_and_unique(idm_server):
    """IDM's stock managed.json: users need userName, givenName, sn, mail; roles need name (7.x)."""
    missing = idm_server.request("POST", "managed/user?_action=create", json={"mail": "x@y"})
    assert missing.status_code == 403
    required = [{"policyRequirement": "REQUIRED"}]
    assert missing.json() == {
        "code": 403,
        "reason": "Forbidden",
        "message": "Failed policy validation",
        "detail": {
            "result": False,
            "failedPolicyRequirements": [
                {"property": prop, "policyRequirements": required} for prop in ("userName", "givenName", "sn")
            ],
        },
    }
    just_user_name = idm_server.request("POST", "managed/user?_action=create", json={"userName": "u"})
    assert just_user_name.status_code == 403
    assert [f["property"] for f in just_user_name.json()["detail"]["failedPolicyRequirements"]] == [
        "givenName",
        "sn",
        "mail",
    ]
    assert idm_server.request("POST", "managed/role?_action=create", json={"description": "x"}).status_code == 403
    assert idm_server.request("POST", "managed/role?_action=create", json={"name": "no description"}).status_code == 201
    create_user(idm_server, **stock_user("unique"))
    duplicate = idm_server.request("POST", "managed/user?_action=create", json=stock_user("UNIQUE"))
    assert duplicate.status_code == 403
    assert (
        duplicate.json()["detail"]["failedPolicyRequirements"][0]["policyRequirements"][0]["policyRequirement"]
        == "UNIQUE"
    )


@pytest.mark.stock_policy
def test_policy_role_required_reading(idm_server_factory):
    """role_required=name+description: the 5.x stock list (OpenIDM/WrenIDM conf/managed.json)."""
    idm = idm_server_factory(readings={"role_required": "name+description"})
    refused = idm.request("POST", "managed/role?_action=create", json={"name": "r"})
    assert refused.status_code == 403
    assert [f["property"] for f in refused.json()["detail"]["failedPolicyRequirements"]] == ["description"]
    assert idm.request("POST", "managed/role?_action=create", json={"name": "r", "description": "d"}).status_code == 201


@pytest.mark.stock_policy
def test_undeclared_properties_stored_by_default_refused_by_the_explicit_reading(idm_server_factory):
    """IDM's default (generic) repository mapping stores properties managed.json does not declare; an explicit
    JDBC table refuses them with 400 "Unmapped fields" (reading undeclared_properties=refused)."""
    stored = idm_server_factory()
    user = stock_user("dee", displayName="Dee D", title="Ops", department="IT")
    created = stored.request("POST", "managed/user?_action=create", json=user)
    assert created.status_code == 201
    read = stored.get(f"managed/user/{created.json()['_id']}").json()
    assert (read["displayName"], read["title"], read["department"]) == ("Dee D", "Ops", "IT")
    refused = idm_server_factory(readings={"undeclared_properties": "refused"})
    answer = refused.request("POST", "managed/user?_action=create", json=user)
    assert answer.status_code == 400
    assert answer.json()["message"] == "Unmapped fields [department, displayName, title] for type managed/user"
    assert refused.request("POST", "managed/user?_action=create", json=stock_user("dee")).status_code == 201
    assert refused.get("managed/user?_queryFilter=true").json()["resultCount"] == 1


@pytest.mark.stock_policy
def test_policy_follows_managed_config_when_present(idm_server):
    idm_server.request(
        "PUT",
        "config/managed",
        json={"objects": [{"name": "user", "schema": {"required": ["userName", "givenName", "sn", "mail"]}}]},
    )
    failed = idm_server.request("POST", "managed/user?_action=create", json={"userName": "x", "sn": "y"})
    assert failed.status_code == 403
    props = {f["property"] for f in failed.json()["detail"]["failedPolicyRequirements"]}
    assert props == {"givenName", "mail"}


def test_query_filter_paging_sorting_and_envelope(idm_server):
    for n in range(7):
        create_user(idm_server, f"user{n}", mail=f"u{n}@example.com", age=20 + n, active=n % 2 == 0)
    result = idm_server.get('managed/user?_queryFilter=userName eq "USER3"').json()
    assert [u["userName"] for u in result["result"]] == ["user3"]
    assert set(result) == QUERY_RESULT_KEYS
    older = idm_server.get("managed/user?_queryFilter=age ge 24 and active eq true&_fields=userName").json()
    assert [u["userName"] for u in older["result"]] == ["user4", "user6"]
    assert set(older["result"][0]) == {"_id", "_rev", "userName"}
    query = (
        'managed/user?_queryFilter=mail co "example" and !(userName sw "user1")&_pageSize=4'
        "&_sortKeys=-userName&_totalPagedResultsPolicy=EXACT"
    )
    page1 = idm_server.get(query).json()
    assert [u["userName"] for u in page1["result"]] == ["user6", "user5", "user4", "user3"]
    assert page1["totalPagedResults"] == 6 and page1["pagedResultsCookie"]
    page2 = idm_server.get(query + "&_pagedResultsCookie=" + page1["pagedResultsCookie"]).json()
    assert [u["userName"] for u in page2["result"]] == ["user2", "user0"]
    assert page2["pagedResultsCookie"] is None
    offset = idm_server.get("managed/user?_queryFilter=true&_pageSize=2&_pagedResultsOffset=5").json()
    assert [u["userName"] for u in offset["result"]] == ["user5", "user6"]
    ids = idm_server.get("managed/user?_queryId=query-all-ids").json()["result"]
    assert len(ids) == 7 and set(ids[0]) == {"_id", "_rev"}
    assert idm_server.get("managed/user?_queryFilter=mail pr or false").json()["resultCount"] == 7
    assert idm_server.get("managed/user?_queryFilter=userName eq").status_code == 400
    assert idm_server.get("managed/user?_queryFilter=userName zz 1").status_code == 400
    assert idm_server.get("managed/user").status_code == 400


def test_eq_index_follows_updates_and_deletes(idm_server):
    user = create_user(idm_server, "before")
    idm_server.get('managed/user?_queryFilter=userName eq "before"')  # builds the index
    idm_server.request("PUT", f"managed/user/{user['_id']}", json={"userName": "after"})
    assert idm_server.get('managed/user?_queryFilter=userName eq "before"').json()["resultCount"] == 0
    assert idm_server.get('managed/user?_queryFilter=userName eq "after"').json()["resultCount"] == 1
    idm_server.request("DELETE", f"managed/user/{user['_id']}")
    assert idm_server.get('managed/user?_queryFilter=userName eq "after"').json()["resultCount"] == 0


def test_relationships_grant_list_revoke_and_effective_roles(idm_server):
    role = create_role(idm_server, "staff")
    alice, bob, carol = (create_user(idm_server, n) for n in ("alice", "bob", "carol"))
    # 1) PATCH add on the user
    idm_server.request(
        "PATCH",
        f"managed/user/{alice['_id']}",
        json=[{"operation": "add", "field": "/roles/-", "value": {"_ref": f"managed/role/{role['_id']}"}}],
    )
    # 2) PATCH add on the role
    idm_server.request(
        "PATCH",
        f"managed/role/{role['_id']}",
        json=[{"operation": "add", "field": "/members/-", "value": {"_ref": f"managed/user/{bob['_id']}"}}],
    )
    # 3) relationship collection create
    created = idm_server.request(
        "POST", f"managed/role/{role['_id']}/members?_action=create", json={"_ref": f"managed/user/{carol['_id']}"}
    )
    assert created.status_code == 201
    element = created.json()
    assert element["_refResourceCollection"] == "managed/user" and element["_refResourceId"] == carol["_id"]
    assert element["_refProperties"]["_id"] == element["_id"]

    plain = idm_server.get(f"managed/user/{alice['_id']}").json()
    assert "roles" not in plain
    assert plain["effectiveRoles"] == [
        {"_refResourceCollection": "managed/role", "_refResourceId": role["_id"], "_ref": f"managed/role/{role['_id']}"}
    ]
    with_roles = idm_server.get(f"managed/user/{alice['_id']}?_fields=*,roles").json()
    assert with_roles["userName"] == "alice"
    assert [r["_ref"] for r in with_roles["roles"]] == [f"managed/role/{role['_id']}"]
    assert set(with_roles["roles"][0]["_refProperties"]) == {"_id", "_rev"}
    expanded = idm_server.get(f"managed/user/{alice['_id']}?_fields=roles/name").json()
    assert expanded["roles"][0]["name"] == "staff"
    members = idm_server.get(f"managed/role/{role['_id']}/members?_queryFilter=true").json()
    assert sorted(m["_refResourceId"] for m in members["result"]) == sorted(u["_id"] for u in (alice, bob, carol))
    refs = idm_server.get(f"managed/role/{role['_id']}?_fields=*_ref").json()
    assert len(refs["members"]) == 3 and refs["name"] == "staff"
    by_role = idm_server.get(f'managed/user?_queryFilter=roles/_refResourceId eq "{role["_id"]}"').json()
    assert by_role["resultCount"] == 3

    # In use -> 409
    in_use = idm_server.request("DELETE", f"managed/role/{role['_id']}")
    assert in_use.status_code == 409
    assert in_use.json()["message"] == "Cannot delete a role that is currently granted"

    # Revoke: relationship DELETE, PATCH remove with only _ref, PUT of the array
    revoked = idm_server.request("DELETE", f"managed/role/{role['_id']}/members/{element['_id']}")
    assert revoked.status_code == 200 and revoked.json()["_refResourceId"] == carol["_id"]
    idm_server.request(
        "PATCH",
        f"managed/user/{alice['_id']}",
        json=[{"operation": "remove", "field": "/roles", "value": {"_ref": f"managed/role/{role['_id']}"}}],
    )
    assert idm_server.get(f"managed/user/{alice['_id']}").json()["effectiveRoles"] == []
    idm_server.request("PUT", f"managed/user/{bob['_id']}", json={"userName": "bob", "roles": []})
    assert idm_server.get(f"managed/role/{role['_id']}/members?_queryFilter=true").json()["resultCount"] == 0
    assert idm_server.request("DELETE", f"managed/role/{role['_id']}").status_code == 200


def test_put_with_roles_array_and_missing_reference(idm_server):
    r1, r2 = create_role(idm_server, "r1"), create_role(idm_server, "r2")
    user = create_user(idm_server, "putter")
    path = f"managed/user/{user['_id']}"
    idm_server.request(
        "PUT",
        path,
        json={
            "userName": "putter",
            "roles": [{"_ref": f"managed/role/{r1['_id']}"}, {"_ref": f"managed/role/{r2['_id']}"}],
        },
    )
    first = idm_server.get(path + "?_fields=roles").json()["roles"]
    assert len(first) == 2
    # PUT without roles leaves them alone; PUT with one keeps that relationship's id.
    idm_server.request("PUT", path, json={"userName": "putter", "mail": "m"})
    assert len(idm_server.get(path + "?_fields=roles").json()["roles"]) == 2
    idm_server.request("PUT", path, json={"userName": "putter", "roles": [{"_ref": f"managed/role/{r2['_id']}"}]})
    after = idm_server.get(path + "?_fields=roles").json()["roles"]
    assert [r["_refResourceId"] for r in after] == [r2["_id"]]
    assert (
        after[0]["_refProperties"]["_id"]
        == next(r for r in first if r["_refResourceId"] == r2["_id"])["_refProperties"]["_id"]
    )
    bad = idm_server.request("PUT", path, json={"userName": "putter", "roles": [{"_ref": "managed/role/none"}]})
    assert bad.status_code == 400
    # Deleting the user removes its relationships, so the role can go.
    idm_server.request("DELETE", path)
    assert idm_server.request("DELETE", f"managed/role/{r2['_id']}").status_code == 200


def test_restart_keeps_objects_and_relationships(idm_server):
    role = create_role(idm_server, "persisted")
    user = create_user(idm_server, "persist", roles=[{"_ref": f"managed/role/{role['_id']}"}])
    idm_server.restart()
    read = idm_server.get(f"managed/user/{user['_id']}?_fields=*,roles").json()
    assert read["userName"] == "persist" and read["_rev"] == user["_rev"]
    assert read["roles"][0]["_refResourceId"] == role["_id"]
    assert idm_server.request("DELETE", f"managed/role/{role['_id']}").status_code == 409
    assert idm_server.get('managed/user?_queryFilter=userName eq "PERSIST"').json()["resultCount"] == 1


def test_internal_router_and_batch(idm_server):
    router = idm_server.server.router
    with idm_server.server.store.batch():
        for n in range(50):
            router.create("managed/user", {"userName": f"bulk{n}"})
    assert router.query("managed/user", 'userName sw "bulk"', page_size=10)["resultCount"] == 10
    user = router.create("managed/user", {"userName": "r"}, id="rid")
    assert router.read("managed/user/rid")["userName"] == "r"
    assert router.read("managed/user", "rid", fields=["userName"]) == {
        "_id": "rid",
        "_rev": user["_rev"],
        "userName": "r",
    }
    updated = router.update("managed/user", "rid", {"userName": "r2"}, rev=user["_rev"])
    with pytest.raises(IdmError) as err:
        router.update("managed/user", "rid", {"userName": "r3"}, rev=user["_rev"])
    assert err.value.code == 412
    router.patch("managed/user/rid", None, [{"operation": "replace", "field": "/mail", "value": "m"}])
    assert router.delete("managed/user/rid")["mail"] == "m"
    assert updated["userName"] == "r2"
    with pytest.raises(IdmError) as err:
        router.read("managed/user/rid")
    assert err.value.code == 404


def test_batch_rolls_back_on_error(idm_server):
    server = idm_server.server
    with pytest.raises(RuntimeError), server.store.batch():
        server.router.create("managed/user", {"userName": "rolled"})
        raise RuntimeError("boom")
    rows = server.store.query("SELECT count(*) FROM managed WHERE body LIKE '%rolled%'")
    assert rows[0][0] == 0
    # Memory follows the rollback too.
    assert server.router.query("managed/user", 'userName eq "rolled"')["resultCount"] == 0
    server.router.create("managed/user", {"userName": "rolled"})
