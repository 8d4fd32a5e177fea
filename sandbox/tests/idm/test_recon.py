"""``/openidm/recon`` REST: shapes (contract §4, §4.1), async runs, cancel, analyze + associations, purge,
history across restarts, and ``audit/recon``."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import requests

from ansible_collections.idmops.pingidm.plugins.module_utils import _vocabulary

from sandbox.tests.idm.sync_helpers import (
    MINIMAL_MANAGED,
    PERSON_USER,
    create,
    managed,
    put_mappings,
    recon,
    situations,
)

MAPPING = dict(PERSON_USER, properties=[{"source": "userName", "target": "userName"}])
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.fixture
def idm(idm):
    """conftest's recon IDM with MAPPING and six persons."""
    put_mappings(idm, MAPPING)
    for i in range(6):
        create(idm, "managed/person", {"userName": f"p{i}"})
    return idm


def slow(idm, seconds):
    idm.server.recon.entry_delay = seconds


def poll(idm, recon_id, until, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        summary = idm.get(f"recon/{recon_id}").json()
        if until(summary) or time.monotonic() > deadline:
            return summary
        time.sleep(0.02)


def test_async_start_shapes_and_completion(idm):
    slow(idm, 0.05)
    response = idm.request("POST", "recon?_action=recon&mapping=person_user")
    assert response.status_code == 200
    started = response.json()
    assert set(started) == {"_id", "state"} and started["state"] == "ACTIVE"
    running = poll(idm, started["_id"], lambda s: s["stage"] == "ACTIVE_RECONCILING_SOURCE")
    assert running["state"] == "ACTIVE" and running["ended"] == ""
    assert running["stageDescription"] == "reconciling source entries"
    listed = idm.get("recon").json()
    assert [r["_id"] for r in listed["reconciliations"]] == [started["_id"]]
    done = poll(idm, started["_id"], lambda s: s["state"] != "ACTIVE")
    assert done["state"] == "SUCCESS" and done["stage"] == "COMPLETED_SUCCESS"
    assert done["stageDescription"] == "reconciliation completed."
    assert set(done) == {
        "_id",
        "mapping",
        "state",
        "stage",
        "stageDescription",
        "progress",
        "situationSummary",
        "statusSummary",
        "durationSummary",
        "parameters",
        "started",
        "ended",
        "duration",
    }
    # Every situation IDM 7.x reports, as the collection knows them (it reads this summary).
    assert set(done["situationSummary"]) == set(_vocabulary.SITUATIONS)
    progress = done["progress"]
    assert progress["source"]["existing"] == {"processed": 6, "total": "6"}
    assert progress["target"]["existing"]["total"] == "0"
    assert set(progress["target"]) == {"existing", "created", "updated", "unchanged", "deleted"}
    assert progress["links"]["created"] == 6
    assert done["statusSummary"] == {"SUCCESS": 6, "FAILURE": 0}
    assert done["started"].endswith("Z") and done["ended"].endswith("Z") and done["duration"] >= 0
    assert {"count", "sum", "min", "max", "mean", "stdDev"} == set(done["durationSummary"]["sourceQuery"])
    assert done["parameters"]["sourceQuery"]["resourceName"] == "managed/person"


def test_request_errors(idm):
    def post(query):
        response = idm.request("POST", "recon?" + query)
        return response.status_code, response.json().get("message", "")

    # IDM: the mapping parameter is required() (400), an unknown mapping is a SynchronizationException (409)
    assert post("_action=recon") == (400, "/mapping: Expecting a value")
    assert post("_action=recon&mapping=nope") == (409, "No such mapping: nope")
    assert post("_action=explode&mapping=person_user")[0] == 400
    assert post("_action=reconById&mapping=person_user")[0] == 400
    assert post("_action=recon&mapping=person_user&analyze=true")[0] == 400
    assert idm.get("recon/not-a-run").status_code == 404
    assert idm.request("POST", "recon/not-a-run?_action=cancel").status_code == 404


def test_wait_for_completion_throwing_run_is_409(idm):
    put_mappings(idm, dict(MAPPING, sourceQuery={"_queryFilter": "this is not a filter ("}))
    response = idm.request("POST", "recon?_action=recon&mapping=person_user&waitForCompletion=true")
    assert response.status_code == 409
    assert response.json() == {"code": 409, "reason": "Conflict", "message": "Synchronization failed"}
    runs = idm.get("recon").json()["reconciliations"]
    assert runs[-1]["state"] == "FAILED" and runs[-1]["stage"] == "COMPLETED_FAILED"


def test_cancel(idm):
    slow(idm, 0.2)
    started = idm.request("POST", "recon?_action=recon&mapping=person_user").json()
    poll(idm, started["_id"], lambda s: s["progress"]["source"]["existing"]["processed"] >= 1)
    cancel = idm.request("POST", f"recon/{started['_id']}?_action=cancel")
    assert cancel.status_code == 200
    assert cancel.json() == {"_id": started["_id"], "action": "cancel", "status": "SUCCESS"}
    done = poll(idm, started["_id"], lambda s: s["state"] != "ACTIVE")
    assert done["state"] == "CANCELED" and done["stage"] == "COMPLETED_CANCELED"
    assert done["stageDescription"] == "reconciliation aborted."
    assert done["progress"]["source"]["existing"]["processed"] < 6


def test_second_run_of_an_active_mapping_starts_anyway(idm):
    slow(idm, 0.05)
    first = idm.request("POST", "recon?_action=recon&mapping=person_user").json()
    second = idm.request("POST", "recon?_action=recon&mapping=person_user").json()
    assert first["_id"] != second["_id"] and second["state"] == "ACTIVE"
    for recon_id in (first["_id"], second["_id"]):
        poll(idm, recon_id, lambda s: s["state"] != "ACTIVE")


def test_analyze_changes_nothing_and_records_associations(idm):
    summary = recon(idm, "person_user", analyze="true", persistAssociations="true")
    assert situations(summary) == {"ABSENT": 6}
    assert summary["progress"]["target"]["created"] == 0 and summary["progress"]["links"]["created"] == 0
    assert managed(idm, "managed/user") == []
    assoc = idm.get("recon/assoc").json()
    assert [a["_id"] for a in assoc["result"]] == [summary["_id"]]
    one = idm.get(f"recon/assoc/{summary['_id']}").json()
    assert one["isAnalysis"] is True and one["mapping"] == "person_user" and one["totalEntries"] == 6
    assert one["sourceResourceCollection"] == "managed/person"
    entries = idm.get(f"recon/assoc/{summary['_id']}/entry", params={"_queryFilter": 'situation eq "ABSENT"'})
    assert entries.status_code == 200
    rows = entries.json()["result"]
    assert len(rows) == 6 and {r["action"] for r in rows} == {"CREATE"} and rows[0]["isAnalysis"] is True
    real = recon(idm, "person_user", persistAssociations="true")
    assert real["progress"]["target"]["created"] == 6
    assert idm.get(f"recon/assoc/{real['_id']}").json()["isAnalysis"] is False
    assert idm.get("recon/assoc/unknown").status_code == 404


def test_purge(idm):
    summary = recon(idm, "person_user", analyze="true", persistAssociations="true")
    response = idm.request("DELETE", f"recon/{summary['_id']}")
    assert response.status_code == 200 and response.json()["_id"] == summary["_id"]
    assert idm.get(f"recon/{summary['_id']}").status_code == 404
    assert idm.get(f"recon/assoc/{summary['_id']}").status_code == 404
    assert idm.get("audit/recon", params={"_queryFilter": f'reconId eq "{summary["_id"]}"'}).json()["result"] == []


def _start_process(state_dir, env):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox.idm",
            "--port",
            "0",
            "--state-dir",
            str(state_dir),
            "--connector-start-delay",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=REPO_ROOT,
    )
    line = process.stdout.readline()
    assert line.startswith("ready "), line
    return process, line.split()[1] + "/openidm"


