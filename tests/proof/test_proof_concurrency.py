"""Two ansible-playbook processes reconcile the same tenant at once: both finish, and no mapping is ever
reconciled twice at the same time (the recon module's on_running: wait adopts the run already going)."""

from __future__ import annotations

import itertools
from datetime import datetime

from sandbox import testing as proofkit
from sandbox.testing import SAMPLE_MAPPINGS

# A slow provider keeps the first process's recon ACTIVE (with little data) until the second process has
# looked for running recons; then the provider is fast again.
SLOW_SCIM_SECONDS = 12.0


def _recon_list_calls(tenant: proofkit.Tenant) -> int:
    """`GET /openidm/recon` (the list, not one run) in IDM's access log: what the recon module reads to find a
    run already going. A process that polls its own run reads /openidm/recon/<id> instead."""
    return sum(1 for line in tenant.access_log_lines() if line.split()[1:3] == ["GET", "/openidm/recon"])


def _interval(run: dict) -> tuple[float, float]:
    def ts(text: str) -> float:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()

    return ts(run["started"]), ts(run["ended"]) if run.get("ended") else float("inf")


def assert_no_overlapping_runs(tenant: proofkit.Tenant) -> dict[str, list[dict]]:
    grouped = proofkit.recon_runs_by_mapping(tenant.recons())
    for mapping, runs in grouped.items():
        spans = sorted(_interval(r) for r in runs)
        for (_start, end), (start, _end) in itertools.pairwise(spans):
            assert start >= end, (
                f"two recons of {mapping} overlapped: {[(r['_id'], r['started'], r['ended']) for r in runs]}"
            )
    return grouped


def _recon_ids(run: proofkit.PlaybookRun) -> dict[str, str]:
    ids = {}
    for task in run.by_action("recon"):
        result = task["result"]
        for item in result.get("recons") or result.get("results") or [result]:
            if isinstance(item, dict) and item.get("recon"):
                ids[item.get("mapping") or item.get("item") or item["recon"].get("mapping")] = item["recon"]["id"]
    return ids


def test_second_process_adopts_the_running_recon(sandbox_factory, tmp_path):
    sandbox = sandbox_factory(users=12, groups=3)
    tenant = sandbox.tenant(0)
    provision = proofkit.run_flow(sandbox, tmp_path, args=["--tags", "provision,test"])
    assert provision.rc == 0, provision.describe()

    tenant.scim_faults(latency=SLOW_SCIM_SECONDS)
    first = proofkit.start_flow(sandbox, tmp_path, args=["--tags", "reconcile"])
    second = None
    try:
        running = proofkit.wait_for(
            lambda: proofkit.active_recon(tenant, SAMPLE_MAPPINGS[0]), 120, what="the first process's recon"
        )
        list_calls = _recon_list_calls(tenant)
        second = proofkit.start_flow(sandbox, tmp_path, args=["--tags", "reconcile"])
        proofkit.wait_for(
            lambda: _recon_list_calls(tenant) > list_calls,
            120,
            interval=0.2,
            what="the second process to look for running recons",
        )
        assert proofkit.active_recon(tenant, SAMPLE_MAPPINGS[0])["_id"] == running["_id"], (
            "the first recon ended before the second process looked; the test did not test adoption"
        )
        tenant.scim_faults_reset()
        run_a = proofkit.finish_playbook(first, timeout=600)
        run_b = proofkit.finish_playbook(second, timeout=600)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
        tenant.scim_faults_reset()
    assert run_a.rc == 0, run_a.describe()
    assert run_b.rc == 0, run_b.describe()
    assert_no_overlapping_runs(tenant)
    ids_a, ids_b = _recon_ids(run_a), _recon_ids(run_b)
    assert ids_a.get(SAMPLE_MAPPINGS[0]) == running["_id"]
    assert ids_b.get(SAMPLE_MAPPINGS[0]) == running["_id"], (
        f"the second process did not adopt the running recon {running['_id']}: {ids_b}"
    )


def test_two_full_flows_started_together(sandbox_factory, tmp_path):
    sandbox = sandbox_factory(users=40, groups=3)
    tenant = sandbox.tenant(0)
    processes = [proofkit.start_flow(sandbox, tmp_path) for _index in range(2)]
    try:
        runs = [proofkit.finish_playbook(p, timeout=600) for p in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    for run in runs:
        assert run.rc == 0, run.describe()
    grouped = assert_no_overlapping_runs(tenant)
    assert set(SAMPLE_MAPPINGS) <= set(grouped)
    assert tenant.managed_count("user") == 40
