# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure logic of _recon: summary parsing, counters -> changed, summaries, poll schedule."""

from __future__ import annotations

import itertools
from datetime import datetime

import pytest

from ansible_collections.idmops.pingidm.plugins.module_utils import _recon, _recon_summary, _vocabulary
from ansible_collections.idmops.pingidm.tests.unit.conftest import SITUATIONS_5X

MAPPING = "systemScimAccount_managedUser"


def summary_7x(
    created=0, updated=0, unchanged=0, deleted=0, links=0, failures=0, state="SUCCESS", situations=None, **extra
):
    situation_summary = dict.fromkeys(_vocabulary.DEFAULT_POLICY_ACTIONS, 0)
    situation_summary.update(situations or {})
    raw = {
        "_id": "0b7f-1",
        "mapping": MAPPING,
        "state": state,
        "stage": "COMPLETED_" + state if state != "ACTIVE" else "ACTIVE_RECONCILING_SOURCE",
        "stageDescription": "reconciliation completed.",
        "progress": {
            "source": {"existing": {"processed": 5, "total": "5"}},
            "target": {
                "existing": {"processed": 0, "total": "0"},
                "created": created,
                "updated": updated,
                "unchanged": unchanged,
                "deleted": deleted,
            },
            "links": {"existing": {"processed": 0, "total": "0"}, "created": links},
        },
        "situationSummary": situation_summary,
        "statusSummary": {"SUCCESS": 5 - failures, "FAILURE": failures},
        "started": "2026-11-29T10:00:00.000Z",
        "ended": "2026-11-29T10:00:01.234Z",
        "duration": 1234,
    }
    raw.update(extra)
    return raw


def summary_5x(created=0, links=0, situations=None, failures=0):
    """5.x shape: no updated/unchanged/deleted counters, 11 situation keys."""
    situation_summary = dict.fromkeys(SITUATIONS_5X, 0)
    situation_summary.update(situations or {})
    return {
        "_id": "5x-14",
        "mapping": MAPPING,
        "state": "SUCCESS",
        "stage": "COMPLETED_SUCCESS",
        "progress": {
            "source": {"existing": {"processed": 2, "total": "2"}},
            "target": {"existing": {"processed": 0, "total": "0"}, "created": created},
            "links": {"existing": {"processed": 0, "total": "0"}, "created": links},
        },
        "situationSummary": situation_summary,
        "statusSummary": {"SUCCESS": 2 - failures, "FAILURE": failures},
        "started": "2015-11-23T00:18:34.431Z",
        "ended": "2015-11-23T00:18:34.730Z",
        "duration": 299,
    }


# --- timestamps / listing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2015-11-23T00:18:34.431Z", datetime(2015, 11, 23, 0, 18, 34, 431000)),
        ("2015-11-23T00:18:34Z", datetime(2015, 11, 23, 0, 18, 34)),
        ("2015-11-23T02:18:34.5+02:00", datetime(2015, 11, 23, 0, 18, 34, 500000)),
        ("2015-11-23T00:18:34.123456789Z", datetime(2015, 11, 23, 0, 18, 34, 123456)),
        ("", None),
        (None, None),
        ("yesterday", None),
    ],
)
def test_parse_timestamp(text, expected):
    assert _recon_summary.parse_timestamp(text) == expected


def test_runs_from_response_accepts_wrapper_bare_list_and_query_envelope():
    runs = [{"_id": "a"}, {"_id": "b"}]
    assert _recon.runs_from_response({"reconciliations": runs}) == runs
    assert _recon.runs_from_response(runs) == runs
    assert _recon.runs_from_response({"result": runs, "resultCount": 2}) == runs
    assert _recon.runs_from_response({"unexpected": 1}) == []
    assert _recon.runs_from_response(None) == []


