# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""recon module against a fake recon server at the requests layer (conftest's fake_idm + FakeRecon)."""

from __future__ import annotations

import copy
import itertools
import re
from datetime import UTC, datetime

import pytest
import requests

from ansible_collections.idmops.pingidm.plugins.module_utils import _vocabulary
from ansible_collections.idmops.pingidm.plugins.modules import recon as recon_module
from ansible_collections.idmops.pingidm.tests.unit.conftest import ADMIN_PASSWORD, SITUATIONS_5X, crest_error

MAPPING = "systemScimAccount_managedUser"
OTHER = "managedUser_systemScimAccount"


def iso_now():
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (datetime.now(UTC).microsecond // 1000)


class Outcome:
    """What a started run does: ``active_polls`` GETs answer ACTIVE, then ``state`` with these counters."""

    def __init__(
        self,
        active_polls=2,
        state="SUCCESS",
        created=0,
        updated=0,
        unchanged=0,
        deleted=0,
        links=0,
        failures=0,
        situations=None,
        shape="7x",
        exceptions=None,
        failure_entries=None,
        duration=None,
    ):
        """``failures`` real write failures (audit entries ``failure_entries``, else CONFIRMED/UPDATE ones);
        ``exceptions`` situation -> count of entries whose action is EXCEPTION, counted as FAILURE or SUCCESS
        after the server's ``exception_status`` reading."""
        self.active_polls = active_polls
        self.exceptions = exceptions or {}
        self.failure_entries = failure_entries
        self.duration = duration
        self.state = state
        self.created, self.updated, self.unchanged, self.deleted = created, updated, unchanged, deleted
        self.links, self.failures = links, failures
        self.situations = situations or {}
        self.shape = shape


class FakeRecon:
    """IDM's /recon endpoints on top of conftest's FakeIdm.

    ``next_outcomes`` is consumed by each start (the last one repeats). ``list_shape`` chooses the ``GET recon``
    answer: ``wrapped`` ({"reconciliations": [...]}) or ``bare`` (a list).
    """

    def __init__(self, fake_idm, mappings=(MAPPING, OTHER)):
        self.fake = fake_idm
        self.runs = {}  # id -> {"summary": dict, "outcome": Outcome, "polls": int, "params": dict}
        self.order = []
        self.next_outcomes = [Outcome()]
        self.list_shape = "wrapped"
        self.counter = itertools.count(1)
        self.lose_start_response = 0  # the next N starts create the run, then the connection drops
        self.cancel_ends_as = "CANCELED"  # what an ACTIVE run becomes on cancel (it may just have finished)
        self.exception_status = "success"  # IDM's reading: EXCEPTION entries count as SUCCESS | "failure"
        self.audit_status = 200  # 403/404: audit/recon not readable
        self.audit = {}  # run id -> audit entry events
        self.audit_queries = []
        fake_idm.configs["sync"] = {"mappings": [{"name": name, "source": "s", "target": "t"} for name in mappings]}
        fake_idm.route("POST", r"recon", self._start)
        fake_idm.route("GET", r"recon", self._list)
        fake_idm.route("GET", r"recon/(?P<id>[^/]+)", self._get)
        fake_idm.route("POST", r"recon/(?P<id>[^/]+)", self._action)
        fake_idm.route("GET", r"audit/recon", self._audit)

    # helpers for tests ----------------------------------------------------------------------------------
    def add_run(self, mapping, outcome, started=None):
        run_id = "run-%d" % next(self.counter)
        summary = {
            "_id": run_id,
            "mapping": mapping,
            "state": "ACTIVE",
            "stage": "ACTIVE_RECONCILING_SOURCE",
            "stageDescription": "reconciling source entries",
            "started": started or iso_now(),
            "ended": "",
            "duration": 10,
            "progress": {
                "source": {"existing": {"processed": 0, "total": "?"}},
                "target": {"existing": {"processed": 0, "total": "?"}, "created": 0},
                "links": {"existing": {"processed": 0, "total": "?"}, "created": 0},
            },
            "situationSummary": {},
            "statusSummary": {"SUCCESS": 0, "FAILURE": 0},
        }
        self.runs[run_id] = {"summary": summary, "outcome": outcome, "polls": 0, "params": {}, "body": None}
        self.order.append(run_id)
        return run_id

    def starts(self):
        return [c for c in self.fake.calls if c[0] == "POST" and c[1] == "recon"]

    def cancels(self):
        return [c for c in self.fake.calls if c[0] == "POST" and c[1].startswith("recon/")]

    # routes -----------------------------------------------------------------------------------------
    def _start(self, fake, request, match):
        if request.action not in ("recon", "reconById"):
            return crest_error(400, "Action %s on reconciliation not supported" % request.action)
        mapping = request.params.get("mapping")
        names = [m["name"] for m in fake.configs["sync"]["mappings"]]
        if mapping not in names:
            return crest_error(400, "Mapping %s not found" % mapping)
        outcome = self.next_outcomes.pop(0) if len(self.next_outcomes) > 1 else self.next_outcomes[0]
        run_id = self.add_run(mapping, outcome)
        self.runs[run_id]["params"] = dict(request.params)
        self.runs[run_id]["body"] = request.body
        if self.lose_start_response:
            self.lose_start_response -= 1
            raise requests.exceptions.ConnectionError("Connection aborted: RemoteDisconnected")
        return 200, {"_id": run_id, "state": "ACTIVE"}

    def _list(self, fake, request, match):
        runs = [copy.deepcopy(self.runs[i]["summary"]) for i in self.order]
        return 200, runs if self.list_shape == "bare" else {"reconciliations": runs}

    def _get(self, fake, request, match):
        run = self.runs.get(match.group("id"))
        if run is None:
            return crest_error(404, "Reconciliation with id %s not found." % match.group("id"))
        if run["summary"]["state"] == "ACTIVE":
            if run["polls"] >= run["outcome"].active_polls:
                self._finish(run, run["outcome"].state)
            else:
                run["polls"] += 1
                run["summary"]["duration"] += 100
        return 200, copy.deepcopy(run["summary"])

    def _action(self, fake, request, match):
        run = self.runs.get(match.group("id"))
        if run is None:
            return crest_error(404, "Reconciliation with id %s not found." % match.group("id"))
        if request.action != "cancel":
            return crest_error(400, "Unsupported action")
        if run["summary"]["state"] == "ACTIVE":
            self._finish(run, self.cancel_ends_as)
        return 200, {"_id": match.group("id"), "action": "cancel", "status": "SUCCESS"}

    def _audit(self, fake, request, match):
        if self.audit_status != 200:
            return crest_error(self.audit_status, "Access denied" if self.audit_status == 403 else "Not Found")
        query = request.params["_queryFilter"]
        self.audit_queries.append(query)
        found = re.fullmatch(r'reconId eq "([^"]+)" and (status|action) eq "([A-Z]+)"', query)
        assert found, query
        entries = [e for e in self.audit.get(found.group(1), []) if e[found.group(2)] == found.group(3)]
        page = entries[: int(request.params.get("_pageSize", 1000))]
        return 200, {"result": page, "resultCount": len(page), "pagedResultsCookie": None}

    def _finish(self, run, state):
        outcome = run["outcome"]
        summary = run["summary"]
        total = outcome.created + outcome.updated + outcome.unchanged + outcome.failures
        target = {"existing": {"processed": 0, "total": "0"}, "created": outcome.created}
        if outcome.shape == "7x":
            target.update(updated=outcome.updated, unchanged=outcome.unchanged, deleted=outcome.deleted)
            situations = dict.fromkeys(_vocabulary.SITUATIONS, 0)
        else:
            situations = dict.fromkeys(SITUATIONS_5X, 0)
        situations.update(outcome.situations)
        situations.update(outcome.exceptions)
        exceptions = sum(outcome.exceptions.values())
        failed = outcome.failures + (exceptions if self.exception_status == "failure" else 0)
        total += exceptions
        events = [
            dict(entry, reconId=summary["_id"], entryType="entry", status="FAILURE")
            for entry in outcome.failure_entries
            or [
                {
                    "situation": "CONFIRMED",
                    "action": "UPDATE",
                    "sourceObjectId": "managed/user/u%d" % n,
                    "targetObjectId": "system/scim/account/a%d" % n,
                    "message": "400 invalidPath %d" % n,
                }
                for n in range(outcome.failures)
            ]
        ]
        flagged = [
            {
                "reconId": summary["_id"],
                "entryType": "entry",
                "situation": situation,
                "action": "EXCEPTION",
                "status": "FAILURE" if self.exception_status == "failure" else "SUCCESS",
                "sourceObjectId": "managed/user/%s%d" % (situation.lower(), n),
                "message": "Situation %s marked as EXCEPTION" % situation,
            }
            for situation, count in sorted(outcome.exceptions.items())
            for n in range(count)
        ]
        # in the order IDM writes them: the flagged entries first (source phase), then the failures
        self.audit[summary["_id"]] = [
            {"reconId": summary["_id"], "entryType": "start", "status": "SUCCESS", "action": None},
            *flagged,
            *events,
        ]
        summary.update(
            state=state,
            stage="COMPLETED_" + state,
            stageDescription={
                "SUCCESS": "reconciliation completed.",
                "FAILED": "reconciliation failed",
                "CANCELED": "reconciliation aborted.",
            }[state],
            ended=iso_now(),
            duration=outcome.duration if outcome.duration is not None else summary["duration"] + 50,
            progress={
                "source": {"existing": {"processed": total, "total": str(total)}},
                "target": target,
                "links": {"existing": {"processed": 0, "total": "0"}, "created": outcome.links},
            },
            situationSummary=situations,
            statusSummary={"SUCCESS": total - failed, "FAILURE": failed},
        )


@pytest.fixture
def recon_server(fake_idm):
    return FakeRecon(fake_idm)


@pytest.fixture
def args(idm_args):
    def make(**kwargs):
        merged = dict(idm_args, mapping=MAPPING)
        merged.update(kwargs)
        return merged

    return make


# --- happy paths ---------------------------------------------------------------------------------------


def test_active_then_success_reports_counters_and_changed(run_module, args, recon_server, virtual_clock):
    recon_server.next_outcomes = [Outcome(active_polls=3, created=50, links=50, situations={"ABSENT": 50})]
    result = run_module(recon_module, args())
    assert result["failed"] is False and result["changed"] is True
    recon = result["recon"]
    assert recon["state"] == "SUCCESS" and recon["stage"] == "COMPLETED_SUCCESS"
    assert recon["counters"]["created"] == 50 and recon["counters"]["links_created"] == 50
    assert recon["situation_summary"] == {"ABSENT": 50}
    assert recon["summary"].startswith(MAPPING + ": 50 created, 0 updated, 0 deleted, 0 failed in ")
    assert result["msg"] == recon["summary"]
    # the first poll after one backoff step (a run just started is active), then 3 ACTIVE answers -> 3 sleeps on the
    # fast start of the backoff schedule
    assert virtual_clock.sleeps == pytest.approx([0.1, 0.1, 0.15, 0.225])
    assert recon_server.starts()[0][2] == {"_action": "recon", "mapping": MAPPING}
    assert ADMIN_PASSWORD not in result.raw_output


@pytest.mark.parametrize("previous_ms, first_wait", [(200, 0.22), (2500, 0.3)])
def test_a_second_run_polls_after_the_previous_runs_duration(
    run_module, args, recon_server, virtual_clock, previous_ms, first_wait
):
    recon_server.next_outcomes = [Outcome(active_polls=1, duration=previous_ms), Outcome(active_polls=0)]
    run_module(recon_module, args())
    virtual_clock.sleeps.clear()
    calls_before = len(recon_server.fake.calls)
    result = run_module(recon_module, args())
    assert result["failed"] is False
    # A short previous run: one wait a little longer than it; a longer one: at most 0.3 s (a re-run that writes
    # nothing is often much shorter). Then one GET finds this run ended: no backoff steps in between.
    assert virtual_clock.sleeps == pytest.approx([first_wait])
    reads = [
        call for call in recon_server.fake.calls[calls_before:] if call[0] == "GET" and call[1].startswith("recon/")
    ]
    assert len(reads) == 1


def test_a_single_object_run_is_polled_from_the_start_of_the_backoff(run_module, args, recon_server, virtual_clock):
    # reconById takes a fraction of a whole mapping's run: the previous run's duration does not delay its poll.
    recon_server.next_outcomes = [Outcome(active_polls=1, duration=2500), Outcome(active_polls=0)]
    run_module(recon_module, args())
    virtual_clock.sleeps.clear()
    assert run_module(recon_module, args(source_id="abc-123"))["failed"] is False
    assert virtual_clock.sleeps == pytest.approx([0.1])


def test_nothing_written_is_not_changed(run_module, args, recon_server):
    recon_server.next_outcomes = [Outcome(unchanged=50, situations={"CONFIRMED": 50})]
    result = run_module(recon_module, args())
    assert result["failed"] is False and result["changed"] is False
    assert result["recon"]["counters"]["unchanged"] == 50
    assert result["recon"]["change_basis"] == "counters"


@pytest.mark.parametrize("kwargs", [dict(updated=1), dict(deleted=2), dict(links=1)])
def test_updates_deletes_links_are_changes(run_module, args, recon_server, kwargs):
    recon_server.next_outcomes = [Outcome(**kwargs)]
    assert run_module(recon_module, args())["changed"] is True


def test_source_id_uses_recon_by_id_with_id_and_ids(run_module, args, recon_server):
    result = run_module(recon_module, args(source_id="abc-123"))
    assert result["failed"] is False
    params = recon_server.starts()[0][2]
    assert params == {"_action": "reconById", "mapping": MAPPING, "id": "abc-123", "ids": "abc-123"}


def test_overrides_are_sent_as_body(run_module, args, recon_server):
    run_module(recon_module, args(overrides={"runTargetPhase": False}))
    assert recon_server.starts()[0][3] == {"runTargetPhase": False}


def test_wait_false_returns_after_start(run_module, args, recon_server, virtual_clock):
    recon_server.next_outcomes = [Outcome(active_polls=100)]
    result = run_module(recon_module, args(wait=False))
    assert result["failed"] is False and result["changed"] is True
    assert result["recon"]["state"] == "ACTIVE" and result["recon"]["id"] == "run-1"
    assert virtual_clock.sleeps == []


# --- 5.x shape -----------------------------------------------------------------------------------------


def test_5x_summary_created_counter(run_module, args, recon_server):
    recon_server.next_outcomes = [Outcome(shape="5x", created=2, links=2, situations={"ABSENT": 2})]
    result = run_module(recon_module, args())
    assert result["changed"] is True
    assert result["recon"]["counters"]["updated"] is None
    assert "2 created, ? updated, ? deleted" in result["recon"]["summary"]


def test_5x_summary_confirmed_only_is_not_changed(run_module, args, recon_server):
    recon_server.next_outcomes = [Outcome(shape="5x", situations={"CONFIRMED": 2})]
    result = run_module(recon_module, args())
    assert result["changed"] is False and result["recon"]["change_basis"] == "situations"


def test_5x_summary_delete_policy_from_mapping_config(run_module, args, recon_server, fake_idm):
    fake_idm.configs["sync"]["mappings"][0]["policies"] = [{"situation": "SOURCE_MISSING", "action": "DELETE"}]
    recon_server.next_outcomes = [Outcome(shape="5x", situations={"SOURCE_MISSING": 3})]
    result = run_module(recon_module, args())
    assert result["changed"] is True
    assert result["recon"]["implied_changes"] == ["SOURCE_MISSING:DELETE"]
    # the mapping's policies came from one config query of both storages
    queries = [call[2].get("_queryFilter") for call in fake_idm.calls_to("GET", "config")]
    assert queries == ['_id eq "sync" or _id sw "mapping/"']


# --- failed / canceled / entry failures ------------------------------------------------------------------


def test_failed_run_fails_the_task_with_the_run(run_module, args, recon_server):
    recon_server.next_outcomes = [Outcome(state="FAILED")]
    result = run_module(recon_module, args())
    assert result["failed"] is True and result["changed"] is False
    assert "FAILED" in result["msg"] and "run-1" in result["msg"]
    assert result["recon"]["state"] == "FAILED"


def test_failed_run_accepted_when_not_in_fail_on(run_module, args, recon_server):
    recon_server.next_outcomes = [Outcome(state="FAILED")]
    result = run_module(recon_module, args(fail_on=["canceled"]))
    assert result["failed"] is False and result["recon"]["state"] == "FAILED"


def test_canceled_run_fails(run_module, args, recon_server):
    recon_server.next_outcomes = [Outcome(state="CANCELED", created=1, links=1)]
    result = run_module(recon_module, args())
    assert result["failed"] is True and "CANCELED" in result["msg"]
    assert result["changed"] is True  # it created something before it was canceled


def test_entry_failures_only_fail_when_asked(run_module, args, recon_server):
    recon_server.next_outcomes = [Outcome(failures=2, unchanged=3)]
    assert run_module(recon_module, args())["failed"] is False
    result = run_module(recon_module, args(fail_on=["failed", "entry_failures"]))
    assert result["failed"] is True and "2 entries failed" in result["msg"]


# --- timeouts ------------------------------------------------------------------------------------------


def test_timeout_cancels_the_run(run_module, args, recon_server, virtual_clock):
    recon_server.next_outcomes = [Outcome(active_polls=10**6)]
    result = run_module(recon_module, args(wait_timeout=5))
    assert result["failed"] is True
    assert "did not end within 5 s" in result["msg"] and "canceled" in result["msg"]
    assert result["recon"]["state"] == "CANCELED"
    assert [c[2]["_action"] for c in recon_server.cancels()] == ["cancel"]
    # the deadline, then one backoff step before the canceled run is read again
    assert virtual_clock.now - 1000.0 == pytest.approx(5.1)


def test_timeout_without_cancel_leaves_it_running(run_module, args, recon_server):
    recon_server.next_outcomes = [Outcome(active_polls=10**6)]
    result = run_module(recon_module, args(wait_timeout=3, cancel_on_timeout=False))
    assert result["failed"] is True and "still running" in result["msg"]
    assert result["recon"]["state"] == "ACTIVE"
    assert recon_server.cancels() == []


def test_timeout_but_run_finished_before_the_cancel_is_reported_normally(run_module, args, recon_server):
    recon_server.next_outcomes = [Outcome(active_polls=10**6, created=2, links=2)]
    recon_server.cancel_ends_as = "SUCCESS"
    result = run_module(recon_module, args(wait_timeout=1))
    assert result["failed"] is False and result["changed"] is True
    assert result["recon"]["state"] == "SUCCESS" and len(recon_server.cancels()) == 1


# --- on_running ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["wrapped", "bare"])
def test_on_running_fail_names_the_active_run(run_module, args, recon_server, shape):
    recon_server.list_shape = shape
    running = recon_server.add_run(MAPPING, Outcome(active_polls=10**6))
    result = run_module(recon_module, args(on_running="fail"))
    assert result["failed"] is True and running in result["msg"] and "already running" in result["msg"]
    assert recon_server.starts() == []


def test_on_running_wait_adopts_the_active_run_without_starting_another(run_module, args, recon_server):
    running = recon_server.add_run(MAPPING, Outcome(active_polls=4, created=3))
    recon_server.add_run(OTHER, Outcome(active_polls=10**6))  # another mapping does not matter
    result = run_module(recon_module, args())
    assert result["failed"] is False and result["adopted"] is True and result["waited_for"] == [running]
    assert recon_server.starts() == []
    assert result["recon"]["id"] == running and result["recon"]["state"] == "SUCCESS"
    assert result["changed"] is True and result["recon"]["counters"]["created"] == 3


def test_on_running_queue_waits_then_starts(run_module, args, recon_server):
    running = recon_server.add_run(MAPPING, Outcome(active_polls=4))
    result = run_module(recon_module, args(on_running="queue"))
    assert result["failed"] is False and result["waited_for"] == [running] and result["adopted"] is False
    assert len(recon_server.starts()) == 1
    assert recon_server.runs[running]["summary"]["state"] == "SUCCESS"


def test_on_running_wait_times_out_without_canceling_foreign_run(run_module, args, recon_server):
    running = recon_server.add_run(MAPPING, Outcome(active_polls=10**6))
    result = run_module(recon_module, args(wait_timeout=4))
    assert result["failed"] is True and running in result["msg"] and "not canceled" in result["msg"]
    assert recon_server.starts() == [] and recon_server.cancels() == []


def test_on_running_start_starts_anyway(run_module, args, recon_server):
    recon_server.add_run(MAPPING, Outcome(active_polls=10**6))
    result = run_module(recon_module, args(on_running="start"))
    assert result["failed"] is False and len(recon_server.starts()) == 1 and result["waited_for"] == []


# --- start retry / adopt ---------------------------------------------------------------------------------


def test_start_5xx_without_a_started_run_is_retried(run_module, args, recon_server, fake_idm, virtual_clock):
    fake_idm.fail("POST", r"recon", 503, "busy", times=1)
    result = run_module(recon_module, args())
    assert result["failed"] is False and result["adopted"] is False
    assert len(recon_server.starts()) == 2
    assert len(recon_server.runs) == 1
    # between the two POSTs the module looked for a run it might have started
    methods = [(c[0], c[1]) for c in fake_idm.calls if c[1] == "recon"]
    assert methods == [("GET", "recon"), ("POST", "recon"), ("GET", "recon"), ("POST", "recon")]


def test_start_lost_response_adopts_the_started_run(run_module, args, recon_server):
    recon_server.lose_start_response = 1
    recon_server.next_outcomes = [Outcome(created=1, links=1)]
    result = run_module(recon_module, args())
    assert result["failed"] is False and result["adopted"] is True
    assert len(recon_server.starts()) == 1 and len(recon_server.runs) == 1
    assert result["recon"]["id"] == "run-1" and result["changed"] is True


def test_start_lost_response_with_on_running_start_adopts_by_time(run_module, args, recon_server):
    # an old finished run of the same mapping must not be adopted
    old = recon_server.add_run(MAPPING, Outcome(active_polls=0), started="2020-01-01T00:00:00.000Z")
    recon_server.runs[old]["summary"]["state"] = "SUCCESS"
    recon_server.lose_start_response = 1
    result = run_module(recon_module, args(on_running="start"))
    assert result["adopted"] is True and result["recon"]["id"] != old


def test_start_failing_every_time_reports_no_run_started(run_module, args, recon_server, fake_idm):
    fake_idm.fail("POST", r"recon", None)
    result = run_module(recon_module, args())
    assert result["failed"] is True
    assert "after 4 attempts" in result["msg"] and "no run was started" in result["msg"]
    assert len(recon_server.starts()) == 4 and recon_server.runs == {}


def test_start_4xx_is_not_retried(run_module, args, recon_server, fake_idm):
    fake_idm.fail("POST", r"recon", 403, "Access denied", times=1)
    result = run_module(recon_module, args())
    assert result["failed"] is True and "refused" in result["msg"] and "403" in result["msg"]
    assert len(recon_server.starts()) == 1


def test_unknown_mapping_lists_the_mappings(run_module, args, recon_server):
    result = run_module(recon_module, args(mapping="nope"))
    assert result["failed"] is True
    assert "Mapping 'nope' does not exist" in result["msg"]
    assert MAPPING in result["msg"] and OTHER in result["msg"]
    assert result["available_mappings"] == sorted([MAPPING, OTHER])


def test_lost_contact_while_waiting_keeps_the_run_id(run_module, args, recon_server, fake_idm):
    recon_server.next_outcomes = [Outcome(active_polls=5)]
    fake_idm.fail("GET", r"recon/run-1", None)
    result = run_module(recon_module, args())
    assert result["failed"] is True and "run-1" in result["msg"] and result["recon_id"] == "run-1"


def test_bad_credentials_fail_cleanly_without_the_password(run_module, args, recon_server):
    result = run_module(recon_module, args(password="wrong-Secr3t"))
    assert result["failed"] is True and "401" in result["msg"]
    assert "wrong-Secr3t" not in result.raw_output


# --- check mode ----------------------------------------------------------------------------------------


def test_check_mode_runs_analyze_dry_run(run_module, args, recon_server, fake_idm):
    recon_server.next_outcomes = [Outcome(situations={"ABSENT": 3, "CONFIRMED": 2})]
    result = run_module(recon_module, args(), check_mode=True)
    assert result["failed"] is False and result["changed"] is True
    params = recon_server.starts()[0][2]
    assert params["analyze"] == "true" and params["persistAssociations"] == "true"
    assert result["recon"]["dry_run"] is True
    assert result["recon"]["implied_changes"] == ["ABSENT:CREATE"]


def test_check_mode_dry_run_with_nothing_to_do(run_module, args, recon_server):
    recon_server.next_outcomes = [Outcome(situations={"CONFIRMED": 5})]
    result = run_module(recon_module, args(), check_mode=True)
    assert result["failed"] is False and result["changed"] is False


def test_check_mode_waits_for_a_running_recon_and_dry_runs_instead_of_adopting_it(run_module, args, recon_server):
    # The running (real) run is not this task's dry run: its counters would predict nothing.
    running = recon_server.add_run(MAPPING, Outcome(active_polls=2, created=3, links=3))
    recon_server.next_outcomes = [Outcome(situations={"CONFIRMED": 3})]
    result = run_module(recon_module, args(), check_mode=True)
    assert result["failed"] is False and result["adopted"] is False and result["waited_for"] == [running]
    assert [c[2].get("analyze") for c in recon_server.starts()] == ["true"]
    assert result["recon"]["dry_run"] is True and result["changed"] is False


def test_check_mode_on_old_server_is_skipped(run_module, args, recon_server, fake_idm):
    fake_idm.version["productVersion"] = "7.1.2"
    result = run_module(recon_module, args(), check_mode=True)
    assert result.get("skipped") is True and result["changed"] is False
    assert "7.1.2" in result["msg"] and "7.5" in result["msg"]
    assert recon_server.starts() == []


def test_check_mode_mapping_not_on_the_server_yet_counts_as_changed(run_module, args, recon_server):
    result = run_module(recon_module, args(mapping="newMapping"), check_mode=True)
    assert result["failed"] is False and result["changed"] is True and result["dry_run_skipped"] is True
    assert result["msg"] == (
        "Check mode: mapping 'newMapping' does not exist on the server yet: no dry run is "
        "possible; once created, its first run will write entries, so the recon counts as "
        "changed."
    )
    assert "recon" not in result and not result.warning_texts
    assert recon_server.starts() == []
    warned = run_module(recon_module, args(mapping="newMapping", changed_mappings=[MAPPING]), check_mode=True)
    assert warned["changed"] is True and warned.warning_texts == [
        "Mapping 'newMapping' does not exist on http://idm.test:8080/openidm and is not in changed_mappings; the "
        "real run fails unless this play creates it."
    ]


# --- mappings: several in order in one task ---------------------------------------------------------------


def list_args(args, *names, **kwargs):
    merged = args(**kwargs)
    del merged["mapping"]
    merged["mappings"] = list(names)
    return merged


def test_mappings_run_in_order_each_after_the_previous_ended(run_module, args, recon_server):
    recon_server.next_outcomes = [Outcome(created=2, links=2), Outcome(unchanged=3)]
    result = run_module(recon_module, list_args(args, MAPPING, OTHER))
    assert result["failed"] is False and result["changed"] is True
    assert [(e["mapping"], e["changed"], e["recon"]["state"]) for e in result["recons"]] == [
        (MAPPING, True, "SUCCESS"),
        (OTHER, False, "SUCCESS"),
    ]
    assert "recon" not in result and MAPPING in result["msg"] and OTHER in result["msg"]
    # the second start came after the first run's final poll
    calls = [(c[0], c[1], c[2].get("mapping")) for c in recon_server.fake.calls if c[1].startswith("recon")]
    second_start = calls.index(("POST", "recon", OTHER))
    assert calls.index(("GET", "recon/run-1", None)) < second_start
    assert recon_server.runs["run-1"]["summary"]["state"] == "SUCCESS"


def test_mappings_nothing_written_is_not_changed(run_module, args, recon_server):
    recon_server.next_outcomes = [Outcome(unchanged=3)]
    result = run_module(recon_module, list_args(args, MAPPING, OTHER))
    assert result["failed"] is False and result["changed"] is False and len(result["recons"]) == 2


def test_mappings_stop_at_the_first_failure_and_report_the_runs_so_far(run_module, args, fake_idm):
    third = "systemScimGroup_managedRole"
    server = FakeRecon(fake_idm, mappings=(MAPPING, OTHER, third))
    server.next_outcomes = [Outcome(created=1, links=1), Outcome(state="FAILED"), Outcome()]
    result = run_module(recon_module, list_args(args, MAPPING, OTHER, third))
    assert result["failed"] is True and result["changed"] is True  # the first run wrote something
    assert [e["mapping"] for e in result["recons"]] == [MAPPING, OTHER]
    assert result["recons"][1]["failed"] is True and result["recons"][1]["recon"]["state"] == "FAILED"
    assert "FAILED" in result["msg"] and OTHER in result["msg"] and "Not started: %s." % third in result["msg"]
    assert [c[2]["mapping"] for c in server.starts()] == [MAPPING, OTHER]


def test_mappings_unknown_name_fails_before_any_run_starts(run_module, args, recon_server):
    result = run_module(recon_module, list_args(args, MAPPING, "nope", OTHER))
    assert result["failed"] is True and "Mapping 'nope' does not exist" in result["msg"]
    assert result["available_mappings"] == sorted([MAPPING, OTHER])
    assert recon_server.starts() == [] and result["changed"] is False


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"mapping": MAPPING}, "mutually exclusive"),
        ({"source_id": "abc"}, "mutually exclusive"),
        ({"wait": False}, "needs wait=true"),
    ],
)
def test_mappings_refuses_options_that_do_not_fit(run_module, args, recon_server, extra, message):
    merged = list_args(args, MAPPING, OTHER)
    merged.update(extra)
    result = run_module(recon_module, merged)
    assert result["failed"] is True and message in result["msg"]
    assert recon_server.starts() == []


