"""The sandbox IDM's SCIM connector against the second SCIM server (django-scim2-server,
``python -m sandbox.django_scim``).

The server runs as a real process (SQLite in a temp dir, a small seed, a static token and a basic user); the connector
is driven in-process as in ``sandbox/tests/idm/test_connector.py``. The last test pins the server's documented
non-conformances (sandbox/django_scim/README.md), so a new upstream version that changes them is noticed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest
import requests

from sandbox.idm.provisioner.query import query
from sandbox.idm.provisioner.schema import default_object_types
from sandbox.idm.provisioner.scim import ConnectorError, ScimConnector

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
TOKEN = "django-scim-test-token"
BASIC = ("scim-basic", "basic-secret-value")
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("django-scim")
    env = {**os.environ, "PYTHONPATH": REPO, "SCIM_STATIC_TOKENS": TOKEN, "SCIM_BASIC": ":".join(BASIC)}
    with open(tmp / "stderr.log", "w", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sandbox.django_scim",
                "--port",
                "0",
                "--state",
                str(tmp / "scim.sqlite3"),
                "--users",
                "5",
                "--groups",
                "2",
                "--access-log",
                str(tmp / "access.log"),
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    line = []
    reader = threading.Thread(target=lambda: line.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(60)
    try:
        assert line and line[0].startswith("ready http://127.0.0.1:"), (tmp / "stderr.log").read_text()
        url = line[0].split()[1]
        yield type("Server", (), {"url": url, "endpoint": url + "/scim/v2", "tmp": tmp})
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        process.stdout.close()


def connector(server, **props):
    base = {
        "SCIMEndpoint": server.endpoint,
        "SCIMVersion": 2,
        "authenticationMethod": "TOKEN",
        "authToken": TOKEN,
        "connectionTimeout": 10,
        "maximumConnections": 4,
    }
    base.update(props)
    return ScimConnector(
        {"connectorRef": {}, "enabled": True, "configurationProperties": base, "objectTypes": default_object_types()}
    )


def test_auth_token_basic_and_refusals(server):
    connector(server).test()
    connector(server, authenticationMethod="BASIC", user=BASIC[0], password=BASIC[1]).test()
    for wrong in ({"authToken": "nope"}, {"authenticationMethod": "BASIC", "user": BASIC[0], "password": "nope"}):
        with pytest.raises(ConnectorError) as info:
            connector(server, **wrong).test()
        assert info.value.kind == "credentials"
    assert requests.get(server.endpoint + "/Users", timeout=10).status_code == 401
    log = (server.tmp / "access.log").read_text()
    assert " GET /scim/v2/Users 200 " in log and " GET /scim/v2/Users 401 " in log
    assert TOKEN not in log and BASIC[1] not in log


def test_seed_filters_and_paging(server):
    scim = connector(server)
    everyone, total = scim.search("account", count=100)
    assert total == 5 and len(everyone) == 5
    name = everyone[2]["userName"]
    found, cookie, _ = query(scim, "account", f'userName eq "{name}"')
    assert [u["_id"] for u in found] == [everyone[2]["_id"]] and cookie is None
    groups, _ = scim.search("group")
    assert len(groups) == 2 and all(g.get("members") for g in groups)
    by_name, _, _ = query(scim, "group", f'displayName eq "{groups[1]["displayName"]}"')
    assert [g["_id"] for g in by_name] == [groups[1]["_id"]]
    pages = [scim.search("account", None, start, 2) for start in (1, 3, 5)]
    assert [len(objects) for objects, _ in pages] == [2, 2, 1] and {t for _, t in pages} == {5}
    assert sorted(u["_id"] for objects, _ in pages for u in objects) == sorted(u["_id"] for u in everyone)
    assert len(scim.search_all("account")) == 5


def test_user_and_group_crud(server):
    scim = connector(server)
    created = scim.create(
        "account",
        {
            "userName": "crud.user",
            "name": {"givenName": "Crud", "familyName": "User"},
            "emails": [{"value": "crud@example.com", "type": "work", "primary": True}],
            "active": True,
        },
    )
    uid = created["_id"]
    assert created["name"] == {"givenName": "Crud", "familyName": "User"}
    updated = scim.update("account", uid, {"name": {"givenName": "Changed", "familyName": "User"}, "active": False})
    assert updated["name"]["givenName"] == "Changed" and updated["active"] is False
    assert scim.read("account", uid)["emails"] == [{"value": "crud@example.com", "primary": True}]

    group = scim.create("group", {"displayName": "crud-team", "members": [{"value": uid}]})
    assert [m["value"] for m in group["members"]] == [uid]
    other = scim.search("account", 'userName ne "crud.user"', 1, 1)[0][0]["_id"]
    group = scim.update("group", group["_id"], {"members": [{"value": other}], "displayName": "crud-team-2"})
    assert [m["value"] for m in group["members"]] == [other] and group["displayName"] == "crud-team-2"
    scim.delete("group", group["_id"])
    with pytest.raises(ConnectorError) as info:
        scim.read("group", group["_id"])
    assert info.value.kind == "not_found"
    scim.delete("account", uid)


def test_documented_non_conformances(server):
    """What sandbox/django_scim/README.md lists; each assertion is the server's observed behaviour today."""
    scim = connector(server)

    def call(method, path, **kwargs):
        """The server's answer to a request with the bearer token (unless ``auth=False``)."""
        headers = {"Authorization": f"Bearer {TOKEN}"} if kwargs.pop("auth", True) else {}
        return requests.request(method, server.endpoint + path, headers=headers, timeout=10, **kwargs)

    # 1. Attributes outside its schema are dropped on POST and PATCH without an error.
    user = scim.create(
        "account",
        {
            "userName": "nc.user",
            "title": "Kept?",
            "displayName": "NC User",
            "phoneNumbers": [{"value": "+1 555", "type": "work"}],
        },
    )
    assert {"title", "displayName", "phoneNumbers"}.isdisjoint(user)
    patched = call(
        "PATCH",
        f"/Users/{user['_id']}",
        json={
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "replace", "path": "title", "value": "x"}, {"op": "remove", "path": "nickName"}],
        },
    )
    assert patched.status_code == 200 and "title" not in patched.json()
    # 2. The enterprise extension is refused with a pydantic message and no scimType.
    refused = call(
        "POST",
        "/Users",
        json={
            "schemas": [USER_SCHEMA],
            "userName": "nc.ent",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "D"},
        },
    )
    assert refused.status_code == 400 and "scimType" not in refused.json()
    # 3. DELETE deactivates: the user is still read, listed, a group member, and its userName stays taken.
    group = scim.create("group", {"displayName": "nc-group", "members": [{"value": user["_id"]}]})
    scim.delete("account", user["_id"])
    assert scim.read("account", user["_id"])["active"] is False
    assert [m["value"] for m in scim.read("group", group["_id"])["members"]] == [user["_id"]]
    with pytest.raises(ConnectorError) as info:
        scim.create("account", {"userName": "nc.user"})
    assert info.value.kind == "conflict"
    # 4. userName uniqueness is case-sensitive, while filters compare case-insensitively: two matches.
    scim.create("account", {"userName": "NC.USER"})
    assert len(query(scim, "account", 'userName eq "nc.user"')[0]) == 2
    # 5. Unknown member ids are dropped silently.
    quiet = scim.update("group", group["_id"], {"members": [{"value": "00000000-0000-4000-8000-000000000000"}]})
    assert "members" not in quiet
    # 6. Discovery needs credentials; the advertised scheme is OAuth bearer; filter.maxResults is 200 but any count
    #    up to 1000 is served and a larger one is refused with 400.
    assert call("GET", "/ServiceProviderConfig", auth=False).status_code == 401
    spc = call("GET", "/ServiceProviderConfig").json()
    assert spc["filter"]["maxResults"] == 200 and [s["type"] for s in spc["authenticationSchemes"]] == [
        "oauthbearertoken"
    ]
    assert call("GET", "/Users", params={"count": 5000}).status_code == 400
    # 7. URN-qualified attribute names in filters are not parsed; a non-UUID id gets an HTML 404.
    urn_filter = call("GET", "/Users", params={"filter": f'{USER_SCHEMA}:userName eq "nc.user"'})
    assert urn_filter.status_code == 400 and urn_filter.json()["scimType"] == "invalidFilter"
    html = call("GET", "/Users/not-a-uuid")
    assert html.status_code == 404 and html.headers["Content-Type"].startswith("text/html")
    # 8. The attributes parameter is ignored; /Schemas lists no displayName, title or phoneNumbers.
    listed = call("GET", "/Users", params={"attributes": "userName", "count": 1}).json()["Resources"][0]
    assert "meta" in listed and "name" in listed
    user_schema = next(s for s in call("GET", "/Schemas").json()["Resources"] if s["id"] == USER_SCHEMA)
    assert {a["name"] for a in user_schema["attributes"]} == {"userName", "name", "emails", "active", "externalId"}