def test_active_runs_filters_by_mapping_and_state():
    runs = [
        {"_id": "1", "mapping": MAPPING, "state": "SUCCESS"},
        {"_id": "2", "mapping": MAPPING, "state": "ACTIVE"},
        {"_id": "3", "mapping": "other", "state": "ACTIVE"},
    ]
    assert [r["_id"] for r in _recon.active_runs(runs, MAPPING)] == ["2"]


def test_runs_started_since_uses_known_ids_and_time_with_slack():
    since = datetime(2026, 11, 29, 10, 0, 0)
    runs = [
        {"_id": "old", "mapping": MAPPING, "started": "2026-11-29T09:00:00.000Z"},
        {"_id": "known", "mapping": MAPPING, "started": "2026-11-29T10:00:05.000Z"},
        {"_id": "skewed", "mapping": MAPPING, "started": "2026-11-29T09:59:59.000Z"},  # within 2 s slack
        {"_id": "mine", "mapping": MAPPING, "started": "2026-11-29T10:00:00.100Z"},
        {"_id": "other", "mapping": "x", "started": "2026-11-29T10:00:00.100Z"},
        {"_id": "nostart", "mapping": MAPPING, "started": ""},
    ]
    found = _recon.runs_started_since(runs, MAPPING, since, known_ids=["known"])
    assert [r["_id"] for r in found] == ["skewed", "mine"]
    assert [r["_id"] for r in _recon.runs_started_since(runs, MAPPING, since, slack_seconds=0)] == ["mine", "known"]


# --- counters and changed ---------------------------------------------------------------------------------


def test_counters_7x():
    counts = _recon_summary.counters(summary_7x(created=3, updated=2, unchanged=4, deleted=1, links=3, failures=1))
    assert counts == {
        "source_processed": 5,
        "source_total": 5,
        "target_processed": 0,
        "created": 3,
        "updated": 2,
        "unchanged": 4,
        "deleted": 1,
        "links_created": 3,
        "links_deleted": None,
        "succeeded": 4,
        "failures": 1,
    }


def test_counters_unknown_total_and_missing_fields_are_none_not_zero():
    raw = summary_5x()
    raw["progress"]["source"]["existing"]["total"] = "?"
    counts = _recon_summary.counters(raw)
    assert counts["source_total"] is None
    assert counts["updated"] is None and counts["deleted"] is None and counts["unchanged"] is None
    assert _recon_summary.counters({})["created"] is None


@pytest.mark.parametrize("kwargs", [dict(created=1), dict(updated=1), dict(deleted=1), dict(links=1)])
def test_any_write_counter_means_changed(kwargs):
    assert _recon_summary.change_assessment(summary_7x(**kwargs))[:2] == (True, "counters")


def test_7x_all_zero_is_not_changed_even_with_situations_that_would_write():
    # e.g. ABSENT entries whose CREATE failed: counters are authoritative for a real 7.x run
    raw = summary_7x(unchanged=5, failures=2, situations={"CONFIRMED": 3, "ABSENT": 2})
    assert _recon_summary.change_assessment(raw) == (False, "counters", [])


def test_5x_created_counter_decides_creates():
    raw = summary_5x(created=2, links=2, situations={"ABSENT": 2})
    assert _recon_summary.change_assessment(raw)[0] is True
    raw = summary_5x(created=0, situations={"ABSENT": 2}, failures=2)
    assert _recon_summary.change_assessment(raw) == (False, "situations", [])


def test_5x_deletes_come_from_situations_and_policies():
    raw = summary_5x(situations={"CONFIRMED": 1, "SOURCE_MISSING": 2})
    # IDM's default for SOURCE_MISSING is EXCEPTION: nothing written
    assert _recon_summary.change_assessment(raw) == (False, "situations", [])
    actions = _vocabulary.policy_actions({"policies": [{"situation": "SOURCE_MISSING", "action": "DELETE"}]})
    assert _recon_summary.change_assessment(raw, actions) == (True, "situations", ["SOURCE_MISSING:DELETE"])


