"""Inside the role, failure messages name the role variable a user sets, not the module option the role sets from
it (roles/scim_sync/tasks/rescue.yml). The messages below are the modules' real texts; the role's rescue runs on
each as it does after a failed task, and the test reads what the user would read."""

from __future__ import annotations

import json

import pytest
import yaml

from sandbox import testing as proofkit

CONNECTION_ERROR = (
    "Connector test failed after 1 attempt(s) in 0 s; scim: Connection Error (IDM reports 'Connection Error' when "
    "the target system rejects the connector's credentials: check clientId, clientSecret and tokenEndpoint for "
    "OAUTH, user and password for BASIC, authToken for TOKEN)"
)

CASES = [
    pytest.param(
        "scim_provider_info",
        {"msg": "auth_method is BASIC but all of the following are missing: user, password"},
        "scim_sync_scim_auth_method is BASIC but all of the following are missing: scim_sync_scim_user, "
        "scim_sync_scim_password",
        id="preflight-required-if",
    ),
    pytest.param(
        "connector_test",
        {"msg": CONNECTION_ERROR},
        "Connector test failed after 1 attempt(s) in 0 s; scim: Connection Error (IDM reports 'Connection Error' "
        "when the target system rejects the connector's credentials: check scim_sync_scim_client_id, "
        "scim_sync_scim_client_secret and scim_sync_scim_token_endpoint for OAUTH, scim_sync_scim_user and "
        "scim_sync_scim_password for BASIC, scim_sync_scim_token for TOKEN)",
        id="connection-error",
    ),
    pytest.param(
        "scim_provider_info",
        {
            "msg": "token_endpoint (https://p/token) rejected client_id 'idm' and its client_secret "
            "(answered 401: no; tried client_secret_basic and client_secret_post). Check "
            "client_id and client_secret."
        },
        "scim_sync_scim_token_endpoint (https://p/token) rejected scim_sync_scim_client_id 'idm' and its "
        "scim_sync_scim_client_secret (answered 401: no; tried client_secret_basic and client_secret_post). Check "
        "scim_sync_scim_client_id and scim_sync_scim_client_secret.",
        id="word-boundaries",
    ),
    pytest.param(
        "scim_provider_info",
        {"msg": "The provider refused user=admin. Check the password. A user (admin) exists."},
        "The provider refused scim_sync_scim_user=admin. Check the scim_sync_scim_password. A scim_sync_scim_user "
        "(admin) exists.",
        id="plain-word-contexts",
    ),
    pytest.param(
        "connector",
        {
            "msg": "update_secrets=when_different needs to decrypt the stored secrets of connector 'scim' "
            "with POST script?_action=eval; set update_secrets=on_create or update_secrets=always."
        },
        "scim_sync_connector_update_secrets=when_different needs to decrypt the stored secrets of connector 'scim' "
        "with POST script?_action=eval; set scim_sync_connector_update_secrets=on_create or "
        "scim_sync_connector_update_secrets=always.",
        id="update-secrets",
    ),
    pytest.param(
        "info",
        {"msg": "auth_type is headers but all of the following are missing: username, password"},
        "scim_sync_idm_auth_type is headers but all of the following are missing: scim_sync_idm_username, "
        "scim_sync_idm_password",
        id="idm-credentials",
    ),
    pytest.param(
        "info",
        {
            "msg": "GET info/ping on http://127.0.0.1:1/openidm failed: IDM answered 401 Unauthorized "
            '"Access Denied". Check username and password (sent as X-OpenIDM-Username/X-OpenIDM-Password).'
        },
        'GET info/ping on http://127.0.0.1:1/openidm failed: IDM answered 401 Unauthorized "Access Denied". Check '
        "scim_sync_idm_username and scim_sync_idm_password (sent as X-OpenIDM-Username/X-OpenIDM-Password).",
        id="idm-401",
    ),
    pytest.param(
        "recon",
        {
            "msg": "Unsupported parameters for (idmops.pingidm.recon) module: changed_mappings. Supported "
            "parameters include: fail_on, mappings, password."
        },
        "Unsupported parameters for (idmops.pingidm.recon) module: changed_mappings. Supported parameters include: "
        "fail_on, mappings, password.",
        id="version-mismatch-stays",
    ),
    pytest.param(
        "info",
        {"msg": "TLS certificate of idm.example.com could not be verified. Check validate_certs and ca_path."},
        "TLS certificate of idm.example.com could not be verified. Check scim_sync_idm_validate_certs and "
        "scim_sync_idm_ca_path.",
        id="idm-tls",
    ),
    pytest.param(
        "connector",
        {
            "msg": "Connector 'scim' was saved, but IDM did not start it within 60 s (last answer: x). "
            "Check the connector bundle and IDM's log, or raise wait_timeout."
        },
        "Connector 'scim' was saved, but IDM did not start it within 60 s (last answer: x). Check the connector "
        "bundle and IDM's log, or raise scim_sync_connector_wait_timeout.",
        id="connector-wait-timeout",
    ),
    pytest.param(
        "recon",
        {"msg": "mappings must list at least one mapping name, and no empty names."},
        "scim_sync_recon_mappings must list at least one mapping name, and no empty names.",
        id="recon-mappings",
    ),
    pytest.param(
        "recon",
        {
            "msg": "Unknown mapping 'nope'. The server has these mappings: a, b. The password of the admin "
            "is fine; user names are case-insensitive."
        },
        "Unknown mapping 'nope'. The server has these mappings: a, b. The password of the admin is fine; user "
        "names are case-insensitive.",
        id="plain-words-stay",
    ),
    pytest.param(
        "assert",
        {
            "msg": "sync.json.j2: configurationProperties.password is required for authenticationMethod "
            "BASIC (set scim_sync_scim_password)"
        },
        "sync.json.j2: configurationProperties.password is required for authenticationMethod BASIC (set "
        "scim_sync_scim_password)",
        id="json-paths-stay",
    ),
    pytest.param(
        "recon",
        {
            "msg": "Recon 42 of 'managedUser_systemScimAccount': 2 entries failed.",
            "recons": [
                {
                    "mapping": "managedUser_systemScimAccount",
                    "failed": True,
                    "recon": {
                        "failure_samples": [
                            {
                                "situation": "CONFIRMED",
                                "action": "UPDATE",
                                "sourceObjectId": "managed/user/7",
                                "targetObjectId": "system/scim/account/u7",
                                "message": "400 invalidPath: urn:...:enterprise:2.0:User:department",
                            },
                            {
                                "situation": "ABSENT",
                                "action": "CREATE",
                                "sourceObjectId": "managed/user/8",
                                "message": "409 uniqueness",
                            },
                        ]
                    },
                }
            ],
        },
        "Recon 42 of 'managedUser_systemScimAccount': 2 entries failed. First failed entries: CONFIRMED/UPDATE "
        "managed/user/7: 400 invalidPath: urn:...:enterprise:2.0:User:department; ABSENT/CREATE managed/user/8: "
        "409 uniqueness",
        id="recon-failed-entries",
    ),
]