def test_history_survives_restart_and_killed_active_run_is_failed(tmp_path):
    env = dict(os.environ, IDM_SANDBOX_RECON_ENTRY_DELAY="0.3", IDM_SANDBOX_READINGS="implicit_sync=off")
    session = requests.Session()
    session.headers.update({"X-OpenIDM-Username": "openidm-admin", "X-OpenIDM-Password": "openidm-admin"})
    process, base = _start_process(tmp_path, env)
    try:
        session.put(f"{base}/config/managed", json=MINIMAL_MANAGED).raise_for_status()
        session.put(f"{base}/config/sync?waitForCompletion=true", json={"mappings": [MAPPING]}).raise_for_status()
        for i in range(2):
            session.post(f"{base}/managed/person?_action=create", json={"userName": f"k{i}"}).raise_for_status()
        done = session.post(f"{base}/recon?_action=recon&mapping=person_user&waitForCompletion=true").json()
        active = session.post(f"{base}/recon?_action=recon&mapping=person_user").json()
        deadline = time.monotonic() + 10
        while (
            session.get(f"{base}/recon/{active['_id']}").json()["progress"]["source"]["existing"]["processed"] < 1
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        time.sleep(0.1)
        process.kill()  # a crash: no clean shutdown
        process.wait(10)
        process, base = _start_process(tmp_path, env)
        runs = {r["_id"]: r for r in session.get(f"{base}/recon").json()["reconciliations"]}
        assert runs[done["_id"]]["state"] == "SUCCESS"
        assert runs[done["_id"]]["progress"]["target"]["created"] == 2
        killed = runs[active["_id"]]
        assert killed["state"] == "FAILED" and killed["stage"] == "COMPLETED_FAILED" and killed["ended"] != ""
        assert session.get(f"{base}/recon/{done['_id']}").json()["situationSummary"]["ABSENT"] == 2
    finally:
        session.close()
        process.kill()
        process.wait(10)


def test_audit_recon_events(idm):
    summary = recon(idm, "person_user")
    events = idm.get("audit/recon", params={"_queryFilter": f'reconId eq "{summary["_id"]}"'}).json()["result"]
    assert events[0]["entryType"] == "start" and events[-1]["entryType"] == "summary"
    assert events[0]["message"] == "Reconciliation initiated by openidm-admin"
    assert events[-1]["messageDetail"]["_id"] == summary["_id"]
    entries = [e for e in events if e["entryType"] == "entry"]
    assert len(entries) == 6
    entry = entries[0]
    for field in (
        "_id",
        "transactionId",
        "timestamp",
        "eventName",
        "userId",
        "reconId",
        "mapping",
        "entryType",
        "reconAction",
        "reconciling",
        "action",
        "situation",
        "status",
        "sourceObjectId",
        "targetObjectId",
        "linkQualifier",
        "ambiguousTargetObjectIds",
        "message",
        "messageDetail",
        "exception",
    ):
        assert field in entry
    assert entry["eventName"] == "recon" and entry["reconciling"] == "source" and entry["action"] == "CREATE"
    assert entry["sourceObjectId"].startswith("managed/person/")
    assert entry["targetObjectId"].startswith("managed/user/")
    one = idm.get(f"audit/recon/{entry['_id']}").json()
    assert one == entry
    page = idm.get(
        "audit/recon", params={"_queryFilter": 'situation eq "ABSENT"', "_pageSize": 4, "_fields": "situation"}
    ).json()
    assert (
        len(page["result"]) == 4
        and page["pagedResultsCookie"]
        and set(page["result"][0]) <= {"_id", "_rev", "situation"}
    )
    assert idm.get("audit/access", params={"_queryFilter": "true"}).status_code == 404
