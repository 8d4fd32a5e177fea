"""The deterministic seed generator."""

from __future__ import annotations

import collections

from sandbox.scim.seed import ENTERPRISE_SCHEMA, generate


def test_same_inputs_give_identical_output_and_salt_matters():
    assert generate(300, 12, "a") == generate(300, 12, "a")
    assert generate(300, 12, "a") != generate(300, 12, "b")


def test_seed_looks_like_a_directory():
    data = generate(1000, 20, "shape")
    users, groups = data["Users"], data["Groups"]
    assert len(users) == 1000 and len(groups) == 20
    assert len({u["userName"].lower() for u in users}) == 1000
    assert len({u["id"] for u in users} | {g["id"] for g in groups}) == 1020
    assert len({g["displayName"] for g in groups}) == 20
    inactive = sum(not u["active"] for u in users)
    assert 60 <= inactive <= 140  # about 10 %
    for user in users[:50]:
        assert user["emails"][0]["type"] == "work" and user["emails"][0]["value"].endswith("@example.com")
        assert {p["type"] for p in user["phoneNumbers"]} == {"work", "mobile"}
        assert user["displayName"] == f"{user['name']['givenName']} {user['name']['familyName']}"
        assert user["title"]
        assert set(user[ENTERPRISE_SCHEMA]) == {
            "employeeNumber",
            "department",
            "costCenter",
            "organization",
            "division",
        }
    memberships = collections.Counter(m["value"] for g in groups for m in g["members"])
    assert set(memberships) == {u["id"] for u in users}
    assert set(memberships.values()) <= {1, 2} and 2 in memberships.values()
    member = groups[0]["members"][0]
    assert member["$ref"] == f"Users/{member['value']}" and member["type"] == "User" and member["display"]


def test_edge_sizes():
    assert generate(0, 0, "x") == {"Users": [], "Groups": []}
    no_groups = generate(5, 0, "x")
    assert len(no_groups["Users"]) == 5 and no_groups["Groups"] == []
    many = generate(10, 150, "x")
    assert len({g["displayName"] for g in many["Groups"]}) == 150


def test_seeded_provider_serves_the_seed(serve_app):
    import requests

    server = serve_app(static_tokens=["t"], seed=(30, 4, "served"))
    expected = generate(30, 4, "served")
    headers = {"Authorization": "Bearer t"}
    users = requests.get(f"{server.url}/scim/v2/Users", headers=headers, params={"count": 100}).json()
    assert [u["id"] for u in users["Resources"]] == [u["id"] for u in expected["Users"]]
    first = users["Resources"][0]
    expected_groups = {g["id"] for g in expected["Groups"] if any(m["value"] == first["id"] for m in g["members"])}
    assert {g["value"] for g in first["groups"]} == expected_groups


def test_fast_loader_matches_validation_for_seed_and_state(serve_app, capsys):
    from sandbox.scim.trusted import construct_trusted

    server = serve_app(static_tokens=["t"], seed=(120, 6, "fast"))
    storage = server.app.storage
    assert "validating every resource" not in capsys.readouterr().err  # the fast path was used
    state = storage.export_state()
    models = {"User": storage._user_model, "Group": storage._group_model}
    for data in state["resources"]:
        model = models[data["meta"]["resourceType"]]
        assert construct_trusted(model, data).model_dump() == model.model_validate(data).model_dump()
    reloaded = serve_app(static_tokens=["t"]).app.storage
    reloaded.load_state(state)
    assert reloaded.export_state() == state


def test_primed_state_text_matches_real_dumps(serve_app):
    server = serve_app(static_tokens=["t"], seed=(80, 4, "primed"))
    storage = server.app.storage
    saved = storage.export_state()["resources"]  # served from the text primed at seed time
    real = [r.model_dump() for kind in ("User", "Group") for r in storage._resources[kind].values()]
    # Saved user groups are ignored on load (recomputed), so the primed text may leave them out.
    assert [{k: v for k, v in r.items() if k != "groups"} for r in saved] == [
        {k: v for k, v in r.items() if k != "groups"} for r in real
    ]
