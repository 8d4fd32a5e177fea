"""The sandbox scheduler (``sandbox/idm/scheduler/``): Quartz cron syntax and fire times, schedule objects read as
IDM reads them, scheduled recons that really run (seen in ``GET recon``), ``concurrentExecution``, misfires
after a restart, and the ``/openidm/scheduler`` REST calls.

Tests that wait for real fire times use one-second schedules and poll with generous deadlines; they assert what
happened, never how fast."""

from __future__ import annotations

import itertools
import sqlite3
import time
from datetime import datetime

import pytest

from sandbox.idm.scheduler import (
    DO_NOTHING,
    FIRE_AND_PROCEED,
    CronError,
    CronExpression,
    Job,
    ScheduleConfig,
    ScheduleError,
    is_valid_cron,
)
from sandbox.idm.server import IdmServer
from sandbox.tests.idm.sync_helpers import PERSON_USER, create, minimal_policy, put_config, put_mappings

MAPPING = dict(PERSON_USER, properties=[{"source": "userName", "target": "userName"}])


def recon_schedule(cron="* * * * * ?", mapping="person_user", **extra):
    body = {
        "enabled": True,
        "type": "cron",
        "schedule": cron,
        "persisted": False,
        "concurrentExecution": False,
        "invokeService": "sync",
        "invokeContext": {"action": "reconcile", "mapping": mapping},
    }
    body.update(extra)
    return body


def runs_of(idm, mapping="person_user"):
    return [r for r in idm.get("recon").json()["reconciliations"] if r["mapping"] == mapping]


def wait_for(condition, timeout=15.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


@pytest.fixture
def idm(idm_server_factory):
    # Only the scheduled recon syncs persons to users: no implicit sync of the creates below; the mapping fills
    # userName only, so the stock user policy (givenName, sn, mail required) is relaxed.
    server = minimal_policy(idm_server_factory(readings={"implicit_sync": "off"}))
    put_mappings(server, MAPPING)
    for i in range(3):
        create(server, "managed/person", {"userName": f"p{i}"})
    return server


def scheduler(idm):
    return idm.server.scheduler


# --- cron expressions ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression, after, expected",
    [
        ("*/2 * * * * ?", "2024-01-01T00:00:00", ["2024-01-01T00:00:02", "2024-01-01T00:00:04"]),
        ("0 0/30 * * * ?", "2024-01-01T00:10:00", ["2024-01-01T00:30:00", "2024-01-01T01:00:00"]),
        ("30 0/1 * * * ?", "2024-01-01T00:00:30", ["2024-01-01T00:01:30", "2024-01-01T00:02:30"]),  # IDM sample2
        ("0 15 10 ? * MON-FRI", "2024-01-05T11:00:00", ["2024-01-08T10:15:00", "2024-01-09T10:15:00"]),
        ("0 15 10 ? * 2-6", "2024-01-05T11:00:00", ["2024-01-08T10:15:00", "2024-01-09T10:15:00"]),
        ("0 0 12 1,15 * ?", "2024-01-01T12:00:00", ["2024-01-15T12:00:00", "2024-02-01T12:00:00"]),
        ("0 0 12 L * ?", "2024-01-31T12:00:00", ["2024-02-29T12:00:00", "2024-03-31T12:00:00"]),
        ("0 0 12 L-2 * ?", "2024-02-01T00:00:00", ["2024-02-27T12:00:00", "2024-03-29T12:00:00"]),
        ("0 0 12 LW * ?", "2024-03-01T00:00:00", ["2024-03-29T12:00:00", "2024-04-30T12:00:00"]),
        ("0 0 12 15W * ?", "2024-06-01T00:00:00", ["2024-06-14T12:00:00", "2024-07-15T12:00:00"]),  # 15 Jun: Sat
        ("0 0 12 1W * ?", "2024-06-01T13:00:00", ["2024-06-03T12:00:00", "2024-07-01T12:00:00"]),  # never May
        ("0 0 12 ? * 6L", "2024-01-01T00:00:00", ["2024-01-26T12:00:00", "2024-02-23T12:00:00"]),
        ("0 0 12 ? * FRI#3", "2024-01-01T00:00:00", ["2024-01-19T12:00:00", "2024-02-16T12:00:00"]),
        ("0 0 12 ? * L", "2024-01-01T00:00:00", ["2024-01-06T12:00:00", "2024-01-13T12:00:00"]),  # Saturdays
        ("0 0 22-2 * * ?", "2024-01-01T23:30:00", ["2024-01-02T00:00:00", "2024-01-02T01:00:00"]),  # wraps
        ("0 0 0 1 JAN,jul ?", "2024-02-01T00:00:00", ["2024-07-01T00:00:00", "2025-01-01T00:00:00"]),
        ("0 0 0 29 2 ? 2024-2030", "2024-03-01T00:00:00", ["2028-02-29T00:00:00", None]),
        ("0 0 0 30 2 ?", "2024-03-01T00:00:00", [None]),
    ],
)
def test_fire_times(expression, after, expected):
    cron = CronExpression(expression)
    current = datetime.fromisoformat(after)
    for want in expected:
        current = cron.next_after(current)
        assert (current.isoformat() if current else None) == want, expression
        if current is None:
            break


