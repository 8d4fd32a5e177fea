# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""recon_info against the fake recon server of test_recon."""

from __future__ import annotations

import pytest

from ansible_collections.idmops.pingidm.plugins.modules import recon_info
from ansible_collections.idmops.pingidm.tests.unit.plugins.modules.test_recon import MAPPING, OTHER, FakeRecon, Outcome


@pytest.fixture
def server(fake_idm):
    server = FakeRecon(fake_idm)
    first = server.add_run(MAPPING, Outcome(active_polls=0, created=3, links=3), started="2026-11-29T10:00:00.000Z")
    second = server.add_run(OTHER, Outcome(active_polls=0, state="FAILED"), started="2026-11-29T10:05:00.000Z")
    third = server.add_run(MAPPING, Outcome(active_polls=0, unchanged=3), started="2026-11-29T10:10:00.000Z")
    for run_id in (first, second, third):
        server._finish(server.runs[run_id], server.runs[run_id]["outcome"].state)
    server.add_run(MAPPING, Outcome(active_polls=10**6), started="2026-11-29T10:20:00.000Z")
    return server


@pytest.mark.parametrize("shape", ["wrapped", "bare"])
def test_lists_all_runs_oldest_first(run_module, idm_args, server, shape):
    server.list_shape = shape
    result = run_module(recon_info, idm_args)
    assert result["failed"] is False and result["changed"] is False
    runs = result["reconciliations"]
    assert [r["id"] for r in runs] == ["run-1", "run-2", "run-3", "run-4"]
    assert runs[0]["counters"]["created"] == 3 and runs[0]["has_changes"] is True
    assert runs[2]["has_changes"] is False
    assert runs[3]["state"] == "ACTIVE" and runs[3]["ended"] is None
    assert "source" in runs[0]["progress"]


def test_filters_by_mapping_and_state(run_module, idm_args, server):
    result = run_module(recon_info, dict(idm_args, mapping=MAPPING, state=["SUCCESS"]))
    assert [r["id"] for r in result["reconciliations"]] == ["run-1", "run-3"]
    result = run_module(recon_info, dict(idm_args, state=["ACTIVE"]))
    assert [r["id"] for r in result["reconciliations"]] == ["run-4"]


def test_latest_of_a_mapping(run_module, idm_args, server):
    result = run_module(recon_info, dict(idm_args, mapping=MAPPING, latest=True))
    assert [r["id"] for r in result["reconciliations"]] == ["run-4"]
    result = run_module(recon_info, dict(idm_args, mapping=OTHER, latest=True))
    assert [r["id"] for r in result["reconciliations"]] == ["run-2"]
    assert result["reconciliations"][0]["summary"].endswith("(FAILED)")


def test_read_one_by_id_and_unknown_id(run_module, idm_args, server, fake_idm):
    result = run_module(recon_info, dict(idm_args, id="run-3"))
    assert [r["id"] for r in result["reconciliations"]] == ["run-3"]
    assert fake_idm.calls_to("GET", "recon/run-3") and not fake_idm.calls_to("GET", "recon")
    assert run_module(recon_info, dict(idm_args, id="gone"))["reconciliations"] == []


def test_server_error_fails_cleanly(run_module, idm_args, server, fake_idm):
    fake_idm.fail("GET", r"recon", 500, "boom")
    result = run_module(recon_info, idm_args)
    assert result["failed"] is True and "500" in result["msg"] and "recon" in result["msg"]
