"""The fault hook: /__sandbox/faults, applied to /scim and /oauth2 only."""

from __future__ import annotations

import time

import pytest
import requests

from sandbox.tests.scim.scim_support import CLIENT_ID, CLIENT_SECRET


@pytest.fixture
def faults(provider):
    url = f"{provider.url}/__sandbox/faults"
    yield url
    requests.delete(url)


def test_down_answers_503_everywhere_but_the_hook(provider, faults, scim):
    assert requests.post(faults, json={"down": True}).json()["down"] is True
    for response in (
        scim.get(f"{provider.url}/scim/v2/Users"),
        requests.get(f"{provider.url}/scim/v2/ServiceProviderConfig"),
        scim.get(f"{provider.url}/scim/v1/Users"),
        requests.post(
            f"{provider.url}/oauth2/token", data={"grant_type": "client_credentials"}, auth=(CLIENT_ID, CLIENT_SECRET)
        ),
    ):
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
    assert requests.get(faults).json()["down"] is True
    reset = requests.delete(faults).json()
    assert reset == {"down": False, "latency": 0.0, "error_rate": 0.0, "error_status": 500}
    assert scim.get(f"{provider.url}/scim/v2/Users").status_code == 200


def test_error_rate_and_status(provider, faults, scim):
    requests.post(faults, json={"error_rate": 1, "error_status": 502})
    response = scim.get(f"{provider.url}/scim/v2/Users")
    assert response.status_code == 502 and response.json()["status"] == "502"
    requests.post(faults, json={"error_rate": 0})
    assert scim.get(f"{provider.url}/scim/v2/Users").status_code == 200


def test_latency(provider, faults, scim):
    # A latency far above a normal answer's time, so a busy shared machine cannot blur "delayed" and "not".
    requests.post(faults, json={"latency": 2.0})
    started = time.monotonic()
    assert scim.get(f"{provider.url}/scim/v2/ServiceProviderConfig").status_code == 200
    assert time.monotonic() - started >= 2.0
    started = time.monotonic()
    requests.get(faults)  # the hook itself is never delayed
    assert time.monotonic() - started < 1.0


def test_bad_fault_settings_are_refused(faults):
    for body in ({"down": "yes"}, {"error_rate": 2}, {"latency": -1}, {"error_status": 200}, {"surprise": 1}, [1]):
        assert requests.post(faults, json=body).status_code == 400, body
    assert requests.put(faults, json={}).status_code == 405
