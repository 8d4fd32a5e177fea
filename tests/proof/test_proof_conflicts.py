"""Which side wins for each order of scim_sync_recon_mappings: the table of the role guide
(docs/docsite/rst/scim_sync_guide.rst, "Which side wins a conflict"), row by row, on a sandbox whose IDM
synchronizes managed-object changes implicitly, as IDM does (issue 14.5)."""

from __future__ import annotations

import requests

from sandbox import testing as proofkit
from sandbox.testing import REPO

RECONCILE = REPO / "playbooks" / "reconcile.yml"
PROVIDER_FIRST = [
    "systemScimAccount_managedUser",
    "managedUser_systemScimAccount",
    "systemScimGroup_managedRole",
    "managedRole_systemScimGroup",
]
IDM_FIRST = [
    "managedUser_systemScimAccount",
    "systemScimAccount_managedUser",
    "managedRole_systemScimGroup",
    "systemScimGroup_managedRole",
]
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Sides:
    """Read and edit one user's given name (mapped both ways by default) on both sides of a tenant."""

    def __init__(self, tenant: proofkit.Tenant):
        self.tenant = tenant
        token = requests.post(
            tenant.hostvars["scim_token_endpoint"],
            data={"grant_type": "client_credentials"},
            auth=(tenant.hostvars["scim_client_id"], tenant.hostvars["scim_client_secret"]),
            verify=tenant.verify,
            timeout=30,
        )
        token.raise_for_status()
        self.scim_headers = {
            "Authorization": f"Bearer {token.json()['access_token']}",
            "Content-Type": "application/scim+json",
        }
        users = tenant.idm_json("GET", "managed/user", params={"_queryFilter": "true", "_fields": "_id,userName"})
        self.idm_ids = {u["userName"].lower(): u["_id"] for u in users["result"]}
        scim = requests.get(
            f"{tenant.scim_url}/Users",
            params={"count": 1000},
            headers=self.scim_headers,
            verify=tenant.verify,
            timeout=30,
        ).json()["Resources"]
        self.scim_ids = {u["userName"].lower(): u["id"] for u in scim}
        self.names = sorted(self.idm_ids)

    def idm_value(self, name: str):
        return self.tenant.idm_json("GET", f"managed/user/{self.idm_ids[name]}").get("givenName")

    def scim_value(self, name: str):
        response = requests.get(
            f"{self.tenant.scim_url}/Users/{self.scim_ids[name]}",
            headers=self.scim_headers,
            verify=self.tenant.verify,
            timeout=30,
        )
        response.raise_for_status()
        return (response.json().get("name") or {}).get("givenName")

    def edit_in_idm(self, name: str, value: str) -> None:
        self.tenant.idm_json(
            "PATCH",
            f"managed/user/{self.idm_ids[name]}",
            [{"operation": "replace", "field": "/givenName", "value": value}],
        )

    def edit_in_provider(self, name: str, value: str) -> None:
        body = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "name.givenName", "value": value}]}
        response = requests.patch(
            f"{self.tenant.scim_url}/Users/{self.scim_ids[name]}",
            json=body,
            headers=self.scim_headers,
            verify=self.tenant.verify,
            timeout=30,
        )
        response.raise_for_status()

    def both(self, name: str) -> tuple:
        return self.idm_value(name), self.scim_value(name)


def _reconcile(sandbox, tmp_path, order: list[str]) -> None:
    run = proofkit.run_flow(sandbox, tmp_path, playbook=RECONCILE, extra_vars={"scim_sync_recon_mappings": order})
    assert run.rc == 0, run.describe()


def test_which_side_wins_for_each_order(sandbox_factory, tmp_path):
    sandbox = sandbox_factory(users=4, groups=1)
    tenant = sandbox.tenant(0)
    converge = proofkit.run_flow(sandbox, tmp_path)
    assert converge.rc == 0, converge.describe()
    sides = Sides(tenant)
    a, b, c, d = sides.names[:4]

    # Provider first (the default). An edit in IDM: already in the provider through implicit sync.
    sides.edit_in_idm(a, "edited in IDM")
    assert sides.scim_value(a) == "edited in IDM", "implicit sync pushes an IDM edit at once"
    # An edit in the provider: reaches IDM at the next run.
    sides.edit_in_provider(b, "edited in the provider")
    # Both sides, the provider's edit later: the later edit wins.
    sides.edit_in_idm(c, "earlier in IDM")
    sides.edit_in_provider(c, "later in the provider")
    _reconcile(sandbox, tmp_path, PROVIDER_FIRST)
    assert sides.both(a) == ("edited in IDM", "edited in IDM")
    assert sides.both(b) == ("edited in the provider", "edited in the provider")
    assert sides.both(c) == ("later in the provider", "later in the provider")

    # An IDM edit whose implicit push failed (provider down): the next provider-first run overwrites it.
    tenant.scim_faults(down=True)
    try:
        sides.edit_in_idm(d, "pushed while the provider was down")
    finally:
        tenant.scim_faults_reset()
    assert sides.scim_value(d) != "pushed while the provider was down"
    before = sides.scim_value(d)
    _reconcile(sandbox, tmp_path, PROVIDER_FIRST)
    assert sides.both(d) == (before, before), "provider first: the unpushed IDM edit is lost"

    # IDM first. The unpushed IDM edit reaches the provider; a provider edit is overwritten by IDM's value.
    tenant.scim_faults(down=True)
    try:
        sides.edit_in_idm(d, "pushed while down, IDM first")
    finally:
        tenant.scim_faults_reset()
    sides.edit_in_provider(b, "edited in the provider again")
    _reconcile(sandbox, tmp_path, IDM_FIRST)
    assert sides.both(d) == ("pushed while down, IDM first", "pushed while down, IDM first")
    assert sides.both(b) == ("edited in the provider", "edited in the provider"), "IDM first: IDM wins"
