"""Provider quirks (``--quirk``): each one against the default behaviour it changes.

The providers are served in-process (``serve_app``, open auth) with a small deterministic seed; one test starts the
real process to check the command line and ``SCIM_SANDBOX_QUIRKS``.
"""

from __future__ import annotations

import pytest
import requests

from sandbox.scim import seed as seed_module
from sandbox.scim.quirks import ENTERPRISE_URN, parse_quirks, without_unassigned
from sandbox.tests.scim.scim_support import GROUP_SCHEMA, PATCH_SCHEMA, USER_SCHEMA, refused_start

V1_ENTERPRISE = "urn:scim:schemas:extension:enterprise:1.0"


class Client:
    """A requests session bound to one in-process provider's /scim/v2."""

    def __init__(self, server):
        self.url = server.url + "/scim/v2"
        self.root = server.url
        self.http = requests.Session()

    def get(self, path, **params):
        return self.http.get(self.url + path, params=params, timeout=10)

    def post(self, path, body):
        return self.http.post(self.url + path, json=body, timeout=10)

    def put(self, path, body):
        return self.http.put(self.url + path, json=body, timeout=10)

    def patch(self, path, *operations):
        return self.http.patch(
            self.url + path, json={"schemas": [PATCH_SCHEMA], "Operations": list(operations)}, timeout=10
        )

    def new_user(self, user_name, **extra):
        response = self.post("/Users", {"schemas": [USER_SCHEMA], "userName": user_name, **extra})
        assert response.status_code == 201, response.text
        return response.json()


@pytest.fixture
def provider_with(serve_app):
    def start(*quirks, users=6, groups=2):
        return Client(serve_app(quirks=quirks, seed=(users, groups, "quirks")))

    return start