@pytest.mark.parametrize("names", [[], [MAPPING, ""]])
def test_mappings_empty_list_or_name_is_refused(run_module, args, recon_server, names):
    result = run_module(recon_module, list_args(args, *names))
    assert result["failed"] is True and "at least one mapping name" in result["msg"]
    assert recon_server.starts() == []


def test_neither_mapping_nor_mappings_is_refused(run_module, idm_args, recon_server):
    result = run_module(recon_module, dict(idm_args))
    assert result["failed"] is True and "one of the following is required: mapping, mappings" in result["msg"]


def test_mappings_check_mode_dry_runs_each(run_module, args, recon_server):
    recon_server.next_outcomes = [Outcome(situations={"CONFIRMED": 2}), Outcome(situations={"ABSENT": 1})]
    result = run_module(recon_module, list_args(args, MAPPING, OTHER), check_mode=True)
    assert result["failed"] is False and result["changed"] is True
    assert [e["changed"] for e in result["recons"]] == [False, True]
    assert all(c[2]["analyze"] == "true" for c in recon_server.starts())


def test_mappings_check_mode_on_old_server_is_skipped(run_module, args, recon_server, fake_idm):
    fake_idm.version["productVersion"] = "7.1.2"
    result = run_module(recon_module, list_args(args, MAPPING, OTHER), check_mode=True)
    assert result.get("skipped") is True and result["changed"] is False and "7.5" in result["msg"]
    assert [e["mapping"] for e in result["recons"]] == [MAPPING, OTHER]
    assert recon_server.starts() == [] and len(fake_idm.calls_to("GET", "info/version")) == 1


