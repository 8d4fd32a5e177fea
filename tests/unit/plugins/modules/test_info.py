# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.idmops.pingidm.plugins.modules import info
from ansible_collections.idmops.pingidm.tests.unit.conftest import ADMIN_PASSWORD, crest_error


def test_reports_state_and_version_never_changed(fake_idm, run_module, idm_args):
    result = run_module(info, idm_args)
    assert not result["failed"] and result["changed"] is False
    assert result["ready"] is True
    assert result["ping"]["state"] == "ACTIVE_READY"
    assert result["version"]["productVersion"] == "7.5.0"
    assert ADMIN_PASSWORD not in result.raw_output


def test_not_ready_without_wait_is_reported_not_failed(fake_idm, run_module, idm_args):
    fake_idm.ping_states = ["STARTING"]
    result = run_module(info, idm_args)
    assert not result["failed"] and result["ready"] is False and result["ping"]["state"] == "STARTING"


def test_wait_ready_polls_through_starting_and_connection_errors(fake_idm, run_module, idm_args, virtual_clock):
    fake_idm.fail("GET", r"info/ping", None, times=2)  # server not listening yet
    fake_idm.ping_states = ["STARTING", "ACTIVE_NOT_READY"]
    result = run_module(info, dict(idm_args, wait_ready=True, wait_timeout=30))
    assert not result["failed"] and result["ready"] is True
    assert result["waited"] == 4.0
    assert len(fake_idm.calls_to("GET", "info/ping")) == 5


def test_wait_ready_times_out_with_last_state(fake_idm, run_module, idm_args):
    fake_idm.ping_states = ["STARTING"] * 100
    result = run_module(info, dict(idm_args, wait_ready=True, wait_timeout=5))
    assert result["failed"] and result["changed"] is False
    assert "was not ready within 5 s (last state STARTING)" in result["msg"]
    assert len(fake_idm.calls_to("GET", "info/ping")) == 6


def test_wait_ready_fails_at_once_on_auth_error(fake_idm, run_module, idm_args):
    result = run_module(info, dict(idm_args, password="wrong-pw-123", wait_ready=True))
    assert result["failed"] and result["status"] == 401
    assert len(fake_idm.calls_to("GET", "info/ping")) == 1
    assert "wrong-pw-123" not in result.raw_output


def test_falls_back_to_health_ready_when_info_ping_is_gone(fake_idm, run_module, idm_args):
    fake_idm.route("GET", r"info/ping", lambda f, r, m: crest_error(404, "Not Found"))
    answers = [crest_error(503, "not ready"), (200, {})]
    fake_idm.route("GET", r"health/ready", lambda f, r, m: answers.pop(0))
    result = run_module(info, idm_args)
    assert result["ready"] is False and result["ping"]["source"] == "health/ready"
    result = run_module(info, dict(idm_args, wait_ready=True))
    assert result["ready"] is True and result["ping"]["state"] == "ACTIVE_READY"


def test_missing_version_endpoint_gives_null(fake_idm, run_module, idm_args):
    fake_idm.route("GET", r"info/version", lambda f, r, m: crest_error(404, "Not Found"))
    assert run_module(info, idm_args)["version"] is None


def test_version_read_after_the_wait_still_retries_a_busy_idm(fake_idm, run_module, idm_args, virtual_clock):
    fake_idm.fail("GET", r"info/version", 503, "Injected fault", times=1)
    result = run_module(info, dict(idm_args, wait_ready=True))
    assert not result["failed"] and result["ready"] is True and result["version"]["productVersion"]


def test_wait_ready_fails_at_once_when_the_host_does_not_resolve(fake_idm, run_module, idm_args, virtual_clock):
    result = run_module(info, dict(idm_args, idm_url="http://idm.example.con:8080", wait_ready=True, wait_timeout=300))
    assert result["failed"] and result["kind"] == "dns"
    assert "the host name 'idm.example.con' does not resolve (DNS lookup failed)" in result["msg"]
    assert virtual_clock.now - 1000.0 < 5  # seconds, not the 300 s of wait_timeout


def test_wait_ready_gives_up_on_a_refused_port_after_refused_timeout(fake_idm, run_module, idm_args, virtual_clock):
    fake_idm.fail("GET", r"info/ping", None, kind="refused")
    result = run_module(info, dict(idm_args, wait_ready=True, wait_timeout=300))
    assert result["failed"] and result["kind"] == "refused" and result["ready"] is False
    assert result["msg"].startswith(
        "Nothing listens at http://idm.test:8080/openidm: connections were refused "
        "for 10 s, so this is not an IDM that is starting"
    )
    assert "idm.test:8080 (nothing listens on that port)" in result["msg"]
    assert 10 <= virtual_clock.now - 1000.0 < 15


def test_wait_ready_tolerates_refusals_shorter_than_refused_timeout(fake_idm, run_module, idm_args):
    fake_idm.fail("GET", r"info/ping", None, kind="refused", times=8)
    result = run_module(info, dict(idm_args, wait_ready=True, wait_timeout=300, refused_timeout=30))
    assert not result["failed"] and result["ready"] is True


def test_wait_ready_treats_dropped_connections_and_503_as_starting(fake_idm, run_module, idm_args):
    fake_idm.fail("GET", r"info/ping", None, kind="dropped", times=20)
    fake_idm.fail("GET", r"info/ping", 503, "starting", times=5)
    fake_idm.ping_states = ["STARTING"] * 5
    result = run_module(info, dict(idm_args, wait_ready=True, wait_timeout=300))
    assert not result["failed"] and result["ready"] is True and result["waited"] == 30.0


def test_idm_url_with_the_context_path_fails_before_any_request(fake_idm, run_module, idm_args):
    result = run_module(info, dict(idm_args, idm_url="http://idm.test:8080/openidm/", wait_ready=True))
    assert result["failed"] and fake_idm.calls == []
    assert result["msg"].startswith(
        "idm_url must not include the context path: write http://idm.test:8080 and context_path openidm"
    )


def test_version_false_reads_only_readiness(run_module, idm_args, fake_idm):
    result = run_module(info, dict(idm_args, version=False))
    assert result["ready"] is True and "version" not in result
    assert not fake_idm.calls_to("GET", "info/version")
