"""The sandbox IDM behaves like IDM on the points of the fidelity audit (shared/reference/idm-fidelity-audit.md)
that are not about what a reconciliation decides: error texts, connector routes, the recon list and cancel, the
``durationSummary`` metric names, ``waitForCompletion`` on config writes, and the readings themselves (the sync
points are in test_fidelity.py)."""

from __future__ import annotations

import time

from sandbox.tests.idm.sync_helpers import (
    PERSON_USER,
    connector_status,
    create,
    js,
    put_config,
    put_mappings,
    recon,
    scim_provisioner,
)

# ---- A8: error messages are HTML-escaped ---------------------------------------------------------------------------


def test_error_messages_are_html_escaped(idm):
    answer = idm.get("nosuchendpoint")
    assert answer.status_code == 404
    assert answer.json()["message"] == "Resource &#39;nosuchendpoint&#39; not found"


# ---- A9: disabled and starting connectors ----------------------------------------------------------------------------


def test_disabled_connector_has_no_route_and_starting_one_answers_503(idm_server_factory, provider):
    idm = idm_server_factory(connector_start_delay=1.5)
    put_config(idm, "provisioner.openicf/off", dict(scim_provisioner(provider), enabled=False))
    assert idm.request("POST", "system/off?_action=test").status_code == 404
    assert idm.get("system/off/account", params={"_queryFilter": "true"}).status_code == 404
    listed = idm.request("POST", "system?_action=test").json()
    assert listed == [connector_status("off", enabled=False, started=False)]
    put_config(idm, "provisioner.openicf/scim", scim_provisioner(provider), wait=False)
    starting = idm.request("POST", "system/scim?_action=test").json()
    assert starting["ok"] is False and starting["error"] == "connector not available"
    assert idm.get("system/scim/account", params={"_queryFilter": "true"}).status_code == 503
    assert idm.get("system/ghost/account", params={"_queryFilter": "true"}).status_code == 404


# ---- A10: recon list and cancel --------------------------------------------------------------------------------------


def test_recon_list_has_empty_id_and_cancel_is_immediate(idm):
    put_mappings(idm, PERSON_USER)
    for i in range(4):
        create(idm, "managed/person", {"userName": f"slow{i}"})
    done = recon(idm, "person_user")
    idm.server.recon.entry_delay = 0.3
    started = idm.request("POST", "recon?_action=recon&mapping=person_user").json()
    assert idm.request("POST", f"recon/{started['_id']}?_action=cancel").json()["status"] == "SUCCESS"
    assert idm.get(f"recon/{started['_id']}").json()["stage"] in ("ACTIVE_CANCELING", "COMPLETED_CANCELED")
    deadline = time.monotonic() + 10
    while idm.get(f"recon/{started['_id']}").json()["state"] == "ACTIVE" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert idm.get(f"recon/{started['_id']}").json()["stage"] == "COMPLETED_CANCELED"
    # a completed run is left alone, the answer is SUCCESS all the same
    assert idm.request("POST", f"recon/{done['_id']}?_action=cancel").json()["status"] == "SUCCESS"
    assert idm.get(f"recon/{done['_id']}").json()["state"] == "SUCCESS"
    listing = idm.get("recon").json()
    assert list(listing) == ["_id", "reconciliations"] and listing["_id"] == ""
    idm.server.recon.entry_delay = 0
    idm.restart()  # runs of an earlier process are not in IDM's memory: cancel is 404
    assert idm.request("POST", f"recon/{done['_id']}?_action=cancel").status_code == 404
    assert idm.get(f"recon/{done['_id']}").json()["state"] == "SUCCESS"


# ---- A10.5: a failing result script fails the run ----------------------------------------------------------------


def test_failing_result_script_fails_the_run_after_its_entries(idm):
    put_mappings(idm, dict(PERSON_USER, result=js("throw 'no report today';")))
    create(idm, "managed/person", {"userName": "rita"})
    answer = idm.request("POST", "recon?_action=recon&mapping=person_user&waitForCompletion=true")
    assert answer.status_code == 409 and answer.json()["message"] == "Synchronization failed", answer.text
    run = idm.get("recon").json()["reconciliations"][-1]
    assert (run["state"], run["stage"]) == ("FAILED", "COMPLETED_FAILED")
    assert run["progress"]["target"]["created"] == 1
    put_mappings(idm, dict(PERSON_USER, result=js("null;")))
    assert "resultScript" in recon(idm, "person_user")["durationSummary"]


# ---- durationSummary metric names ------------------------------------------------------------------------------------

IDM_DURATION_METRICS = {
    "activePolicyPostActionScript",
    "activePolicyScript",
    "auditLog",
    "correlationQuery",
    "correlationScript",
    "defaultMappingScript",
    "deleteLinkObject",
    "deleteTargetObject",
    "linkQualifiersScript",
    "linkQuery",
    "onCreateScript",
    "onDeleteScript",
    "onLinkScript",
    "onReconScript",
    "onUnlinkScript",
    "onUpdateScript",
    "postMappingScript",
    "propertyMappingScript",
    "resultScript",
    "sourceLinkQuery",
    "sourceObjectQuery",
    "sourcePhase",
    "sourceQuery",
    "targetLinkQuery",
    "targetObjectQuery",
    "targetPhase",
    "targetQuery",
    "updateTargetObject",
    "validSourceScript",
    "validTargetScript",
}


def test_duration_metrics_are_idms(idm):
    put_mappings(
        idm,
        dict(
            PERSON_USER,
            onCreate=js("target.made = true;"),
            policies=[{"situation": "SOURCE_MISSING", "action": "DELETE"}],
        ),
    )
    gone = create(idm, "managed/person", {"userName": "h1"})
    create(idm, "managed/person", {"userName": "h2"})
    recon(idm, "person_user")
    idm.request("DELETE", f"managed/person/{gone['_id']}")
    summary = recon(idm, "person_user")
    first = recon(idm, "person_user")
    for run in (summary, first):
        assert set(run["durationSummary"]) <= IDM_DURATION_METRICS, set(run["durationSummary"])
    assert "deleteTargetObject" in summary["durationSummary"] and "deleteLinkObject" in summary["durationSummary"]


# ---- A16: waitForCompletion on config writes ----------------------------------------------------------------------


def test_config_wait_sync_and_ignored(idm_server_factory, provider):
    waits = idm_server_factory(connector_start_delay=2)
    put_config(waits, "provisioner.openicf/scim", scim_provisioner(provider), wait=True)
    assert waits.request("POST", "system/scim?_action=test").json()["ok"] is True
    ignores = idm_server_factory(connector_start_delay=2, readings={"config_wait": "ignored"})
    put_config(ignores, "provisioner.openicf/scim", scim_provisioner(provider), wait=True)
    assert ignores.request("POST", "system/scim?_action=test").json()["error"] == "connector not available"


# ---- readings -------------------------------------------------------------------------------------------------


def test_readings_are_reported_and_alt_flips_the_unconfirmed_ones(idm_server_factory):
    default = idm_server_factory().get("__sandbox/readings").json()
    assert default == {
        "recon_target_fields": "default",
        "exception_status": "success",
        "connector_metadata": "strict",
        "config_wait": "sync",
        "implicit_sync": "on",
        "role_required": "name",
        "undeclared_properties": "stored",
    }
    alt = idm_server_factory(readings=["alt", "config_wait=sync"]).get("__sandbox/readings").json()
    assert alt == dict(default, recon_target_fields="mapped", exception_status="failure", connector_metadata="lenient")