def test_mappings_adopt_a_run_already_active(run_module, args, recon_server):
    active = recon_server.add_run(MAPPING, Outcome(active_polls=1, created=1, links=1))
    result = run_module(recon_module, list_args(args, MAPPING, OTHER))
    assert result["failed"] is False
    assert result["recons"][0]["adopted"] is True and result["recons"][0]["recon"]["id"] == active
    assert [c[2]["mapping"] for c in recon_server.starts()] == [OTHER]


# --- entry failures, EXCEPTION situations and the audit (both readings of EXCEPTION) --------------------------


@pytest.fixture(params=["success", "failure"])
def reading(request, recon_server):
    """Both readings of IDM's statusSummary: EXCEPTION entries counted as SUCCESS (OpenIDM) or as FAILURE."""
    recon_server.exception_status = request.param
    return request.param


def test_real_failures_are_named_from_the_audit_under_both_readings(run_module, args, recon_server, reading):
    recon_server.next_outcomes = [Outcome(unchanged=3, failures=1, exceptions={"MISSING": 2})]
    result = run_module(recon_module, args())
    assert result["failed"] is False  # default fail_on: failed, canceled
    recon = result["recon"]
    assert recon["counters"]["failures"] == 1
    assert recon["status_summary"]["FAILURE"] == (3 if reading == "failure" else 1)
    assert recon["exception_situations"] == {"MISSING": 2}
    assert recon["failure_samples"] == [
        {
            "sourceObjectId": "managed/user/u0",
            "targetObjectId": "system/scim/account/a0",
            "situation": "CONFIRMED",
            "action": "UPDATE",
            "message": "400 invalidPath 0",
        }
    ]
    assert recon["summary"].startswith(
        MAPPING + ": 0 created, 0 updated, 0 deleted, 1 failed (CONFIRMED/UPDATE on "
        "account/a0: 400 invalidPath 0), flagged EXCEPTION: MISSING 2 in "
    )
    assert result.warning_texts == [
        "Recon run-1 of '%s': 1 entry failed: CONFIRMED/UPDATE on account/a0: 400 invalidPath 0. Add entry_failures "
        "to fail_on to fail the task on it." % MAPPING
    ]
    assert recon_server.audit_queries[0] == 'reconId eq "run-1" and status eq "FAILURE"'


