"""Mappings that exist only on the server: the role reports them and keeps them, and removes them only when
asked (scim_sync_mapping_prune: true)."""

from __future__ import annotations

import json

from sandbox import testing as proofkit
from sandbox.testing import SAMPLE_MAPPINGS

SERVER_ONLY = "proofServerOnly_managedRole"


def _mapping_names(tenant: proofkit.Tenant) -> list[str]:
    return [m["name"] for m in tenant.idm_json("GET", "config/sync").get("mappings", [])]


def test_server_only_mapping_reported_then_removed_only_when_asked(sandbox_factory, tmp_path):
    sandbox = sandbox_factory(users=4, groups=2)
    tenant = sandbox.tenant(0)
    first = proofkit.run_flow(sandbox, tmp_path, args=["--tags", "provision"])
    assert first.rc == 0, first.describe()

    sync = tenant.idm_json("GET", "config/sync")
    sync.pop("_id", None)
    sync["mappings"].append(
        {
            "name": SERVER_ONLY,
            "source": "managed/user",
            "target": "managed/role",
            "properties": [{"source": "userName", "target": "name"}],
        }
    )
    tenant.idm_json("PUT", "config/sync", sync)

    kept = proofkit.run_flow(sandbox, tmp_path, args=["--tags", "provision"])
    assert kept.rc == 0, kept.describe()
    mapping_results = json.dumps([t["result"] for t in kept.by_action("mapping")])
    assert SERVER_ONLY in mapping_results or SERVER_ONLY in kept.stdout, (
        f"the server-only mapping is not reported\n{kept.describe()}"
    )
    assert SERVER_ONLY in _mapping_names(tenant), "removed without being asked"
    assert not any(t["result"].get("changed") for t in kept.by_action("mapping")), "a report-only run changed"

    pruned = proofkit.run_flow(
        sandbox, tmp_path, args=["--tags", "provision"], extra_vars={"scim_sync_mapping_prune": True}
    )
    assert pruned.rc == 0, pruned.describe()
    names = _mapping_names(tenant)
    assert SERVER_ONLY not in names
    assert set(SAMPLE_MAPPINGS) <= set(names), names
    assert any(t["result"].get("changed") for t in pruned.by_action("mapping"))