@pytest.mark.parametrize(
    "expression, reason",
    [
        ("* * * * *", "6 or 7 fields"),  # Unix cron: no seconds
        ("* * * * * *", "exactly one of day-of-month and day-of-week"),
        ("0 0 0 ? * ?", "exactly one of day-of-month and day-of-week"),
        ("? * * * 1 *", "'?' can only be"),
        ("60 * * * * ?", "between 0 and 59"),
        ("0 0 24 * * ?", "between 0 and 23"),
        ("0 0 0 32 * ?", "between 1 and 31"),
        ("0 0 0 1 13 ?", "between 1 and 12"),
        ("0 0 0 ? * 8", "between 1 and 7"),
        ("0 0 0 L,5 * ?", "cannot be combined"),
        ("0 0 0 ? * 6#6", "between 1 and 5"),
        ("*/0 * * * * ?", "positive number"),
        ("0/60 * * * * ?", "larger than 59"),
        ("0 0 0 1 * ? 1969", "between 1970 and 2099"),
        ("L * * * * ?", "only allowed in day-of-month or day-of-week"),
        ("0 0 0 1 FOO ?", "not a number or a name"),
        ("0 0 0 1 * ? 2024 1", "6 or 7 fields"),
    ],
)
def test_invalid_expressions_say_why(expression, reason):
    with pytest.raises(CronError, match=reason):
        CronExpression(expression)
    assert not is_valid_cron(expression)


def test_validate_endpoint(idm_server):
    for expression, valid in (
        ("*/2 * * * * ?", True),
        ("0 0 12 ? * WED", True),
        ("*/2 * * * *", False),
        ("0 0 12 * * WED", False),
    ):
        response = idm_server.request(
            "POST", "scheduler?_action=validateQuartzCronExpression", json={"cronExpression": expression}
        )
        assert response.status_code == 200 and response.json() == {"valid": valid}, expression
    assert idm_server.request("POST", "scheduler?_action=validateQuartzCronExpression", json={}).status_code == 400


# --- schedule objects ------------------------------------------------------------------------------------------------


def test_time_zone_start_and_end_time():
    config = ScheduleConfig(
        recon_schedule(
            "0 0 9 * * ?", timeZone="America/New_York", startTime="2024-01-10T00:00:00", endTime="2024-01-12T12:00:00"
        )
    )
    first = config.first_fire(datetime.fromisoformat("2024-01-01T00:00:00+00:00").timestamp())
    assert datetime.utcfromtimestamp(first).isoformat() == "2024-01-10T14:00:00"  # 09:00 EST
    second = config.fire_after(first)
    assert config.fire_after(config.fire_after(second)) is None  # after endTime
    assert config.as_json()["startTime"] == "2024-01-10T00:00:00"
    fixed = ScheduleConfig(recon_schedule("0 0 9 * * ?", timeZone="GMT+02:00"))
    assert datetime.utcfromtimestamp(fixed.fire_after(first)).isoformat() == "2024-01-11T07:00:00"