def test_entry_failures_fail_the_task_with_the_first_two_messages(run_module, args, recon_server, reading):
    recon_server.next_outcomes = [Outcome(failures=3, exceptions={"AMBIGUOUS": 1})]
    result = run_module(recon_module, args(fail_on=["failed", "entry_failures"]))
    assert result["failed"] is True and result["changed"] is False and not result.warning_texts
    assert result["msg"].startswith(
        "Recon run-1 of '%s': 3 entries failed: CONFIRMED/UPDATE on account/a0: 400 invalidPath 0; CONFIRMED/UPDATE "
        "on account/a1: 400 invalidPath 1. %s: 0 created" % (MAPPING, MAPPING)
    )
    assert result["recon"]["counters"]["failures"] == 3


def test_exception_situations_fail_only_when_asked(run_module, args, recon_server, reading):
    recon_server.next_outcomes = [Outcome(unchanged=2, exceptions={"MISSING": 2, "AMBIGUOUS": 1})]
    passed = run_module(recon_module, args(fail_on=["failed", "canceled", "entry_failures"]))
    assert passed["failed"] is False and passed["recon"]["counters"]["failures"] == 0
    assert passed["recon"]["failure_samples"] == []
    failed = run_module(recon_module, args(fail_on=["exception_situations"]))
    assert failed["failed"] is True
    assert "3 entries in situations the mapping marks EXCEPTION (AMBIGUOUS 1, MISSING 2)" in failed["msg"]


