"""State file: debounced writes, flushed on SIGTERM/SIGINT, reloaded on start; seeding only for a new file."""

from __future__ import annotations

import json
import signal

import requests

from sandbox.tests.scim.scim_support import GROUP_SCHEMA, USER_SCHEMA


def headers():
    return {"Authorization": "Bearer persist-token"}


ENV = {"SCIM_STATIC_TOKENS": "persist-token"}


def test_state_survives_sigterm_and_restart(start_provider, tmp_path):
    first = start_provider("--users", "20", "--groups", "3", env=ENV)
    assert "seeded" in first.output()
    user = requests.post(
        f"{first.url}/scim/v2/Users",
        headers=headers(),
        json={"schemas": [USER_SCHEMA], "userName": "persisted", "password": "pw-123456"},
    ).json()
    group = requests.post(
        f"{first.url}/scim/v2/Groups",
        headers=headers(),
        json={"schemas": [GROUP_SCHEMA], "displayName": "persisted-group", "members": [{"value": user["id"]}]},
    ).json()
    assert first.stop(signal.SIGTERM) == 0
    assert first.state.stat().st_mode & 0o777 == 0o600
    saved = json.loads(first.state.read_text())
    assert saved["format"] == 1 and len(saved["resources"]) == 20 + 3 + 2

    # Different seed arguments must not reseed an existing state.
    second = start_provider("--users", "5", "--groups", "1", env=ENV, state=first.state)
    assert "loaded" in second.output()
    users = requests.get(f"{second.url}/scim/v2/Users", headers=headers(), params={"count": 0}).json()
    assert users["totalResults"] == 21
    again = requests.get(f"{second.url}/scim/v2/Users/{user['id']}", headers=headers()).json()
    assert again["userName"] == "persisted" and again["groups"][0]["value"] == group["id"]
    same_meta = ("created", "lastModified", "version")
    assert [again["meta"][k] for k in same_meta] == [user["meta"][k] for k in same_meta]
    # Versions continue upwards after a restart, so old ETags never come back.
    changed = requests.patch(
        f"{second.url}/scim/v2/Users/{user['id']}",
        headers=headers(),
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "title", "value": "t"}],
        },
    ).json()
    version = lambda v: int(v.strip('W/"'))  # noqa: E731
    assert version(changed["meta"]["version"]) > saved["lastVersion"]

    requests.delete(f"{second.url}/scim/v2/Users/{user['id']}", headers=headers())
    assert second.stop(signal.SIGINT) == 0
    third = start_provider(env=ENV, state=first.state)
    assert requests.get(f"{third.url}/scim/v2/Users/{user['id']}", headers=headers()).status_code == 404
    members = requests.get(f"{third.url}/scim/v2/Groups/{group['id']}", headers=headers()).json()
    assert "members" not in members


def test_writes_are_debounced_not_per_request(serve_app, tmp_path):
    state = tmp_path / "debounce.json"
    server = serve_app(static_tokens=["t"], state_path=state, state_interval=0.5)
    session = requests.Session()
    session.headers["Authorization"] = "Bearer t"
    for index in range(40):
        assert (
            session.post(
                f"{server.url}/scim/v2/Users", json={"schemas": [USER_SCHEMA], "userName": f"d{index}"}
            ).status_code
            == 201
        )
    writer = server.app.state_writer
    assert writer.writes <= 3  # 40 changes in well under 1.5 s
    server.app.close()
    assert len(json.loads(state.read_text())["resources"]) == 40