def test_daylight_saving_gap_moves_the_fire_time_forward():
    config = ScheduleConfig(recon_schedule("0 30 2 * * ?", timeZone="Europe/Berlin"))
    start = datetime.fromisoformat("2024-03-30T12:00:00+00:00").timestamp()
    fires = [config.fire_after(start)]
    fires.append(config.fire_after(fires[0]))
    assert [datetime.utcfromtimestamp(f).isoformat() for f in fires] == [
        "2024-03-31T01:30:00",  # 02:30 does not exist on 31 March: 03:30 CEST
        "2024-04-01T00:30:00",  # 02:30 CEST
    ]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"type": "every"}, "Specified type value invalid: every"),
        ({"schedule": ""}, "must provide a cron schedule"),
        ({"schedule": "*/2 * * * *"}, "Invalid cron expression"),
        ({"misfirePolicy": "later"}, "Invalid misfire policy: later"),
        ({"invokeService": ""}, "invokeService property needs to be set"),
        ({"timeZone": "Mars/Olympus"}, "timezone is not understood: Mars/Olympus"),
        ({"startTime": "2024-01-01 10:00"}, "yyyy-MM-ddTHH:mm:ss"),
        ({"enabled": 1}, "enabled must be a boolean"),
        ({"type": "simple", "repeatInterval": 0, "repeatCount": 3}, "repeatInterval > 0"),
    ],
)
def test_bad_schedule_objects_are_stored_but_not_scheduled(idm_server, change, message):
    with pytest.raises(ScheduleError, match=message):
        ScheduleConfig(recon_schedule(**change))
    put_config(idm_server, "schedule/bad", recon_schedule(**change))
    assert idm_server.get("config/schedule/bad").status_code == 200
    assert idm_server.get("scheduler/job/bad").status_code == 404
    assert message in scheduler(idm_server).errors["bad"]
    put_config(idm_server, "schedule/bad", recon_schedule("0 0 0 1 1 ? 2099"))  # repaired
    assert idm_server.get("scheduler/job/bad").status_code == 200
    assert "bad" not in scheduler(idm_server).errors


def test_string_flags_and_service_names_as_idm_reads_them():
    config = ScheduleConfig(recon_schedule(enabled="false", persisted="TRUE", concurrentExecution="yes"))
    assert (config.enabled, config.persisted, config.concurrent_execution) == (False, True, False)
    assert config.invoke_service == "org.forgerock.openidm.sync"
    assert (
        ScheduleConfig(recon_schedule(invokeService="org.forgerock.openidm.sync")).invoke_service
        == "org.forgerock.openidm.sync"
    )
    assert ScheduleConfig(recon_schedule()).misfire_policy == FIRE_AND_PROCEED


def test_never_firing_expression_is_not_scheduled(idm_server):
    put_config(idm_server, "schedule/never", recon_schedule("0 0 0 30 2 ?"))
    assert idm_server.get("scheduler/job/never").status_code == 404
    assert "never fire" in scheduler(idm_server).errors["never"]


# --- misfire decisions (no waiting: the decision function with a chosen "now") ----------------------------------------


@pytest.mark.parametrize(
    "late, policy, fires, next_after_now",
    [
        (0.5, FIRE_AND_PROCEED, True, False),  # on time: next = the following fire time after the scheduled one
        (30, DO_NOTHING, True, False),  # late but within the 60 s threshold: fires, whatever the policy
        (120, FIRE_AND_PROCEED, True, True),  # misfired: fires once now, then the normal schedule
        (120, DO_NOTHING, False, True),  # misfired: skipped
    ],
)
def test_misfire_policy(idm_server, late, policy, fires, next_after_now):
    service = scheduler(idm_server)
    config = ScheduleConfig(recon_schedule("*/10 * * * * ?", misfirePolicy=policy))
    now = datetime.fromisoformat("2024-05-01T12:00:00").timestamp()
    scheduled = config.fire_after(now - late - 1)
    job = Job("m", {}, config, next_fire=scheduled)
    with service._cond:  # pylint: disable=protected-access
        record = service._fire_due(job, scheduled + late)  # pylint: disable=protected-access
        service._active -= 1 if record else 0  # pylint: disable=protected-access
    assert (record is not None) == fires and len(job.history) == (1 if fires else 0)
    expected_next = config.fire_after(scheduled + late) if next_after_now else config.fire_after(scheduled)
    assert job.next_fire == expected_next