def test_exception_situations_follow_the_mappings_policies(run_module, args, recon_server, fake_idm):
    fake_idm.configs["sync"]["mappings"][0]["policies"] = [
        {"situation": "MISSING", "action": "CREATE"},
        {"situation": "CONFIRMED", "action": "EXCEPTION"},
    ]
    recon_server.next_outcomes = [Outcome(situations={"MISSING": 1, "CONFIRMED": 4})]
    result = run_module(recon_module, args(fail_on=["exception_situations"]))
    assert result["failed"] is True and result["recon"]["exception_situations"] == {"CONFIRMED": 4}


@pytest.mark.parametrize("first", ["exceptions", "failures"])
def test_many_exception_entries_are_not_failures_when_the_server_counts_them_so(run_module, args, recon_server, first):
    # More failed entries than one audit page: whichever come first, EXCEPTION entries are told apart.
    recon_server.exception_status = "failure"
    entries = None
    if first == "failures":
        entries = [
            {
                "situation": "ABSENT",
                "action": "CREATE",
                "sourceObjectId": "system/scim/account/x%d" % n,
                "targetObjectId": None,
                "message": "Failed policy validation",
                "messageDetail": {
                    "result": False,
                    "failedPolicyRequirements": [
                        {"property": "mail", "policyRequirements": [{"policyRequirement": "REQUIRED"}]}
                    ],
                },
            }
            for n in range(6)
        ]
    recon_server.next_outcomes = [
        Outcome(failures=6 if entries else 0, failure_entries=entries, exceptions={"MISSING": 7})
    ]
    if entries:  # the failures are written before the EXCEPTION entries this time
        original = recon_server._finish

        def failures_first(run, state):
            original(run, state)
            events = recon_server.audit[run["summary"]["_id"]]
            events.sort(key=lambda e: e.get("action") == "EXCEPTION")

        recon_server._finish = failures_first
    result = run_module(recon_module, args())
    recon = result["recon"]
    assert recon["status_summary"]["FAILURE"] == (13 if entries else 7)
    assert recon["counters"]["failures"] == (6 if entries else 0)
    if entries:
        assert len(recon["failure_samples"]) == 5
        assert recon["failure_samples"][0]["message"] == "Failed policy validation (mail REQUIRED)"
        assert (
            "6 failed (ABSENT/CREATE on account/x0: Failed policy validation (mail REQUIRED), ...)" in recon["summary"]
        )
        assert recon_server.audit_queries[1] == 'reconId eq "run-1" and action eq "EXCEPTION"'


