"""The five curl commands of PingIDM's "Synchronize data between IDM and a SCIM provider" sample, run VERBATIM
(only ``localhost:8080`` replaced by the test server's address) with the real ``curl`` binary against the sandbox
IDM, a configured SCIM connector (OAuth, the sandbox SCIM provider) and a minimal four-mapping sync.json.

The commands are copied here from the sample page (shared/reference/pingidm-sample-sync-with-scim.md); when that
file is present the test also checks the copies still match it word for word.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from sandbox.tests.idm.scim_fixture import sandbox_provider
from sandbox.tests.idm.sync_helpers import (
    SCIM_ACCOUNT_USER,
    USER_SCIM_ACCOUNT,
    connector_status,
    js,
    put_config,
    scim_provisioner,
)

# shared/ lies beside the repository (in CI too); the copy check runs only where it is present.
REFERENCE = Path(__file__).resolve().parents[3].parent / "shared/reference/pingidm-sample-sync-with-scim.md"
CURL = shutil.which("curl")

TEST_COMMAND = '''curl \\
--header "X-OpenIDM-Username: openidm-admin" \\
--header "X-OpenIDM-Password: openidm-admin" \\
--header "Accept-API-Version: resource=1.0" \\
--request POST \\
"http://localhost:8080/openidm/system?_action=test"'''


def recon_command(mapping):
    return f'''curl \\
--header "X-OpenIDM-Username: openidm-admin" \\
--header "X-OpenIDM-Password: openidm-admin" \\
--header "Accept-API-Version: resource=1.0" \\
--request POST \\
"http://localhost:8080/openidm/recon?_action=recon&mapping={mapping}&waitForCompletion=true"'''


COMMANDS = [TEST_COMMAND] + [
    recon_command(m)
    for m in (
        "systemScimAccount_managedUser",
        "managedUser_systemScimAccount",
        "systemScimGroup_managedRole",
        "managedRole_systemScimGroup",
    )
]

# SCIM member -> managed user: the member's SCIM id gives the account, its userName the managed user.
SCIM_MEMBERS_TO_REFS = js(
    "(source || []).map(function (m) {"
    " var account = openidm.read('system/scim/account/' + m.value);"
    " var users = openidm.query('managed/user', {'_queryFilter': 'userName eq \"' + account.userName + '\"'});"
    " return {'_ref': 'managed/user/' + users.result[0]._id}; })"
)
# managed role members -> SCIM members: the managed user's userName finds the SCIM account id.
REFS_TO_SCIM_MEMBERS = js(
    "(source || []).map(function (r) {"
    " var user = openidm.read(r._ref);"
    " var found = openidm.query('system/scim/account', {'_queryFilter': 'userName eq \"' + user.userName + '\"'});"
    " return {'value': found.result[0]._id}; })"
)


# IDM compares the whole old and new target: keep the stored member entries (SCIM $ref/display, IDM
# _refProperties) for members that stay, so an unchanged member list is not an update.
def keep_stored_members(key):
    return js(
        f"var stored = {{}}; (oldTarget.members || []).forEach(function (m) {{ stored[m.{key}] = m; }});"
        f"target.members = (target.members || []).map(function (m) {{ return stored[m.{key}] || m; }});"
    )


SYNC = {
    "mappings": [
        dict(SCIM_ACCOUNT_USER, policies=[{"situation": "SOURCE_MISSING", "action": "DELETE"}]),
        dict(USER_SCIM_ACCOUNT, policies=[{"situation": "UNASSIGNED", "action": "IGNORE"}]),
        {
            "name": "systemScimGroup_managedRole",
            "source": "system/scim/group",
            "target": "managed/role",
            "correlationQuery": js("var q = {'_queryFilter': 'name eq \"' + source.displayName + '\"'}; q;"),
            "properties": [
                {"source": "displayName", "target": "name"},
                {"source": "members", "target": "members", "transform": SCIM_MEMBERS_TO_REFS},
            ],
            "onUpdate": keep_stored_members("_ref"),
        },
        {
            "name": "managedRole_systemScimGroup",
            "source": "managed/role",
            "target": "system/scim/group",
            "links": "systemScimGroup_managedRole",
            "properties": [
                {"source": "name", "target": "displayName"},
                {"source": "members", "target": "members", "transform": REFS_TO_SCIM_MEMBERS},
            ],
            "onUpdate": keep_stored_members("value"),
        },
    ]
}


@pytest.fixture
def scim_provider():
    # the team's SCIM provider (scim2-server + OAuth + fixed gaps)
    with sandbox_provider("v2", clients={"idm-client": "idm-secret"}, seed=(6, 2, "curls")) as handle:
        yield handle


def run_curl(command, idm):
    host_port = idm.url.split("://", 1)[1]
    completed = subprocess.run(
        ["bash", "-c", command.replace("localhost:8080", host_port)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def scim_get(provider, path):
    token = requests.post(
        provider.token_endpoint,
        data={"grant_type": "client_credentials"},
        auth=("idm-client", "idm-secret"),
        timeout=10,
    ).json()["access_token"]
    return requests.get(provider.endpoint + path, headers={"Authorization": f"Bearer {token}"}, timeout=10).json()


def test_commands_are_the_samples_verbatim():
    if not REFERENCE.exists():
        pytest.skip("sample page not available on this machine")
    text = REFERENCE.read_text(encoding="utf-8")
    documented = re.findall(r"^\s*(curl \\\n(?:.*\\\n)*?\s*\"http://localhost:8080/openidm/[^\"]+\")", text, re.M)
    documented = ["\n".join(line.strip() for line in block.splitlines()) for block in documented]
    assert documented == COMMANDS


@pytest.mark.skipif(CURL is None, reason="the curl binary is not installed")
def test_sample_flow_with_curl(idm_server_factory, scim_provider):
    # recon_target_fields=mapped: these minimal mappings keep role members with an onUpdate that needs the members
    # in the recon's view of the role; on IDM (default reading) that view has no members (see test_sync_features
    # test_relationship_members_reread_by_recon_default_fields and the shipped templates).
    idm = idm_server_factory(connector_start_delay=0.2, readings={"recon_target_fields": "mapped"})
    put_config(idm, "provisioner.openicf/scim", scim_provisioner(scim_provider))
    put_config(idm, "sync", SYNC)

    status = run_curl(COMMANDS[0], idm)
    assert status == [connector_status("scim")]

    def recon(index):
        result = run_curl(COMMANDS[index], idm)
        assert set(result) == {"_id", "state"} and result["state"] == "SUCCESS"
        assert re.fullmatch(r"[0-9a-f-]{36}-\d+", result["_id"])
        return idm.get(f"recon/{result['_id']}").json()

    # 5. SCIM users -> managed users
    users = recon(1)
    assert users["progress"]["target"]["created"] == 6
    managed_users = idm.get("managed/user", params={"_queryFilter": "true"}).json()["result"]
    scim_users = scim_get(scim_provider, "/Users")["Resources"]
    assert sorted(u["userName"] for u in managed_users) == sorted(u["userName"] for u in scim_users)

    # 7./8. change a managed user: IDM's implicit sync pushes it to the SCIM user at once; the recon back then
    # finds every account linked and up to date (nothing created, nothing to update)
    changed = managed_users[0]
    idm.request(
        "PATCH",
        f"managed/user/{changed['_id']}",
        json=[{"operation": "replace", "field": "/givenName", "value": "Changed"}],
    )
    account = [u for u in scim_get(scim_provider, "/Users")["Resources"] if u["userName"] == changed["userName"]]
    assert account[0]["name"]["givenName"] == "Changed"
    back = recon(2)
    assert back["situationSummary"]["CONFIRMED"] == 6
    assert back["progress"]["target"]["updated"] == 0 and back["progress"]["target"]["created"] == 0

    # 10. SCIM groups -> managed roles, with members
    roles = recon(3)
    assert roles["progress"]["target"]["created"] == 2
    role_list = idm.get("managed/role", params={"_queryFilter": "true", "_fields": "*,members"}).json()["result"]
    scim_groups = {g["displayName"]: g for g in scim_get(scim_provider, "/Groups")["Resources"]}
    for role in role_list:
        assert len(role["members"]) == len(scim_groups[role["name"]].get("members") or [])

    # 11./12. add a user to a role, reconcile roles back to SCIM groups
    role = role_list[0]
    member_ids = {m["_refResourceId"] for m in role["members"]}
    newcomer = next(u for u in managed_users if u["_id"] not in member_ids)
    idm.request(
        "PATCH",
        f"managed/role/{role['_id']}",
        json=[{"operation": "add", "field": "/members/-", "value": {"_ref": f"managed/user/{newcomer['_id']}"}}],
    )
    group = scim_get(scim_provider, "/Groups")["Resources"]  # pushed by the implicit sync of the role change
    groups_back = recon(4)
    assert groups_back["progress"]["target"]["updated"] == 0
    group = next(g for g in group if g["displayName"] == role["name"])
    newcomer_account = next(
        u for u in scim_get(scim_provider, "/Users")["Resources"] if u["userName"] == newcomer["userName"]
    )
    assert newcomer_account["id"] in {m["value"] for m in group["members"]}
    # and a second pass in each direction changes nothing
    assert recon(3)["progress"]["target"]["unchanged"] == 2
    assert recon(4)["progress"]["target"]["unchanged"] == 2