# --- the scheduler at work --------------------------------------------------------------------------------------------


def test_scheduled_recon_runs_and_stops_when_the_schedule_is_removed(idm):
    put_config(idm, "schedule/recon-person", recon_schedule("*/2 * * * * ?"))
    put_config(idm, "schedule/dormant", recon_schedule(mapping="other", enabled=False))
    runs = wait_for(lambda: [r for r in runs_of(idm) if r["state"] != "ACTIVE"])
    assert runs, "no scheduled recon ran"
    assert runs[0]["state"] == "SUCCESS" and runs[0]["progress"]["target"]["created"] == 3
    assert len(idm.get("managed/user", params={"_queryFilter": "true"}).json()["result"]) == 3
    job = idm.get("scheduler/job/recon-person").json()
    assert job["invokeService"] == "org.forgerock.openidm.sync" and job["schedule"] == "*/2 * * * * ?"
    assert job["nextRunDate"].endswith("Z")
    dormant = idm.get("scheduler/job/dormant").json()
    assert dormant["enabled"] is False and dormant["nextRunDate"] is None
    assert scheduler(idm).history("dormant") == []

    assert idm.request("DELETE", "config/schedule/recon-person").status_code == 200
    assert idm.get("scheduler/job/recon-person").status_code == 404
    wait_for(lambda: not any(r["state"] == "ACTIVE" for r in runs_of(idm)))
    count = len(runs_of(idm))
    time.sleep(2.1)
    assert len(runs_of(idm)) == count, "a removed schedule fired again"
    assert runs_of(idm, "other") == []


def test_scheduled_recon_by_id_reconciles_every_source_as_idm_does(idm):
    """SynchronizationService.execute() runs every scheduled recon action as ReconAction.recon: ``ids`` is unused."""
    one = idm.get("managed/person", params={"_queryFilter": 'userName eq "p0"'}).json()["result"][0]["_id"]
    context = {"action": "reconById", "mapping": "person_user", "ids": one}
    put_config(idm, "schedule/by-id", recon_schedule(invokeContext=context))
    runs = wait_for(lambda: [r for r in runs_of(idm) if r["state"] != "ACTIVE"])
    put_config(idm, "schedule/by-id", recon_schedule(invokeContext=context, enabled=False))
    assert runs, "no scheduled recon ran"
    assert runs[0]["state"] == "SUCCESS" and runs[0]["progress"]["source"]["existing"]["processed"] == 3
    assert "sourceIds" not in runs[0]["parameters"]


def _overlaps(history):
    spans = sorted((f.started, f.ended or float("inf")) for f in history)
    return any(later_start < earlier_end for (_, earlier_end), (later_start, _) in itertools.pairwise(spans))


@pytest.mark.parametrize("concurrent", [False, True])
def test_concurrent_execution(idm, concurrent):
    # Each run takes at least 1.5 s (0.5 s per entry) and the schedule fires every second. Runs still active at
    # the end are canceled when the server stops.
    idm.server.recon.entry_delay = 0.5
    put_config(idm, "schedule/busy", recon_schedule("* * * * * ?", concurrentExecution=concurrent))
    fires = wait_for(lambda: len(scheduler(idm).history("busy")) >= 2 and scheduler(idm).history("busy"))
    assert fires, "the schedule did not fire twice"
    put_config(idm, "schedule/busy", recon_schedule("* * * * * ?", enabled=False))
    if concurrent:
        assert _overlaps(fires), "concurrentExecution=true should start runs while one is still running"
    else:
        assert not _overlaps(fires), "concurrentExecution=false started a run while the previous one was running"
        assert all(f.started - f.scheduled < 60 for f in fires)