def test_unreadable_audit_keeps_the_servers_count_and_says_so(run_module, args, recon_server):
    recon_server.audit_status = 403
    recon_server.next_outcomes = [Outcome(failures=2)]
    result = run_module(recon_module, args(fail_on=["entry_failures"]))
    assert result["failed"] is True and result["recon"]["counters"]["failures"] == 2
    assert "2 entries failed (audit/recon not readable for details)" in result["msg"]
    assert "2 failed (no details: audit/recon not readable)" in result["recon"]["summary"]


def test_no_audit_read_without_failures(run_module, args, recon_server, fake_idm):
    recon_server.next_outcomes = [Outcome(unchanged=3, exceptions={"MISSING": 1})]
    run_module(recon_module, args())
    assert not fake_idm.calls_to("GET", "audit/recon")


def test_short_runs_print_milliseconds(run_module, args, recon_server):
    recon_server.next_outcomes = [Outcome(unchanged=1, duration=45)]
    assert run_module(recon_module, args())["recon"]["summary"].endswith(" in 45 ms")
    recon_server.next_outcomes = [Outcome(unchanged=1, duration=1234)]
    assert run_module(recon_module, args())["recon"]["summary"].endswith(" in 1.2 s")


# --- check mode: definite changes, may_update, changed_mappings ----------------------------------------------