def test_5x_confirmed_update_is_not_assumed_to_change():
    raw = summary_5x(situations={"CONFIRMED": 2})
    assert _recon_summary.change_assessment(raw) == (False, "situations", [])


def test_5x_unqualified_default_delete_and_unlink_policy():
    raw = summary_5x(situations={"UNQUALIFIED": 1})
    assert _recon_summary.change_assessment(raw) == (True, "situations", ["UNQUALIFIED:DELETE"])
    actions = _vocabulary.policy_actions({"policies": [{"situation": "UNQUALIFIED", "action": "unlink"}]})
    assert _recon_summary.change_assessment(raw, actions) == (True, "situations", ["UNQUALIFIED:UNLINK"])


def test_dry_run_uses_situations_even_with_zero_counters():
    raw = summary_7x(situations={"ABSENT": 3, "CONFIRMED": 2, "FOUND": 1})
    changed, basis, implied = _recon_summary.change_assessment(raw, dry_run=True)
    assert (changed, basis) == (True, "situations")
    assert implied == ["ABSENT:CREATE", "FOUND:UPDATE"]
    assert _recon_summary.change_assessment(summary_7x(situations={"CONFIRMED": 5}), dry_run=True) == (
        False,
        "situations",
        [],
    )


def test_policy_actions_overrides_defaults_and_marks_scripts():
    actions = _vocabulary.policy_actions(
        {
            "policies": [
                {"situation": "ABSENT", "action": "IGNORE"},
                {"situation": "MISSING", "action": {"type": "text/javascript", "source": "'CREATE'"}},
                {"action": "DELETE"},
            ]
        }
    )
    assert actions["ABSENT"] == "IGNORE"
    assert actions["MISSING"] == "SCRIPT"
    assert actions["CONFIRMED"] == "UPDATE"
    assert _vocabulary.policy_actions(None) == _vocabulary.DEFAULT_POLICY_ACTIONS


# --- normalise / summary / fail_on -------------------------------------------------------------------------


def test_normalise_7x_run():
    recon = _recon_summary.normalise(summary_7x(created=50, links=50, situations={"ABSENT": 50}))
    assert recon["id"] == "0b7f-1" and recon["mapping"] == MAPPING and recon["state"] == "SUCCESS"
    assert recon["duration_ms"] == 1234
    assert recon["situation_summary"] == {"ABSENT": 50}
    assert recon["status_summary"] == {"SUCCESS": 5, "FAILURE": 0}
    assert recon["has_changes"] is True and recon["change_basis"] == "counters"
    assert recon["summary"] == MAPPING + ": 50 created, 0 updated, 0 deleted, 0 failed in 1.2 s"


def test_summary_line_variants():
    recon = _recon_summary.normalise(summary_5x(created=2, links=2))
    assert recon["summary"] == MAPPING + ": 2 created, ? updated, ? deleted, 0 failed in 0.3 s"
    failed = _recon_summary.normalise(summary_7x(state="FAILED", duration=None, links=3, updated=3))
    assert failed["duration_ms"] == 1234  # from started/ended
    assert failed["summary"].endswith("3 linked in 1.2 s (FAILED)")
    dry = _recon_summary.normalise(summary_7x(situations={"ABSENT": 1}), dry_run=True)
    assert dry["summary"] == MAPPING + ": dry run: would create 1, delete 0, link 0, unlink 0 in 1.2 s"


def test_normalise_keeps_source_ids_and_handles_running_run():
    raw = summary_7x(state="ACTIVE", ended="", parameters={"sourceIds": ["abc"]})
    recon = _recon_summary.normalise(raw)
    assert recon["ended"] is None and recon["source_ids"] == ["abc"]