def empties(value, where="$"):
    """Every place in a JSON value that holds null, "", [] or {}."""
    found = []
    if value is None or value == "" or value == [] or value == {}:
        return [where]
    if isinstance(value, dict):
        for key, item in value.items():
            found += empties(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += empties(item, f"{where}[{index}]")
    return found


def test_defaults_without_quirks(provider_with):
    scim = provider_with()
    # scim2-server already omits null, [] and {} ... but keeps "" as a value.
    user = scim.new_user("plain", title="", nickName=None, phoneNumbers=[], name={"givenName": "Pat"}, addresses=[{}])
    assert user["title"] == ""
    assert "nickName" not in user and "phoneNumbers" not in user and "addresses" not in user
    # name.formatted is stored as sent: absent here, kept verbatim when the client sends one.
    assert user["name"] == {"givenName": "Pat"}
    assert (
        scim.new_user("verbatim", name={"givenName": "A", "familyName": "B", "formatted": "Dr. B"})["name"]["formatted"]
        == "Dr. B"
    )
    # The enterprise extension is advertised and writable.
    assert ENTERPRISE_URN in {s["id"] for s in scim.get("/Schemas").json()["Resources"]}
    assert scim.get("/ResourceTypes/User").json()["schemaExtensions"] == [{"schema": ENTERPRISE_URN, "required": False}]
    assert (
        scim.patch(
            f"/Users/{user['id']}", {"op": "replace", "path": f"{ENTERPRISE_URN}:department", "value": "R&D"}
        ).status_code
        == 200
    )
    # Members carry value, $ref, type and display; count is honoured.
    group = scim.get("/Groups", count=1).json()["Resources"][0]
    assert set(group["members"][0]) == {"value", "$ref", "type", "display"}
    page = scim.get("/Users", count=2).json()
    assert page["itemsPerPage"] == 2 and len(page["Resources"]) == 2 and page["totalResults"] == 8
    # Every seeded user has every attribute the sample maps.
    assert all(
        "title" in u and "phoneNumbers" in u
        for u in scim.get("/Users", filter='userName ne "x"').json()["Resources"]
        if u["userName"] not in ("plain", "verbatim")
    )


def test_omit_unassigned(provider_with):
    scim = provider_with("omit_unassigned")
    user = scim.new_user(
        "sparse",
        title="",
        displayName="",
        emails=[{"value": "s@example.com", "type": ""}],
        name={"givenName": "Sam", "familyName": ""},
    )
    assert "title" not in user and "displayName" not in user
    assert user["emails"] == [{"value": "s@example.com"}] and user["name"] == {"givenName": "Sam"}
    # Assigning "" makes an attribute unassigned, as null does.
    scim.patch(f"/Users/{user['id']}", {"op": "replace", "path": "title", "value": "Boss"})
    cleared = scim.patch(f"/Users/{user['id']}", {"op": "replace", "value": {"title": ""}})
    assert cleared.status_code == 200 and "title" not in cleared.json()
    assert scim.get("/Users", filter='title eq ""').json()["totalResults"] == 0
    # The seed leaves title and phoneNumbers unassigned on every third user; no answer holds an empty value.
    listed = scim.get("/Users").json()
    seeded = [u for u in listed["Resources"] if u["userName"] != "sparse"]
    assert [("title" in u, "phoneNumbers" in u) for u in seeded] == [
        (i % 3 != 1, i % 3 != 1) for i in range(len(seeded))
    ]
    for document in (listed, scim.get("/Groups").json(), scim.get(f"/Users/{seeded[1]['id']}").json()):
        assert empties(document.get("Resources", document)) == []


def test_compute_name_formatted(provider_with):
    scim = provider_with("compute_name_formatted")
    user = scim.new_user("named", name={"givenName": "Ada", "familyName": "Lovelace", "formatted": "Countess"})
    assert user["name"]["formatted"] == "Ada Lovelace"  # the client's value is ignored
    renamed = scim.patch(f"/Users/{user['id']}", {"op": "replace", "path": "name.givenName", "value": "Augusta"})
    assert renamed.json()["name"]["formatted"] == "Augusta Lovelace"
    # IDM's connector sends name without formatted; a replace of a complex attribute keeps the sub-attributes
    # not given (RFC 7644 §3.5.2.3), and the server computes formatted again.
    replaced = scim.patch(f"/Users/{user['id']}", {"op": "replace", "value": {"name": {"familyName": "King"}}})
    assert replaced.json()["name"] == {"givenName": "Augusta", "familyName": "King", "formatted": "Augusta King"}
    put = scim.put(
        f"/Users/{user['id']}",
        {
            "schemas": [USER_SCHEMA],
            "userName": "named",
            "name": {"givenName": "A", "familyName": "B", "formatted": "x"},
        },
    )
    assert put.json()["name"]["formatted"] == "A B"
    assert "formatted" not in scim.new_user("partless", name={"middleName": "Q"})["name"]
    seeded = scim.get("/Users", count=1).json()["Resources"][0]
    assert seeded["name"]["formatted"] == f"{seeded['name']['givenName']} {seeded['name']['familyName']}"


def test_no_enterprise_discovery_and_writes(provider_with):
    scim = provider_with("no_enterprise")
    assert ENTERPRISE_URN not in {s["id"] for s in scim.get("/Schemas").json()["Resources"]}
    assert "schemaExtensions" not in scim.get("/ResourceTypes/User").json()
    assert scim.get(f"/Schemas/{ENTERPRISE_URN}").status_code == 404
    seeded = scim.get("/Users").json()["Resources"]
    assert seeded and not any(ENTERPRISE_URN in u or ENTERPRISE_URN in u["schemas"] for u in seeded)

    def refused(response):
        body = response.json()
        return response.status_code == 400 and body["scimType"] == "invalidPath" and ENTERPRISE_URN in body["detail"]

    assert refused(
        scim.post(
            "/Users", {"schemas": [USER_SCHEMA, ENTERPRISE_URN], "userName": "ent", ENTERPRISE_URN: {"department": "D"}}
        )
    )
    assert refused(scim.post("/Users", {"schemas": [USER_SCHEMA, ENTERPRISE_URN], "userName": "ent"}))
    assert refused(
        scim.post("/Users", {"schemas": [USER_SCHEMA], "userName": "ent", f"{ENTERPRISE_URN}:department": "D"})
    )
    user = scim.new_user("core.only", title="Before")
    assert refused(
        scim.put(
            f"/Users/{user['id']}",
            {"schemas": [USER_SCHEMA], "userName": "core.only", ENTERPRISE_URN: {"costCenter": "1"}},
        )
    )
    # The issue-14 PATCH: a real change plus a remove of an enterprise path. Refused whole: title is unchanged.
    mixed = scim.patch(
        f"/Users/{user['id']}",
        {"op": "replace", "value": {"title": "After"}},
        {"op": "remove", "path": f"{ENTERPRISE_URN}:department"},
    )
    assert refused(mixed)
    assert scim.get(f"/Users/{user['id']}").json()["title"] == "Before"
    assert refused(scim.patch(f"/Users/{user['id']}", {"op": "replace", "value": {ENTERPRISE_URN: {"division": "x"}}}))
    assert refused(
        scim.patch(f"/Users/{user['id']}", {"op": "add", "value": {f"{ENTERPRISE_URN}:manager": {"value": "x"}}})
    )
    assert scim.get("/Users", filter=f'{ENTERPRISE_URN}:department eq "x"').json()["scimType"] == "invalidFilter"
    # Inside a Bulk request, and through the SCIM 1.1 facade, the same refusal.
    bulk = scim.http.post(
        scim.url + "/Bulk",
        timeout=10,
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": [
                {
                    "method": "PATCH",
                    "path": f"/Users/{user['id']}",
                    "data": {
                        "schemas": [PATCH_SCHEMA],
                        "Operations": [{"op": "remove", "path": f"{ENTERPRISE_URN}:division"}],
                    },
                }
            ],
        },
    ).json()
    assert bulk["Operations"][0]["status"] == "400"
    assert bulk["Operations"][0]["response"]["scimType"] == "invalidPath"
    v1 = scim.http.post(
        scim.root + "/scim/v1/Users",
        timeout=10,
        json={
            "schemas": ["urn:scim:schemas:core:1.0", V1_ENTERPRISE],
            "userName": "v1.ent",
            V1_ENTERPRISE: {"division": "x"},
        },
    )
    assert v1.status_code == 400
    v1_schema = scim.http.get(scim.root + "/scim/v1/Schemas/Users", timeout=10).json()
    assert all(a["schema"] == "urn:scim:schemas:core:1.0" for a in v1_schema["attributes"])
    # Core writes still work.
    assert (
        scim.patch(f"/Users/{user['id']}", {"op": "replace", "path": "title", "value": "After"}).json()["title"]
        == "After"
    )