def test_dry_run_of_a_converged_tenant_is_unchanged_but_warns_about_possible_updates(run_module, args, recon_server):
    recon_server.next_outcomes = [Outcome(situations={"CONFIRMED": 20}, duration=300)]
    result = run_module(recon_module, args(), check_mode=True)
    recon = result["recon"]
    assert result["failed"] is False and result["changed"] is False
    assert recon["may_update"] == 20
    assert recon["predicted"] == {"create": 0, "delete": 0, "link": 0, "unlink": 0}
    assert recon["summary"] == (
        MAPPING + ": dry run: would create 0, delete 0, link 0, unlink 0; 20 linked entries "
        "may be updated (IDM cannot tell which differ) in 0.3 s"
    )
    assert "nothing" not in recon["summary"] and "no changes" not in recon["summary"]
    assert result.warning_texts == [
        "Check mode: the real run of '%s' would apply the mapping again to 20 linked entries; IDM writes only those "
        "whose target differs, which a dry run cannot tell, so they are not counted as changed." % MAPPING
    ]


def test_dry_run_definite_changes(run_module, args, recon_server, fake_idm):
    fake_idm.configs["sync"]["mappings"][0]["policies"] = [
        {"situation": "SOURCE_MISSING", "action": "DELETE"},
        {"situation": "UNASSIGNED", "action": "UNLINK"},
        {"situation": "MISSING", "action": "LINK"},
    ]
    recon_server.next_outcomes = [
        Outcome(
            situations={
                "ABSENT": 3,
                "FOUND": 2,
                "SOURCE_MISSING": 1,
                "UNASSIGNED": 4,
                "MISSING": 5,
                "SOURCE_IGNORED": 9,
            }
        )
    ]
    result = run_module(recon_module, args(), check_mode=True)
    assert result["changed"] is True and result["recon"]["may_update"] == 0 and not result.warning_texts
    assert result["recon"]["predicted"] == {"create": 3, "delete": 1, "link": 7, "unlink": 4}


