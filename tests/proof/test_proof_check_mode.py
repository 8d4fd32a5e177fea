"""Check mode is the GitOps preview: on a fresh tenant, on a converged one and on one that has the connector but no
mappings, `--check` of the role and of playbooks/drift.yml succeeds, writes nothing and says what the real run will
do (issue 15.1/15.2). One sandbox walks through the three states in order."""

from __future__ import annotations

import json

from sandbox import testing as proofkit
from sandbox.testing import REPO, SAMPLE_MAPPINGS

DRIFT_PLAYBOOK = REPO / "playbooks" / "drift.yml"


def _one(run: proofkit.PlaybookRun, action: str) -> dict:
    tasks = [t for t in run.by_action(action) if t["status"] != "skipped" or action == "connector_test"]
    assert tasks, f"no {action} task ran\n{run.describe()}"
    return tasks[0]


def _recap_changed(run: proofkit.PlaybookRun, host: str) -> int:
    for line in run.stdout.splitlines():
        if line.startswith(host) and "changed=" in line:
            return int(line.split("changed=")[1].split()[0])
    raise AssertionError(f"no recap line for {host}\n{run.describe()}")


def _reason(run: proofkit.PlaybookRun) -> str:
    said = [t for t in run.tasks if t["task"].endswith("Say why the connector was not tested")]
    return " ".join(str(t["result"].get("msg", "")) for t in said)


def _preview_mappings_new(sandbox, tenant, tmp_path, connector_exists: bool) -> None:
    """--check on a tenant without the mappings: they would be created, their recons would run (no dry run)."""
    before = tenant.snapshot()
    preview = proofkit.run_flow(sandbox, tmp_path, args=["--check", "--diff"])
    assert preview.rc == 0, preview.describe()
    assert tenant.snapshot() == before, "check mode wrote to IDM or started a recon"

    connector = _one(preview, "connector")["result"]
    assert connector["changed"] is (not connector_exists)
    assert connector.get("created", False) is (not connector_exists), connector
    connector_test = _one(preview, "connector_test")
    if connector_exists:
        assert connector_test["status"] == "ok", "an existing connector is tested in check mode too"
        assert not _reason(preview)
    else:
        assert connector_test["status"] == "skipped", "a connector that does not exist yet cannot be tested"
        assert "would be created" in _reason(preview)

    mapping = _one(preview, "mapping")["result"]
    assert sorted(mapping["created"]) == sorted(SAMPLE_MAPPINGS), mapping

    recon = _one(preview, "recon")
    assert recon["status"] in ("ok", "changed"), preview.describe()
    entries = recon["result"]["recons"]
    assert [e["mapping"] for e in entries] == list(SAMPLE_MAPPINGS)
    for entry in entries:
        assert entry["changed"] is True, f"the recon of a new mapping is reported as would-run: {entry}"
        assert "recon" not in entry or not entry["recon"].get("id"), f"no dry run against a mapping IDM lacks: {entry}"
        assert entry.get("msg"), f"the skipped dry run says why: {entry}"


def test_check_mode_predicts_first_apply_converged_and_new_mappings(sandbox_factory, tmp_path):
    sandbox = sandbox_factory(users=6, groups=2)
    tenant = sandbox.tenant(0)

    # 1. Fresh tenant: the role's preview and drift.yml's.
    _preview_mappings_new(sandbox, tenant, tmp_path, connector_exists=False)
    reports = tmp_path / "drift-fresh"
    drift = proofkit.run_flow(
        sandbox, tmp_path, playbook=DRIFT_PLAYBOOK, extra_vars={"scim_sync_drift_report_dir": str(reports)}
    )
    report = json.loads((reports / f"{tenant.name}.json").read_text())
    assert drift.rc == 2 and report["status"] == "drifted", drift.describe()
    assert report["connector"]["created"] is True
    assert sorted(report["mappings"]["created"]) == sorted(SAMPLE_MAPPINGS)
    assert 'errors="0"' in (reports / f"{tenant.name}.xml").read_text()

    # 2. The real run does what the preview said; then a converged tenant's preview changes nothing.
    real = proofkit.run_flow(sandbox, tmp_path)
    assert real.rc == 0, real.describe()
    assert _one(real, "connector")["result"]["created"] is True
    assert sorted(_one(real, "mapping")["result"]["created"]) == sorted(SAMPLE_MAPPINGS)
    counters = {e["mapping"]: e["recon"]["counters"] for e in _one(real, "recon")["result"]["recons"]}
    assert counters["systemScimAccount_managedUser"]["created"] == 6, counters

    converged = proofkit.run_flow(sandbox, tmp_path, args=["--check"])
    assert converged.rc == 0, converged.describe()
    assert _recap_changed(converged, tenant.name) == 0, converged.describe()
    summary = next(t for t in converged.tasks if t["task"].endswith("Show the reconciliation summary"))["result"]["msg"]
    entries = _one(converged, "recon")["result"]["recons"]
    assert len(summary) == len(entries), summary
    # The reconciled users and groups are linked: a dry run cannot tell whether IDM would update them.
    may_update = [
        (line, e) for line, e in zip(summary, entries, strict=True) if (e["recon"].get("may_update") or 0) > 0
    ]
    assert may_update, f"no dry run reported linked entries IDM may update: {entries}"
    for line, _entry in may_update:
        assert "nothing" not in line and "may update" in line, line

    # 3. Connector kept, mappings gone: the mappings would be created and their recons run.
    tenant.idm_json("DELETE", "config/sync")
    _preview_mappings_new(sandbox, tenant, tmp_path, connector_exists=True)