@pytest.fixture(scope="module")
def rewritten(tmp_path_factory):
    """Run the role's rescue once per case in one playbook; return the message per case index."""
    workdir = tmp_path_factory.mktemp("role-messages")
    tasks = []
    for index, case in enumerate(CASES):
        module, failure = case.values[:2]
        tasks.append(
            {
                "name": f"case {index}",
                "ansible.builtin.include_role": {
                    "name": "idmops.pingidm.scim_sync",
                    "tasks_from": "rescue.yml",
                    "apply": {"ignore_errors": True},
                },
                "vars": {
                    "ansible_failed_result": failure,
                    "ansible_failed_task": {
                        "action": f"idmops.pingidm.{module}" if module != "assert" else "ansible.builtin.assert"
                    },
                },
            }
        )
    playbook = workdir / "messages.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    inventory = proofkit.write_localhost_inventory(workdir / "inventory.yml")
    run = proofkit.run_playbook(playbook, [inventory], workdir=workdir)
    messages = [task["result"].get("msg") for task in run.tasks if task["action"] == "ansible.builtin.fail"]
    assert len(messages) == len(CASES), run.describe()
    return messages


@pytest.mark.parametrize("index", range(len(CASES)), ids=[case.id for case in CASES])
def test_failure_message_names_role_variables(rewritten, index):
    expected = CASES[index].values[2]
    assert rewritten[index] == expected, json.dumps({"got": rewritten[index], "expected": expected}, indent=1)