@pytest.mark.parametrize(
    "state, failures, fail_on, expected",
    [
        ("SUCCESS", 0, ["failed", "canceled"], 0),
        ("FAILED", 0, ["failed", "canceled"], 1),
        ("FAILED", 0, ["canceled"], 0),
        ("CANCELED", 0, ["failed", "canceled"], 1),
        ("SUCCESS", 2, ["failed", "canceled"], 0),
        ("SUCCESS", 2, ["entry_failures"], 1),
        ("FAILED", 2, ["failed", "entry_failures"], 2),
    ],
)
def test_failure_reasons(state, failures, fail_on, expected):
    recon = _recon_summary.normalise(summary_7x(state=state, failures=failures))
    assert len(_recon_summary.failure_reasons(recon, fail_on)) == expected


# --- poll schedule --------------------------------------------------------------------------------------


def test_poll_delays_start_fast_and_cap():
    delays = list(itertools.islice(_recon.poll_delays(), 12))
    assert delays[:3] == pytest.approx([0.1, 0.15, 0.225])
    assert max(delays) == 2.0 and delays[-1] == 2.0
    assert all(b >= a for a, b in itertools.pairwise(delays))


def source_poll(processed, total, duration, stage="ACTIVE_RECONCILING_SOURCE"):
    return {
        "stage": stage,
        "duration": duration,
        "progress": {"source": {"existing": {"processed": processed, "total": total}}},
    }


def test_planner_backoff_while_nothing_tells_the_end():
    planner = _recon.PollPlanner()
    delays = [planner.next_delay({"stage": "ACTIVE_QUERY_ENTRIES"}, t) for t in range(12)]
    assert delays[:3] == pytest.approx([0.1, 0.15, 0.225]) and delays[-1] == 2.0


def test_planner_estimates_the_end_of_the_source_phase():
    planner = _recon.PollPlanner()
    for _poll in range(6):
        planner.next_delay({"stage": "ACTIVE_QUERY_ENTRIES"}, 0.0)
    # new phase: the backoff starts again at 0.1
    assert planner.next_delay(source_poll(100, "3000", 1000), 1.0) == pytest.approx(0.1)
    assert planner.next_delay(source_poll(400, "3000", 1200), 1.2) == pytest.approx(0.15)
    # 1500 entries/s between the last two polls, 100 left -> ~0.067 s, floored at 0.1
    assert planner.next_delay(source_poll(2900, "3000", 2867), 2.867) == _recon.POLL_FLOOR
    # first sample in the phase: rate from processed/duration (1000 per s, 500 left -> 0.5 s, under the backoff)
    planner = _recon.PollPlanner(initial=2.0)
    assert planner.next_delay(source_poll(2500, "3000", 2500), 0.0) == pytest.approx(0.5)


def test_planner_unknown_total_uses_backoff():
    planner = _recon.PollPlanner()
    assert planner.next_delay(source_poll(10, "?", 100), 0.0) == pytest.approx(0.1)
    assert planner.next_delay(source_poll(20, "?", 400), 0.3) == pytest.approx(0.15)


def test_planner_source_done_and_late_stages_poll_fast():
    planner = _recon.PollPlanner()
    for t in range(8):
        planner.next_delay(source_poll(10 * t, "3000", 100 * t), float(t))
    # every source entry processed but still ACTIVE: the end is near whatever the backoff had grown to
    assert planner.next_delay(source_poll(3000, "3000", 9000), 9.0) == _recon.POLL_FLOOR
    late = [planner.next_delay({"stage": "ACTIVE_PROCESSING_RESULTS"}, 9.0 + t) for t in range(8)]
    assert late[:2] == pytest.approx([0.15, 0.225]) and late[-1] == _recon.LATE_STAGE_CAP


@pytest.mark.parametrize(
    "text, expected",
    [
        ("7.5.0", (7, 5, 0)),
        ("8.0.1-SNAPSHOT", (8, 0, 1)),
        ("OpenIDM 5.5", (5, 5, 0)),
        ("", None),
        (None, None),
    ],
)
def test_parse_version(text, expected):
    assert _recon.parse_version(text) == expected