def test_dry_run_with_nothing_at_all_says_no_changes(run_module, args, recon_server):
    recon_server.next_outcomes = [Outcome(situations={"SOURCE_IGNORED": 2}, duration=20)]
    result = run_module(recon_module, args(), check_mode=True)
    assert result["changed"] is False and result["recon"]["summary"] == MAPPING + ": dry run: no changes in 20 ms"


def test_changed_mappings_are_not_dry_run_in_check_mode(run_module, args, recon_server):
    result = run_module(recon_module, args(changed_mappings=[MAPPING]), check_mode=True)
    assert result["failed"] is False and result["changed"] is True and result["dry_run_skipped"] is True
    assert result["msg"] == (
        "Check mode: mapping '%s' would be created or updated by this play: a dry run against "
        "the server's old mapping tells nothing; the new mapping will be applied to every "
        "entry, so the recon counts as changed." % MAPPING
    )
    assert recon_server.starts() == []


def test_changed_mappings_do_nothing_in_a_real_run(run_module, args, recon_server):
    recon_server.next_outcomes = [Outcome(unchanged=2)]
    result = run_module(recon_module, args(changed_mappings=[MAPPING]))
    assert result["changed"] is False and len(recon_server.starts()) == 1


def test_first_apply_in_check_mode_with_a_list(run_module, args, recon_server, fake_idm):
    # the play creates two mappings the server does not have yet; the third exists and is dry-run
    recon_server.next_outcomes = [Outcome(situations={"CONFIRMED": 2})]
    result = run_module(
        recon_module, list_args(args, "newA", MAPPING, "newB", changed_mappings=["newA", "newB"]), check_mode=True
    )
    assert result["failed"] is False and result["changed"] is True
    assert [(e["mapping"], e["changed"], e.get("dry_run_skipped", False)) for e in result["recons"]] == [
        ("newA", True, True),
        (MAPPING, False, False),
        ("newB", True, True),
    ]
    assert [c[2]["mapping"] for c in recon_server.starts()] == [MAPPING]
    assert not [w for w in result.warning_texts if "does not exist" in w]


def test_changed_mappings_on_an_old_server_count_as_changed(run_module, args, recon_server, fake_idm):
    fake_idm.version["productVersion"] = "7.1.2"
    result = run_module(recon_module, list_args(args, MAPPING, OTHER, changed_mappings=[OTHER]), check_mode=True)
    assert result["changed"] is True and not result.get("skipped")
    assert [e["changed"] for e in result["recons"]] == [False, True]


def test_a_mapping_defined_in_both_storages_is_warned_about(run_module, args, recon_server, fake_idm):
    fake_idm.configs["mapping/" + MAPPING] = {"name": MAPPING, "source": "s", "target": "t"}
    recon_server.next_outcomes = [Outcome(unchanged=1, situations={"CONFIRMED": 1})]
    result = run_module(recon_module, args())
    assert any(
        "Mapping %s is defined both in config/sync and as config/mapping/<name>" % MAPPING in w
        for w in result.warning_texts
    )


@pytest.mark.parametrize("running", [False, True])
def test_check_mode_without_wait_predicts_the_real_run(run_module, args, recon_server, running):
    # The real run with wait=false counts a start as changed and adopts (unchanged) an active run; check mode
    # reports the same, without waiting for anything. (Started runs end at their first read, so the dry run is not
    # active when the real run looks.)
    recon_server.next_outcomes = [Outcome(active_polls=0)]
    reports = []
    for check_mode in (True, False):
        if running:
            recon_server.add_run(MAPPING, Outcome(active_polls=10**6))
        result = run_module(recon_module, args(wait=False), check_mode=check_mode)
        assert result["failed"] is False
        reports.append((result["changed"], result.get("adopted")))
    assert reports[0] == reports[1] == ((False, True) if running else (True, False))
    starts = recon_server.starts()
    assert [c[2].get("analyze") for c in starts] == ([] if running else ["true", None])
