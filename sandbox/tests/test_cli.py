"""`python -m sandbox up/status/down` end to end: real subprocesses, two tenants, TLS, restart persistence; then
per-tenant profiles (provider, SCIM auth, quirks, IDM readings) side by side.

Few end-to-end tests on purpose: starting the servers dominates the cost (~3 s per `up`). Profile validation and the
forwarding of IDM readings are checked without starting anything (the IDM side of --reading is another module's).
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
import requests
import yaml

from sandbox import cli
from sandbox.cli.commands import idm_argv
from sandbox.cli.common import default_profile
from sandbox.cli.processes import pid_alive, stop_pid
from sandbox.cli.profiles import ProfileError, build_profiles
from sandbox.testing import sandbox_cmd


def run_cli(*args):
    return sandbox_cmd(*args, timeout=60)


@pytest.fixture
def sandbox_state(tmp_path):
    state = tmp_path / "sb"
    yield state
    # Whatever happened, stop what `up` started (by pid, through the CLI's own down).
    if (state / "sandbox.json").exists():
        run_cli("down", "--state", str(state))


def test_up_status_down_two_tenants_tls_and_persistence(sandbox_state):
    state = str(sandbox_state)
    up = run_cli("up", "--tenants", "2", "--users", "3", "--groups", "1", "--tls", "--state", state)
    assert up.returncode == 0, up.stderr
    data = json.loads((sandbox_state / "sandbox.json").read_text())
    assert [t["name"] for t in data["tenants"]] == ["tenant1", "tenant2"]
    for path in ("sandbox.json", "inventory.yml"):
        assert stat.S_IMODE(os.stat(sandbox_state / path).st_mode) == 0o600
    secrets = [t["scim"]["client_secret"] for t in data["tenants"]]
    assert len(set(secrets)) == 2
    assert not any(secret in up.stdout + up.stderr for secret in secrets)

    hosts = yaml.safe_load((sandbox_state / "inventory.yml").read_text())["all"]["children"]["idm_tenants"]["hosts"]
    tenant1 = hosts["tenant1"]
    assert tenant1["ansible_connection"] == "local"
    assert tenant1["ansible_python_interpreter"] == "{{ ansible_playbook_python }}"
    assert tenant1["idm_url"].startswith("https://127.0.0.1:") and tenant1["scim_endpoint"].endswith("/scim/v2")
    assert tenant1["scim_auth_method"] == "OAUTH" and tenant1["idm_ca_path"] == data["ca_path"]
    ca = tenant1["idm_ca_path"]

    # Both servers answer over TLS with the generated CA, and the SCIM provider got the secret via env.
    admin = {"X-OpenIDM-Username": tenant1["idm_username"], "X-OpenIDM-Password": tenant1["idm_password"]}
    created = requests.post(
        tenant1["idm_url"] + "/openidm/managed/user?_action=create",
        headers=admin,
        json={"userName": "persisted", "givenName": "P", "sn": "Ersisted", "mail": "persisted@example.com"},
        verify=ca,
        timeout=5,
    )
    assert created.status_code == 201
    token = requests.post(
        tenant1["scim_token_endpoint"],
        data={"grant_type": "client_credentials"},
        auth=(tenant1["scim_client_id"], tenant1["scim_client_secret"]),
        verify=ca,
        timeout=5,
    )
    assert token.status_code == 200
    users = requests.get(
        tenant1["scim_endpoint"] + "/Users",
        verify=ca,
        timeout=5,
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
    ).json()
    assert users["totalResults"] == 3
    for tenant in data["tenants"]:
        for kind in ("idm", "scim"):
            argv = Path(f"/proc/{tenant[kind]['pid']}/cmdline").read_bytes().decode()
            assert tenant["scim"]["client_secret"] not in argv

    status = run_cli("status", "--state", state)
    assert status.returncode == 0 and status.stdout.count("answers") == 4
    again = run_cli("up", "--tenants", "2", "--users", "3", "--groups", "1", "--tls", "--state", state)
    assert again.returncode == 0 and "already up" in again.stdout

    pids = [t[kind]["pid"] for t in data["tenants"] for kind in ("idm", "scim")]
    down = run_cli("down", "--state", state)
    assert down.returncode == 0
    assert not any(pid_alive(pid) for pid in pids)
    after = json.loads((sandbox_state / "sandbox.json").read_text())
    assert all(t[kind]["pid"] is None for t in after["tenants"] for kind in ("idm", "scim"))
    assert run_cli("status", "--state", state).returncode == 1

    # Up again on the same state: same secrets, the IDM user is still there.
    assert run_cli("up", "--tenants", "1", "--users", "3", "--groups", "1", "--tls", "--state", state).returncode == 0
    restarted = json.loads((sandbox_state / "sandbox.json").read_text())["tenants"][0]
    assert restarted["scim"]["client_secret"] == secrets[0]
    found = requests.get(
        restarted["idm"]["url"] + '/openidm/managed/user?_queryFilter=userName eq "persisted"',
        headers=admin,
        verify=ca,
        timeout=5,
    ).json()
    assert found["resultCount"] == 1


def test_down_leaves_foreign_pids_alone(tmp_path):
    # A pid that runs something else (this test process) must not be signalled.
    assert stop_pid(os.getpid(), "sandbox.idm") == "pid reused by another program; left alone"
    assert stop_pid(None, "sandbox.idm") == "not running"
    assert run_cli("down", "--state", str(tmp_path / "none")).stdout.startswith("sandbox is not up")


def write_profiles(tmp_path, profiles):
    path = tmp_path / "profiles.json"
    path.write_text(json.dumps(profiles))
    return str(path)


def test_profiles_auth_quirks_and_second_provider_side_by_side(sandbox_state, tmp_path):
    state = str(sandbox_state)
    profiles = write_profiles(
        tmp_path,
        {
            "tenant2": {"scim_auth": "BASIC", "scim_quirks": ["no_enterprise"]},
            "tenant3": {"provider": "django_scim", "scim_quirks": []},
        },
    )
    argv = [
        "up",
        "--tenants",
        "3",
        "--users",
        "3",
        "--groups",
        "1",
        "--scim-quirk",
        "ignore_count",
        "--tenant-profiles",
        profiles,
        "--state",
        state,
    ]
    # The sandbox provider's default auth is OAUTH; django_scim has no token endpoint, so it defaults to TOKEN.
    up = run_cli(*argv)
    assert up.returncode == 0, up.stderr
    data = json.loads((sandbox_state / "sandbox.json").read_text())
    hosts = yaml.safe_load((sandbox_state / "inventory.yml").read_text())["all"]["children"]["idm_tenants"]["hosts"]
    t1, t2, t3 = (hosts[f"tenant{i}"] for i in (1, 2, 3))
    assert t1["sandbox_profile"] == {
        "provider": "sandbox",
        "scim_auth": "OAUTH",
        "scim_quirks": ["ignore_count"],
        "idm_readings": [],
    }
    assert t2["sandbox_profile"]["scim_quirks"] == ["no_enterprise"] and t2["sandbox_profile"]["scim_auth"] == "BASIC"
    assert t3["sandbox_profile"] == {
        "provider": "django_scim",
        "scim_auth": "TOKEN",
        "scim_quirks": [],
        "idm_readings": [],
    }
    # Each tenant's inventory has exactly the variables of its method.
    assert {k for k in t1 if k.startswith("scim_")} == {
        "scim_endpoint",
        "scim_version",
        "scim_auth_method",
        "scim_token_endpoint",
        "scim_client_id",
        "scim_client_secret",
    }
    assert t2["scim_auth_method"] == "BASIC" and "scim_token" not in t2 and "scim_client_secret" not in t2
    assert t3["scim_auth_method"] == "TOKEN" and set(t3) >= {"scim_token"} and "scim_password" not in t3
    secrets = [t2["scim_password"], t3["scim_token"], t1["scim_client_secret"]]
    assert not any(s in up.stdout + up.stderr for s in secrets)
    for tenant in data["tenants"]:
        argv_text = Path(f"/proc/{tenant['scim']['pid']}/cmdline").read_bytes().decode()
        assert not any(s in argv_text for s in secrets)

    # tenant1: OAuth only, and the quirk from --scim-quirk (count ignored).
    token = requests.post(
        t1["scim_token_endpoint"],
        data={"grant_type": "client_credentials"},
        auth=(t1["scim_client_id"], t1["scim_client_secret"]),
        timeout=5,
    ).json()["access_token"]
    page = requests.get(
        t1["scim_endpoint"] + "/Users", params={"count": 1}, timeout=5, headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert page["itemsPerPage"] == 3
    # tenant2: Basic only (its provider refuses the bearer token of another method), no enterprise extension.
    assert (
        requests.get(
            t2["scim_endpoint"] + "/Users", timeout=5, headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 401
    )
    user_type = requests.get(
        t2["scim_endpoint"] + "/ResourceTypes/User", timeout=5, auth=(t2["scim_user"], t2["scim_password"])
    )
    assert user_type.status_code == 200 and "schemaExtensions" not in user_type.json()
    # tenant3: the second server, seeded, with its static token.
    listed = requests.get(
        t3["scim_endpoint"] + "/Users", timeout=5, headers={"Authorization": f"Bearer {t3['scim_token']}"}
    ).json()
    assert listed["totalResults"] == 3 and "id" in listed["Resources"][0]
    assert "sandbox.django_scim" in Path(f"/proc/{data['tenants'][2]['scim']['pid']}/cmdline").read_bytes().decode()

    assert run_cli(*argv).stdout.startswith("sandbox already up")
    # Down and up again: same secrets; a changed profile restarts the tenants with it.
    assert run_cli("down", "--state", state).returncode == 0
    changed = write_profiles(
        tmp_path, {"tenant2": {"scim_auth": "TOKEN"}, "tenant3": {"provider": "django_scim", "scim_auth": "BASIC"}}
    )
    again = run_cli(
        "up", "--tenants", "3", "--users", "3", "--groups", "1", "--tenant-profiles", changed, "--state", state
    )
    assert again.returncode == 0, again.stderr
    hosts = yaml.safe_load((sandbox_state / "inventory.yml").read_text())["all"]["children"]["idm_tenants"]["hosts"]
    assert hosts["tenant1"]["scim_client_secret"] == t1["scim_client_secret"]
    assert hosts["tenant2"]["scim_auth_method"] == "TOKEN"
    assert (
        hosts["tenant3"]["scim_password"]
        == json.loads((sandbox_state / "sandbox.json").read_text())["tenants"][2]["scim"]["basic_password"]
    )
    assert (
        requests.get(
            hosts["tenant3"]["scim_endpoint"] + "/Users",
            timeout=5,
            auth=(hosts["tenant3"]["scim_user"], hosts["tenant3"]["scim_password"]),
        ).json()["totalResults"]
        == 3
    )  # the SQLite database survived


def up_argv(tmp_path, extra=(), profiles=None):
    argv = ["up", "--tenants", "2", *extra]
    if profiles is not None:
        argv += ["--tenant-profiles", write_profiles(tmp_path, profiles)]
    return argv


def profile_args(tmp_path, *extra, profiles=None):
    return cli.build_parser().parse_args(up_argv(tmp_path, extra, profiles))


def test_readings_are_forwarded_to_every_idm(tmp_path):
    args = profile_args(
        tmp_path,
        "--idm-reading",
        "exception_status=failure",
        "--idm-reading",
        "alt",
        profiles={"tenant2": {"idm_readings": {"exception_status": "success", "recon_target_fields": "mapped"}}},
    )
    profiles = build_profiles(args)
    assert profiles["tenant1"]["idm_readings"] == ["exception_status=failure", "alt"]
    assert profiles["tenant2"]["idm_readings"] == ["exception_status=success", "alt", "recon_target_fields=mapped"]
    plan = {"profile": profiles["tenant2"], "idm": {"state_dir": str(tmp_path)}, "name": "tenant2"}
    argv = idm_argv(args, plan, 2)
    assert argv[argv.index("--reading") :] == [
        "--reading",
        "exception_status=success",
        "--reading",
        "alt",
        "--reading",
        "recon_target_fields=mapped",
    ]
    assert "--reading" not in idm_argv(
        profile_args(tmp_path), {"profile": default_profile(), "idm": {"state_dir": "x"}}, 1
    )
    listed = build_profiles(profile_args(tmp_path, profiles={"tenant1": {"idm_readings": ["alt"]}}))
    assert listed["tenant1"]["idm_readings"] == ["alt"] and listed["tenant2"]["idm_readings"] == []


def test_port_bases_give_each_tenant_its_port(tmp_path):
    plan = {"profile": default_profile(), "idm": {"state_dir": "x"}}
    args = profile_args(tmp_path)
    assert idm_argv(args, plan, 2)[3:5] == ["--port", "0"]  # no base: a free port
    args.idm_port_base = 18080
    assert idm_argv(args, plan, 1)[:5] == [sys.executable, "-m", "sandbox.idm", "--port", "18080"]
    assert idm_argv(args, plan, 3)[3:5] == ["--port", "18082"]


@pytest.mark.parametrize(
    "extra, profiles, message",
    [
        (("--provider", "django_scim", "--scim-auth", "OAUTH"), None, "supports scim_auth TOKEN or BASIC, not OAUTH"),
        (("--provider", "django_scim", "--scim-quirk", "bare_members"), None, "quirks are switches of the sandbox"),
        (("--provider", "django_scim", "--scim-version", "1"), None, "SCIM 2.0 only"),
        (("--scim-quirk", "omit_nulls"), None, "unknown quirk(s) omit_nulls"),
        (("--idm-reading", "exception_status"), None, "is not NAME=VALUE or alt"),
        ((), {"tenant3": {}}, "names 'tenant3', but the tenants are tenant1, tenant2"),
        ((), {"tenant1": {"quirks": []}}, "keys among provider, scim_auth, scim_quirks, idm_readings"),
        ((), {"tenant1": {"provider": "okta"}}, "unknown provider 'okta'"),
        ((), {"tenant2": {"idm_readings": {"alt": "yes"}}}, '"alt" takes true'),
    ],
)
def test_bad_profiles_are_refused_before_anything_starts(tmp_path, extra, profiles, message):
    with pytest.raises(ProfileError) as info:
        build_profiles(profile_args(tmp_path, *extra, profiles=profiles))
    assert message in str(info.value)
    result = run_cli(*up_argv(tmp_path, extra, profiles), "--state", str(tmp_path / "never"))
    assert result.returncode == 2 and message in result.stderr
    assert not (tmp_path / "never").exists()