# --- failures under both readings, samples, dry-run prediction, durations ------------------------------------


@pytest.mark.parametrize("ms, text", [(0, "0 ms"), (45, "45 ms"), (99, "99 ms"), (100, "0.1 s"), (1234, "1.2 s")])
def test_duration_text(ms, text):
    assert _recon_summary.duration_text(ms) == text


@pytest.mark.parametrize(
    "status_failures, exceptions, facts, expected",
    [
        (3, 0, None, 3),  # no audit: the server's count
        (3, 2, _recon_summary.AuditFacts(exceptions_are_failures=None), 3),  # audit unreadable: idem
        (3, 2, _recon_summary.AuditFacts([{}], 2, complete=True, exceptions_are_failures=True), 1),
        (9, 7, _recon_summary.AuditFacts([{}] * 2, 3, complete=False, exceptions_are_failures=True), 2),
        (9, 2, _recon_summary.AuditFacts([{}] * 5, 0, complete=False, exceptions_are_failures=True), 7),
        (3, 2, _recon_summary.AuditFacts([{}] * 3, 0, complete=True, exceptions_are_failures=False), 3),
    ],
)
def test_real_failures(status_failures, exceptions, facts, expected):
    assert _recon_summary.real_failures(status_failures, exceptions, facts) == expected


def test_failure_sample_and_text():
    entry = {
        "sourceObjectId": "managed/user/u1",
        "targetObjectId": "system/scim/account/abc",
        "situation": "CONFIRMED",
        "action": "UPDATE",
        "entryType": "entry",
        "status": "FAILURE",
        "message": "Resource &#39;x&#39; refused\nstack trace line",
        "exception": "java.lang...",
        "messageDetail": None,
    }
    sample = _recon_summary.failure_sample(entry)
    assert sample == {
        "sourceObjectId": "managed/user/u1",
        "targetObjectId": "system/scim/account/abc",
        "situation": "CONFIRMED",
        "action": "UPDATE",
        "message": "Resource 'x' refused",
    }
    assert _recon_summary.sample_text(sample) == "CONFIRMED/UPDATE on account/abc: Resource 'x' refused"
    long = _recon_summary.failure_sample(
        {"situation": "ABSENT", "action": "CREATE", "sourceObjectId": "system/scim/account/z", "exception": "x" * 400}
    )
    assert len(long["message"]) == 300 and long["message"].endswith("...")
    assert _recon_summary.sample_text(long).startswith("ABSENT/CREATE on account/z: xxx")
    assert _recon_summary.failure_sample({})["message"] == "no message in the audit entry"


def test_dry_run_prediction_and_exception_situations():
    raw = summary_7x(situations={"ABSENT": 2, "FOUND": 1, "CONFIRMED": 4, "MISSING": 3, "UNQUALIFIED": 1})
    predicted, may_update = _recon_summary.dry_run_prediction(raw)
    assert predicted == {"create": 2, "delete": 1, "link": 1, "unlink": 0} and may_update == 4
    assert _recon_summary.exception_situations(raw) == {"MISSING": 3}
    scripted = _vocabulary.policy_actions(
        {"policies": [{"situation": "MISSING", "action": {"type": "x", "source": "y"}}]}
    )
    assert (
        _recon_summary.dry_run_prediction(raw, scripted)[1] == 7
        and _recon_summary.exception_situations(raw, scripted) == {}
    )


def test_fail_on_exception_situations_and_entry_failures_texts():
    recon = _recon_summary.normalise(summary_7x(failures=1, situations={"MISSING": 2}))
    assert _recon_summary.failure_reasons(recon, ["exception_situations"]) == [
        "2 entries in situations the mapping marks EXCEPTION (MISSING 2)"
    ]
    assert _recon_summary.failure_reasons(recon, ["entry_failures"]) == [
        "1 entry failed (audit/recon not readable for details)"
    ]
