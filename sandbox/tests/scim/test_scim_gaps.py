"""The scim2-server gaps the provider closes: PATCH 200, User.groups, member $ref/type/display, unknown members,
cascade on delete, cheap and stable paging."""

from __future__ import annotations

import uuid

import requests

from sandbox.tests.scim.scim_support import GROUP_SCHEMA, PATCH_SCHEMA, new_group, new_user


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_patch_answers_200_with_the_resource(scim):
    user = new_user(scim, unique("patchme"))
    response = scim.patch(
        f"{scim.base}/scim/v2/Users/{user['id']}",
        json={"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "active", "value": False}]},
    )
    assert response.status_code == 200
    assert response.json()["id"] == user["id"] and response.json()["active"] is False
    assert response.headers["ETag"] == response.json()["meta"]["version"] != user["meta"]["version"]


def test_members_get_ref_type_and_display_and_users_get_groups(scim):
    alice = new_user(scim, unique("alice"), displayName="Alice Example")
    bob = new_user(scim, unique("bob"))
    inner = new_group(scim, unique("inner"), [])
    group = new_group(
        scim,
        unique("outer"),
        [
            {"value": alice["id"]},
            {"value": bob["id"], "display": "Client Display"},
            {"value": inner["id"]},
        ],
    )
    members = {m["value"]: m for m in group["members"]}
    assert members[alice["id"]] == {
        "value": alice["id"],
        "$ref": f"{scim.base}/scim/v2/Users/{alice['id']}",
        "type": "User",
        "display": "Alice Example",
    }
    assert members[bob["id"]]["display"] == "Client Display"  # a client-sent display is kept
    assert members[inner["id"]]["type"] == "Group"
    assert members[inner["id"]]["$ref"] == f"{scim.base}/scim/v2/Groups/{inner['id']}"

    fetched = scim.get(f"{scim.base}/scim/v2/Users/{alice['id']}").json()
    assert fetched["groups"] == [
        {
            "value": group["id"],
            "$ref": f"{scim.base}/scim/v2/Groups/{group['id']}",
            "display": group["displayName"],
            "type": "direct",
        }
    ]
    by_filter = scim.get(f"{scim.base}/scim/v2/Users", params={"filter": f'groups.value eq "{group["id"]}"'}).json()
    assert {u["id"] for u in by_filter["Resources"]} == {alice["id"], bob["id"]}


def test_membership_follows_put_and_patch_replace_of_members(scim):
    alice = new_user(scim, unique("alice"))
    bob = new_user(scim, unique("bob"))
    group = new_group(scim, unique("team"), [{"value": alice["id"]}])
    # IDM's connector replaces the whole members list and sends bare values.
    put = scim.put(
        f"{scim.base}/scim/v2/Groups/{group['id']}",
        json={
            "schemas": [GROUP_SCHEMA],
            "displayName": group["displayName"],
            "members": [{"value": bob["id"]}],
        },
    )
    assert put.status_code == 200
    assert [m["type"] for m in put.json()["members"]] == ["User"]
    assert "groups" not in scim.get(f"{scim.base}/scim/v2/Users/{alice['id']}").json()
    assert scim.get(f"{scim.base}/scim/v2/Users/{bob['id']}").json()["groups"][0]["value"] == group["id"]

    patch = scim.patch(
        f"{scim.base}/scim/v2/Groups/{group['id']}",
        json={
            "schemas": [PATCH_SCHEMA],
            "Operations": [
                {"op": "replace", "path": "members", "value": [{"value": alice["id"]}, {"value": bob["id"]}]},
                {"op": "replace", "path": "displayName", "value": "Renamed Team"},
            ],
        },
    )
    assert patch.status_code == 200 and len(patch.json()["members"]) == 2
    assert scim.get(f"{scim.base}/scim/v2/Users/{alice['id']}").json()["groups"][0]["display"] == "Renamed Team"


def test_unknown_member_is_invalid_value(scim):
    alice = new_user(scim, unique("alice"))
    error = new_group(scim, unique("bad"), [{"value": alice["id"]}, {"value": "does-not-exist"}], expect=400)
    assert error["scimType"] == "invalidValue" and "does-not-exist" in error["detail"]
    group = new_group(scim, unique("good"), [{"value": alice["id"]}])
    response = scim.patch(
        f"{scim.base}/scim/v2/Groups/{group['id']}",
        json={
            "schemas": [PATCH_SCHEMA],
            "Operations": [
                {"op": "add", "path": "members", "value": [{"value": "made-up"}]},
            ],
        },
    )
    assert response.status_code == 400 and response.json()["scimType"] == "invalidValue"
    # The failed PATCH changed nothing.
    assert scim.get(f"{scim.base}/scim/v2/Groups/{group['id']}").json()["meta"]["version"] == group["meta"]["version"]


def test_lenient_members_accepts_unknown_ids(serve_app):
    server = serve_app(static_tokens=["t"], strict_members=False)
    response = requests.post(
        f"{server.url}/scim/v2/Groups",
        headers={"Authorization": "Bearer t"},
        json={
            "schemas": [GROUP_SCHEMA],
            "displayName": "lenient",
            "members": [{"value": "made-up"}],
        },
    )
    assert response.status_code == 201 and response.json()["members"] == [{"value": "made-up"}]


def test_deleting_a_user_removes_it_from_its_groups(scim):
    alice = new_user(scim, unique("alice"))
    bob = new_user(scim, unique("bob"))
    first = new_group(scim, unique("first"), [{"value": alice["id"]}, {"value": bob["id"]}])
    second = new_group(scim, unique("second"), [{"value": alice["id"]}])
    assert scim.delete(f"{scim.base}/scim/v2/Users/{alice['id']}").status_code == 204

    first_now = scim.get(f"{scim.base}/scim/v2/Groups/{first['id']}").json()
    assert [m["value"] for m in first_now["members"]] == [bob["id"]]
    assert first_now["meta"]["version"] != first["meta"]["version"]
    assert first_now["meta"]["lastModified"] > first["meta"]["lastModified"]
    second_now = scim.get(f"{scim.base}/scim/v2/Groups/{second['id']}").json()
    assert "members" not in second_now
    found = scim.get(f"{scim.base}/scim/v2/Groups", params={"filter": f'members.value eq "{alice["id"]}"'}).json()
    assert found["totalResults"] == 0


def test_deleting_a_group_updates_user_groups(scim):
    alice = new_user(scim, unique("alice"))
    group = new_group(scim, unique("gone"), [{"value": alice["id"]}])
    assert scim.delete(f"{scim.base}/scim/v2/Groups/{group['id']}").status_code == 204
    assert "groups" not in scim.get(f"{scim.base}/scim/v2/Users/{alice['id']}").json()


def test_index_paging_is_complete_and_stable_across_updates(serve_app):
    server = serve_app(static_tokens=["t"], seed=(250, 5, "paging"))
    session = requests.Session()
    session.headers["Authorization"] = "Bearer t"
    first_pass, start = [], 1
    while True:
        page = session.get(f"{server.url}/scim/v2/Users", params={"startIndex": start, "count": 40}).json()
        assert page["totalResults"] == 250 and page["startIndex"] == start
        first_pass += [u["id"] for u in page["Resources"]]
        if start == 41:  # change a user that was already paged: it must not move to the end
            session.patch(
                f"{server.url}/scim/v2/Users/{first_pass[0]}",
                json={"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "title", "value": "Moved?"}]},
            )
        start += page["itemsPerPage"]
        if start > page["totalResults"]:
            break
    assert len(first_pass) == len(set(first_pass)) == 250
    again = session.get(f"{server.url}/scim/v2/Users", params={"count": 1000}).json()
    assert [u["id"] for u in again["Resources"]] == first_pass
    # sortBy still goes through scim2-server's own sort.
    by_name = session.get(f"{server.url}/scim/v2/Users", params={"sortBy": "userName", "count": 1000}).json()
    names = [u["userName"] for u in by_name["Resources"]]
    assert names == sorted(names, key=str.lower) and len(names) == 250
    # A filtered search pages in the same order.
    active = session.get(f"{server.url}/scim/v2/Users", params={"filter": "active eq true", "count": 1000}).json()
    active_ids = [u["id"] for u in active["Resources"]]
    assert active_ids == [i for i in first_pass if i in set(active_ids)]
    assert 0 < active["totalResults"] < 250
    assert session.get(f"{server.url}/scim/v2/Users", params={"count": 0}).json()["totalResults"] == 250