def test_no_enterprise_drops_enterprise_data_of_an_older_state(serve_app, tmp_path):
    state = tmp_path / "state.json"
    first = serve_app(state_path=state, seed=(3, 1, "old"), state_interval=0.05)
    users = requests.get(first.url + "/scim/v2/Users", timeout=10).json()["Resources"]
    assert all(ENTERPRISE_URN in u for u in users)
    first.stop()
    second = Client(serve_app(state_path=state, quirks=["no_enterprise"]))
    again = second.get("/Users").json()["Resources"]
    assert [u["id"] for u in again] == [u["id"] for u in users]
    assert not any(ENTERPRISE_URN in u or ENTERPRISE_URN in u["schemas"] for u in again)


def test_bare_members(provider_with):
    scim = provider_with("bare_members")
    alice = scim.new_user("alice", displayName="Alice")
    created = scim.post(
        "/Groups",
        {
            "schemas": [GROUP_SCHEMA],
            "displayName": "team",
            "members": [{"value": alice["id"], "display": "Client Display", "type": "User"}],
        },
    )
    assert created.status_code == 201 and created.json()["members"] == [{"value": alice["id"]}]
    fetched = scim.get(f"/Groups/{created.json()['id']}").json()
    assert fetched["members"] == [{"value": alice["id"]}]
    for group in scim.get("/Groups").json()["Resources"]:
        assert all(set(member) == {"value"} for member in group.get("members", []))
    assert scim.get("/Groups", filter=f'members.value eq "{alice["id"]}"').json()["totalResults"] == 1
    # Unknown members are still refused, and User.groups is still computed.
    assert (
        scim.post(
            "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "ghosts", "members": [{"value": "nobody"}]}
        ).status_code
        == 400
    )
    assert scim.get(f"/Users/{alice['id']}").json()["groups"][0]["value"] == created.json()["id"]


def test_ignore_count(provider_with):
    scim = provider_with("ignore_count", users=7, groups=3)
    page = scim.get("/Users", count=2).json()
    assert page["totalResults"] == 7 and page["itemsPerPage"] == 7 and len(page["Resources"]) == 7
    later = scim.get("/Users", startIndex=5, count=1).json()
    assert later["startIndex"] == 5 and len(later["Resources"]) == 3
    assert len(scim.get("/Users", count=0).json()["Resources"]) == 7
    assert len(scim.get("/Groups", count=1, filter='displayName sw "E"').json()["Resources"]) == len(
        [g for g in scim.get("/Groups").json()["Resources"] if g["displayName"].startswith("E")]
    )
    search = scim.http.post(
        scim.url + "/Users/.search",
        timeout=10,
        json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "count": 1},
    ).json()
    assert search["itemsPerPage"] == 7
    v1 = scim.http.get(scim.root + "/scim/v1/Users", params={"count": 1}, timeout=10).json()
    assert len(v1["Resources"]) == 7


def test_quirks_combine_and_seed_stays_consistent():
    data = seed_module.generate(4, 2, "combo")
    from sandbox.scim.quirks import adjust_seed

    adjusted = adjust_seed(data, parse_quirks(["no_enterprise,bare_members", "compute_name_formatted"]))
    assert data["Users"][0][ENTERPRISE_URN]  # the generator's output is not modified
    assert all(ENTERPRISE_URN not in u and ENTERPRISE_URN not in u["schemas"] for u in adjusted["Users"])
    assert all(set(m) == {"value"} for g in adjusted["Groups"] for m in g["members"])
    assert without_unassigned({"a": [{"b": ""}, {}], "c": {"d": None}, "e": False, "f": 0}) == {"e": False, "f": 0}
    with pytest.raises(ValueError, match="unknown quirk"):
        parse_quirks(["omit_unassigned", "no_such_thing"])


def test_command_line_and_environment(start_provider, tmp_path):
    provider = start_provider(
        "--quirk",
        "bare_members",
        "--users",
        "2",
        "--groups",
        "1",
        env={"SCIM_SANDBOX_QUIRKS": "no_enterprise, ignore_count"},
    )
    assert "quirks: bare_members, ignore_count, no_enterprise" in provider.output()
    user_type = requests.get(provider.url + "/scim/v2/ResourceTypes/User", timeout=10).json()
    assert "schemaExtensions" not in user_type
    wrong = refused_start(tmp_path, "--quirk", "omit_nulls")
    assert wrong.returncode == 2 and "unknown quirk(s) omit_nulls" in wrong.stderr