def test_list_executing_pause_and_resume(idm):
    idm.server.recon.entry_delay = 0.5
    put_config(idm, "schedule/slow", recon_schedule("* * * * * ?"))
    executing = wait_for(lambda: idm.request("POST", "scheduler/job?_action=listCurrentlyExecutingJobs").json())
    assert executing and executing[0]["invokeContext"]["mapping"] == "person_user"
    assert idm.request("POST", "scheduler/job?_action=pauseJobs").json() == {"success": True}
    wait_for(lambda: not idm.request("POST", "scheduler/job?_action=listCurrentlyExecutingJobs").json())
    count = len(scheduler(idm).history("slow"))
    time.sleep(1.5)
    assert len(scheduler(idm).history("slow")) == count, "a paused scheduler fired"
    assert idm.request("POST", "scheduler/job?_action=resumeJobs").json() == {"success": True}
    assert wait_for(lambda: len(scheduler(idm).history("slow")) > count), "resumeJobs did not fire again"
    put_config(idm, "schedule/slow", recon_schedule("* * * * * ?", enabled=False))


def test_script_schedule(idm_server):
    put_config(
        idm_server,
        "schedule/tick",
        {
            "type": "cron",
            "schedule": "* * * * * ?",
            "invokeService": "script",
            "invokeContext": {
                "input": {"label": "tock"},
                "script": {
                    "type": "text/javascript",
                    "source": "openidm.create('managed/tick', null, {label: input.label});",
                },
            },
        },
    )
    ticks = wait_for(lambda: idm_server.get("managed/tick", params={"_queryFilter": "true"}).json()["result"])
    assert ticks and ticks[0]["label"] == "tock"
    idm_server.request("DELETE", "config/schedule/tick")


def test_query_and_rest_limits(idm_server):
    put_config(idm_server, "schedule/b", recon_schedule("0 0 0 1 1 ? 2099"))
    put_config(idm_server, "schedule/a", recon_schedule("0 0 0 1 1 ? 2099", persisted=True, timeZone="UTC"))
    ids = idm_server.get("scheduler/job", params={"_queryId": "query-all-ids"}).json()
    assert [r["_id"] for r in ids["result"]] == ["a", "b"]
    persisted = idm_server.get("scheduler/job", params={"_queryFilter": "persisted eq true"}).json()
    assert [r["_id"] for r in persisted["result"]] == ["a"]
    assert persisted["result"][0]["nextRunDate"] == "2099-01-01T00:00:00.000Z"
    assert persisted["result"][0]["timeZone"] == "UTC"
    assert idm_server.get("scheduler/job", params={"_queryId": "other"}).status_code == 400
    assert idm_server.request("PUT", "scheduler/job/x", json=recon_schedule()).status_code == 501
    assert idm_server.request("POST", "scheduler/job?_action=nothing").status_code == 400


# --- restarts ---------------------------------------------------------------------------------------------------------


def _restart_with_stored_next_fire(handle, name, seconds_ago):
    """Stop the server, move the persisted trigger's next fire time into the past (as if the server had been
    down), start it again."""
    handle.server.stop()
    connection = sqlite3.connect(f"{handle.state_dir}/idm.sqlite3")
    with connection:
        changed = connection.execute(
            "UPDATE scheduler_triggers SET next_fire = ? WHERE name = ?", (time.time() - seconds_ago, name)
        ).rowcount
    connection.close()
    handle.server = IdmServer(handle.state_dir, **handle.options).start()
    return changed


@pytest.mark.parametrize(
    "policy, persisted, fires",
    [
        (FIRE_AND_PROCEED, True, True),  # the missed run is made up once
        (DO_NOTHING, True, False),  # missed runs are discarded
        (FIRE_AND_PROCEED, False, False),  # in-memory schedules start afresh
    ],
)
def test_missed_fire_after_a_restart(idm, policy, persisted, fires):
    # A yearly schedule: the only way it fires during the test is as a made-up missed run.
    put_config(
        idm,
        "schedule/yearly",
        recon_schedule("0 0 0 1 1 ? 2099", persisted=persisted, misfirePolicy=policy, timeZone="UTC"),
    )
    changed = _restart_with_stored_next_fire(idm, "yearly", 120)
    assert changed == (1 if persisted else 0)
    if fires:
        assert wait_for(lambda: runs_of(idm)), "the missed run was not made up after the restart"
        job = idm.get("scheduler/job/yearly").json()
        assert job["nextRunDate"].startswith("2099-01-01")
    else:
        time.sleep(1.5)
        assert runs_of(idm) == []
    assert scheduler(idm).job("yearly").config.misfire_policy == policy
