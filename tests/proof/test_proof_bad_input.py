"""Bad input, table-driven: every case must fail its task with a specific, helpful message, and leave IDM's
config and managed data as they were (snapshot of `GET /openidm/config?_queryFilter=true` + managed counts).

One sandbox serves the whole table (module-scoped fixture, configured once by the whole flow so that the
snapshot has a connector, mappings and data to protect); each case is one small generated playbook.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox import testing as proofkit

NS = "idmops.pingidm"


@pytest.fixture(scope="module")
def configured_sandbox(tmp_path_factory):
    """A sandbox (its IDM also has a user without script-eval rights: idm_noscript_username/password in the
    generated inventory), configured and reconciled once by playbooks/scim_sync.yml."""
    state_dir = tmp_path_factory.mktemp("bad-input-sandbox")
    sandbox = proofkit.sandbox_up(state_dir, tenants=1, users=5, groups=2)
    try:
        flow = proofkit.run_flow(sandbox, state_dir)
        assert flow.rc == 0, f"the flow must configure the sandbox first\n{flow.describe()}"
        yield sandbox
    finally:
        proofkit.sandbox_down(state_dir)


def free_port() -> int:
    """A loopback port nothing listens on (bound, read, released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Ctx:
    tenant: proofkit.Tenant
    tmp: Path
    dead_port: int

    def conn(self, **overrides: Any) -> dict:
        options = proofkit.connection_vars(self.tenant)
        options.update(overrides)
        return {k: v for k, v in options.items() if v is not None}

    def scim_connector_config(self, **properties: Any) -> dict:
        """A full SCIM connector config for this tenant's provider, rendered from the collection's template
        inputs would need Ansible; the tests build the few fields the sandbox connector reads directly."""
        host = self.tenant.hostvars
        base = {
            "SCIMEndpoint": host.get("scim_endpoint", self.tenant.scim_url),
            "SCIMVersion": int(host.get("scim_version", 2)),
            "authenticationMethod": "OAUTH",
            "grantType": "client_credentials",
            "tokenEndpoint": host.get("scim_token_endpoint"),
            "clientId": host.get("scim_client_id"),
            "clientSecret": host.get("scim_client_secret"),
            "connectionTimeout": 5,
            "maximumConnections": 2,
        }
        base.update(properties)
        return {
            "connectorRef": {
                "bundleName": "org.forgerock.openicf.connectors.scim-connector",
                "bundleVersion": "[1.5.0.0,1.6.0.0)",
                "connectorName": "org.forgerock.openicf.connectors.scim.ScimConnector",
            },
            "enabled": True,
            "configurationProperties": base,
            "objectTypes": {
                "account": {
                    "id": "__ACCOUNT__",
                    "type": "object",
                    "nativeType": "__ACCOUNT__",
                    "properties": {"userName": {"type": "string", "nativeName": "__NAME__", "required": True}},
                },
                "group": {
                    "id": "__GROUP__",
                    "type": "object",
                    "nativeType": "__GROUP__",
                    "properties": {"displayName": {"type": "string", "nativeName": "__NAME__", "required": True}},
                },
            },
        }

    def write(self, name: str, text: str) -> str:
        path = self.tmp / name
        path.write_text(text)
        return str(path)


@dataclass
class Case:
    id: str
    tasks: Callable[[Ctx], list[dict]]
    expect: list[str]  # regexes (case-insensitive), each must match the failure message
    setup: Callable[[Ctx], None] | None = None
    teardown: Callable[[Ctx], None] | None = None
    recon_runs_may_grow: bool = False  # a recon that fails still leaves its run in GET /openidm/recon
    must_not_contain: list[str] = field(default_factory=list)


def task(module: str, **options: Any) -> dict:
    return {"name": f"bad input: {module}", f"{NS}.{module}": options}


# Setup helpers: state prepared over REST before the snapshot is taken ------------------------------------------
EMPTY_SOURCE_MAPPING = "proofEmptySource_managedUser"


def _sync_mappings(ctx: Ctx) -> list[dict]:
    response = ctx.tenant.idm("GET", "config/sync")
    return response.json().get("mappings", []) if response.status_code == 200 else []


def add_empty_source_mapping(ctx: Ctx) -> None:
    """A mapping whose source (managed/role with a query that matches nothing) is empty: IDM fails such a recon
    unless allowEmptySourceSet is true."""
    mappings = [m for m in _sync_mappings(ctx) if m.get("name") != EMPTY_SOURCE_MAPPING]
    mappings.append(
        {
            "name": EMPTY_SOURCE_MAPPING,
            "source": "managed/role",
            "target": "managed/user",
            "sourceQuery": {"_queryFilter": 'name eq "no-such-role-anywhere"'},
            "properties": [{"source": "name", "target": "userName"}],
            "policies": [{"situation": "ABSENT", "action": "IGNORE"}],
        }
    )
    ctx.tenant.idm_json("PUT", "config/sync", {"mappings": mappings})


def remove_empty_source_mapping(ctx: Ctx) -> None:
    mappings = [m for m in _sync_mappings(ctx) if m.get("name") != EMPTY_SOURCE_MAPPING]
    ctx.tenant.idm_json("PUT", "config/sync", {"mappings": mappings})


def slow_scim_provider(ctx: Ctx) -> None:
    """Every SCIM request waits 4 s, so a recon stays ACTIVE well past a 1 s wait_timeout."""
    ctx.tenant.scim_faults(latency=4.0)


def fast_scim_provider_again(ctx: Ctx) -> None:
    ctx.tenant.scim_faults_reset()
    proofkit.wait_for(lambda: proofkit.active_recon(ctx.tenant) is None, 30, what="the timed-out recon to end")


def stored_connector_with_clear_secret(ctx: Ctx) -> dict:
    """The stored SCIM connector exactly, with the clear client secret in place of its $crypto value: only
    the secret can differ, so update_secrets=when_different has to decrypt the stored one."""
    stored = ctx.tenant.idm_json("GET", "config/provisioner.openicf/scim")
    stored.pop("_id", None)
    stored["configurationProperties"]["clientSecret"] = ctx.tenant.hostvars["scim_client_secret"]
    return stored


def role_vars(ctx: Ctx, **overrides: Any) -> dict:
    """The role's inputs for this tenant, as inventories/sandbox/group_vars maps them."""
    host = ctx.tenant.hostvars
    values = {
        "scim_sync_idm_url": ctx.tenant.idm_url,
        "scim_sync_idm_username": ctx.tenant.admin_user,
        "scim_sync_idm_password": ctx.tenant.admin_password,
        "scim_sync_scim_endpoint": host["scim_endpoint"],
        "scim_sync_scim_version": host.get("scim_version", 2),
        "scim_sync_scim_auth_method": "OAUTH",
        "scim_sync_scim_token_endpoint": host["scim_token_endpoint"],
        "scim_sync_scim_client_id": host["scim_client_id"],
        "scim_sync_scim_client_secret": host["scim_client_secret"],
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def role(ctx: Ctx, **overrides: Any) -> list[dict]:
    return [
        {
            "name": "bad input: role",
            "ansible.builtin.include_role": {"name": f"{NS}.scim_sync"},
            "vars": role_vars(ctx, **overrides),
        }
    ]


CASES: list[Case] = [
    # --- connection ---------------------------------------------------------------------------------------
    Case(
        "unreachable_url",
        lambda c: [task("info", **c.conn(idm_url=f"http://127.0.0.1:{c.dead_port}"))],
        [r"connection refused by 127\.0\.0\.1:%(dead_port)s \(nothing listens on that port\)"],
    ),
    Case(
        "wrong_scheme",
        lambda c: [task("info", **c.conn(idm_url=c.tenant.idm_url.replace("http", "ftp", 1)))],
        [r"idm_url", r"http"],
    ),
    Case(
        "url_without_scheme",
        lambda c: [task("info", **c.conn(idm_url=re.sub(r"^https?://", "", c.tenant.idm_url)))],
        [r"idm_url", r"http"],
    ),
    Case(
        "https_against_plain_http",
        lambda c: [task("info", **c.conn(idm_url=c.tenant.idm_url.replace("http://", "https://", 1)))],
        [r"TLS error", r"validate_certs"],  # not just "https": the URL in the message has it
    ),
    Case(
        "wrong_idm_credentials",
        lambda c: [task("info", **c.conn(password="proof-wrong-password-7781"))],
        [r"401", r"username|password|credential"],
        must_not_contain=["proof-wrong-password-7781"],
    ),
    Case(
        "expired_or_invalid_bearer_token",
        lambda c: [
            task("info", **c.conn(auth_type="bearer", token="proof-expired-token-5521", username=None, password=None))
        ],
        [r"401", r"token"],
        must_not_contain=["proof-expired-token-5521"],
    ),
    Case(
        "client_credentials_without_token_url",
        lambda c: [
            task(
                "info",
                **c.conn(
                    auth_type="client_credentials",
                    oauth_client_id="idm-provisioning",
                    oauth_client_secret="proof-oauth-secret-9931",
                ),
            )
        ],
        [r"oauth_token_url"],
        must_not_contain=["proof-oauth-secret-9931"],
    ),
    Case("unknown_auth_type", lambda c: [task("info", **c.conn(auth_type="kerberos"))], [r"auth_type", r"headers"]),
    Case(
        "wrong_context_path",
        lambda c: [task("info", **c.conn(context_path="no-such-context"))],
        [r"404", r"no-such-context"],
    ),
    # --- names that do not exist ---------------------------------------------------------------------------
    Case(
        "unknown_mapping", lambda c: [task("recon", mapping="proofNoSuchMapping", **c.conn())], [r"proofNoSuchMapping"]
    ),
    Case(
        "unknown_connector",
        lambda c: [task("connector_test", name="proofnosuchconnector", **c.conn())],
        [r"proofnosuchconnector"],
    ),
    # --- templates -----------------------------------------------------------------------------------------
    Case(
        "template_file_missing",
        lambda c: [task("connector", name="scim", template=str(c.tmp / "missing-provisioner.json.j2"), **c.conn())],
        [r"missing-provisioner\.json\.j2"],
    ),
    Case(
        "template_syntax_error",
        lambda c: [
            task("connector", name="scim", template=c.write("broken-syntax.json.j2", '{"a": {{ oops '), **c.conn())
        ],
        [r"broken-syntax\.json\.j2", r"syntax error"],
    ),
    Case(
        "template_renders_invalid_json",
        lambda c: [
            task(
                "connector",
                name="scim",
                template=c.write("not-json.json.j2", '{"enabled": {{ true | to_json }},, }'),
                **c.conn(),
            )
        ],
        [r"not-json\.json\.j2", r"did not render valid JSON"],  # not just "json": the file name has it
    ),
    Case(
        "mapping_template_renders_invalid_json",
        lambda c: [task("mapping", template=c.write("mappings-not-json.json.j2", "[{'name': 'x'}"), **c.conn())],
        [r"mappings-not-json\.json\.j2", r"did not render valid JSON"],
    ),
    # --- mapping data --------------------------------------------------------------------------------------
    Case(
        "mapping_without_source",
        lambda c: [
            task("mapping", name="proofNoSource", mapping={"target": "managed/user", "properties": []}, **c.conn())
        ],
        [r"proofNoSource", r"source"],
    ),
    Case(
        "duplicate_mapping_names",
        lambda c: [
            task(
                "mapping",
                mappings=[
                    {"name": "proofDup", "source": "system/scim/account", "target": "managed/user"},
                    {"name": "proofDup", "source": "managed/user", "target": "system/scim/account"},
                ],
                **c.conn(),
            )
        ],
        [r"proofDup", r"duplicate|more than once|twice"],
    ),
    Case(
        "mapping_invalid_storage",
        lambda c: [
            task(
                "mapping",
                name="proofX",
                storage="disk",
                mapping={"source": "managed/user", "target": "managed/role"},
                **c.conn(),
            )
        ],
        [r"storage", r"sync"],
    ),
    Case(
        "connector_config_and_template_together",
        lambda c: [
            task(
                "connector",
                name="scim",
                config=c.scim_connector_config(),
                template=c.write("unused.json.j2", "{}"),
                **c.conn(),
            )
        ],
        [r"mutually exclusive|only one of|either", r"config", r"template"],
    ),
    Case("config_without_id", lambda c: [task("config", config={"a": 1}, **c.conn())], [r"\bid\b"]),
    # --- SCIM provider inputs ------------------------------------------------------------------------------
    Case(
        "invalid_scim_version",
        lambda c: [
            task(
                "scim_provider_info",
                endpoint=c.tenant.scim_url,
                scim_version=3,
                auth_method="BASIC",
                user="u",
                password="p",
            )
        ],
        [r"scim_version must be one of: 1, 2\b"],
    ),
    Case(
        "oauth_without_client_secret",
        lambda c: [
            task(
                "scim_provider_info",
                endpoint=c.tenant.scim_url,
                auth_method="OAUTH",
                client_id="proof-client",
                token_endpoint=f"{c.tenant.scim_root()}/oauth2/token",
            )
        ],
        [r"client_secret"],
    ),
    Case(
        "scim_endpoint_unreachable",
        lambda c: [
            task(
                "connector",
                name="proofunreachable",
                test_before_save=True,
                config=c.scim_connector_config(
                    SCIMEndpoint=f"http://127.0.0.1:{c.dead_port}/scim/v2",
                    tokenEndpoint=f"http://127.0.0.1:{c.dead_port}/oauth2/token",
                ),
                **c.conn(),
            )
        ],
        # not "unreachable" alone: the connector's name has it
        [r"proofunreachable", r"failed IDM's test, so it was not saved", r"127\.0\.0\.1:%(dead_port)s"],
    ),
    Case(
        "wrong_scim_credentials",
        lambda c: [
            task(
                "connector",
                name="proofbadcreds",
                test_before_save=True,
                config=c.scim_connector_config(clientSecret="proof-wrong-scim-secret-4410"),
                **c.conn(),
            )
        ],
        [r"proofbadcreds", r"401|credential|unauthori|invalid_client|denied"],
        must_not_contain=["proof-wrong-scim-secret-4410"],
    ),
    # --- recon ---------------------------------------------------------------------------------------------
    Case(
        "recon_failed",
        lambda c: [task("recon", mapping=EMPTY_SOURCE_MAPPING, **c.conn())],
        [EMPTY_SOURCE_MAPPING, r"FAILED"],
        setup=add_empty_source_mapping,
        teardown=remove_empty_source_mapping,
        recon_runs_may_grow=True,
    ),
    Case(
        "recon_invalid_on_running",
        lambda c: [task("recon", mapping="systemScimAccount_managedUser", on_running="later", **c.conn())],
        [r"on_running", r"wait"],
    ),
    Case(
        "recon_invalid_fail_on",
        lambda c: [task("recon", mapping="systemScimAccount_managedUser", fail_on=["exploded"], **c.conn())],
        [r"fail_on", r"no match for: exploded"],
    ),
    Case(
        "recon_wait_timeout",
        lambda c: [task("recon", mapping="systemScimAccount_managedUser", wait_timeout=1, **c.conn())],
        [r"systemScimAccount_managedUser", r"did not end within 1 s|wait_timeout|timed out", r"cancel"],
        setup=slow_scim_provider,
        teardown=fast_scim_provider_again,
        recon_runs_may_grow=True,
    ),
    # --- secrets -------------------------------------------------------------------------------------------
    Case(
        "update_secrets_when_different_without_script_rights",
        lambda c: [
            task(
                "connector",
                name="scim",
                update_secrets="when_different",
                config=stored_connector_with_clear_secret(c),
                **c.conn(
                    username=c.tenant.hostvars["idm_noscript_username"],
                    password=c.tenant.hostvars["idm_noscript_password"],
                ),
            )
        ],
        [r"update_secrets", r"script", r"on_create|always"],
    ),
    # --- the role's own validation -------------------------------------------------------------------------
    Case("role_without_scim_endpoint", lambda c: role(c, scim_sync_scim_endpoint=None), [r"scim_sync_scim_endpoint"]),
    Case(
        "role_invalid_scim_version",
        lambda c: role(c, scim_sync_scim_version=3),
        [r"scim_sync_scim_version must be one of: 1, 2\b"],
    ),
    Case("role_oauth_without_client_secret", lambda c: role(c, scim_sync_scim_client_secret=None), [r"client_secret"]),
    Case(
        "role_recon_of_unknown_mapping",
        lambda c: role(c, scim_sync_recon_mappings=["proofNotInTheTemplate"]),
        [r"proofNotInTheTemplate"],
        recon_runs_may_grow=True,
    ),
]


def _expand(pattern: str, ctx: Ctx) -> str:
    return pattern % {"dead_port": ctx.dead_port} if "%(" in pattern else pattern


def _snapshot_task(name: str, tenant: proofkit.Tenant) -> dict:
    """A controller-side snapshot inside the playbook (url lookups, no module run: cheap), same data as
    Tenant.snapshot()."""
    base = f"{tenant.idm_url}/openidm/"
    headers = {
        "X-OpenIDM-Username": tenant.admin_user,
        "X-OpenIDM-Password": tenant.admin_password,
        "X-OpenIDM-NoSession": "true",
    }

    def fetch(path: str) -> str:
        return f"{{{{ lookup('ansible.builtin.url', {base + path!r}, headers={headers!r}, split_lines=false) }}}}"

    return {
        "name": name,
        "no_log": False,
        "ansible.builtin.set_fact": {
            "proof_snapshot": {
                "config": fetch("config?_queryFilter=true"),
                "users": fetch("managed/user?_queryFilter=true&_fields=_id"),
                "roles": fetch("managed/role?_queryFilter=true&_fields=_id"),
                "recons": fetch("recon"),
            }
        },
    }


def _snapshot_of(record: dict) -> dict:
    raw = record["result"]["ansible_facts"]["proof_snapshot"]
    parsed = {k: json.loads(v) if isinstance(v, str) else v for k, v in raw.items()}
    return proofkit.snapshot_from_bodies(parsed["config"], parsed["users"], parsed["roles"], parsed["recons"])


BATCHED = [c for c in CASES if not (c.setup or c.teardown)]


@pytest.fixture(scope="module")
def batch(configured_sandbox, tmp_path_factory):
    """The cases without setup/teardown, run in ONE playbook (ansible-playbook's start-up is most of a small
    case's time): each case is a block whose failure is rescued, followed by a snapshot of IDM; a case's
    "before" is the snapshot after the previous case."""
    tmp = tmp_path_factory.mktemp("bad-input-batch")
    tenant = configured_sandbox.tenant(0)
    tasks = [_snapshot_task("case __start__: snapshot", tenant)]
    contexts = {}
    for case in BATCHED:
        ctx = Ctx(tenant=tenant, tmp=tmp, dead_port=free_port())
        contexts[case.id] = ctx
        case_tasks = case.tasks(ctx)
        for each in case_tasks:
            each["name"] = f"case {case.id}: {each['name']}"
        tasks.append(
            {
                "name": f"case {case.id}",
                "block": case_tasks,
                "rescue": [{"name": f"case {case.id}: rescued", "ansible.builtin.meta": "noop"}],
            }
        )
        tasks.append(_snapshot_task(f"case {case.id}: snapshot", tenant))
    playbook = tmp / "bad-input-batch.yml"
    playbook.write_text(
        yaml.safe_dump(
            [{"name": "bad input table", "hosts": "localhost", "gather_facts": False, "tasks": tasks}], sort_keys=False
        )
    )
    run = proofkit.run_playbook(playbook, [proofkit.write_localhost_inventory(tmp / "localhost.yml")], timeout=900)
    snapshots, failed, pending = {}, {}, []
    for record in run.tasks:
        # Records come in order; every record up to "case X: snapshot" belongs to case X (a role's tasks carry
        # the role's names, not the case's).
        if record["task"].startswith("case ") and record["task"].endswith(": snapshot"):
            case_id = record["task"][len("case ") : -len(": snapshot")]
            if record["status"] == "ok":
                snapshots[case_id] = _snapshot_of(record)
            failed[case_id] = [r for r in pending if r["status"] in ("failed", "unreachable")]
            pending = []
        else:
            pending.append(record)
    return {
        "run": run,
        "snapshots": snapshots,
        "failed": failed,
        "contexts": contexts,
        "order": ["__start__"] + [c.id for c in BATCHED],
    }


def _check_message(case: Case, ctx: Ctx, message: str, outputs: str) -> None:
    assert "Traceback (most recent call last)" not in message, (
        f"{case.id}: a traceback instead of a message:\n{message}"
    )
    for pattern in case.expect:
        assert re.search(_expand(pattern, ctx), message, re.IGNORECASE), (
            f"{case.id}: the message does not match {pattern!r}:\n{message}"
        )
    for secret in case.must_not_contain:
        assert secret not in outputs + message, f"{case.id}: the output shows a secret value"


def _check_unchanged(case: Case, before: dict, after: dict) -> None:
    before, after = dict(before), dict(after)
    if case.recon_runs_may_grow:
        before.pop("recon_runs"), after.pop("recon_runs")
    assert after == before, f"{case.id}: IDM changed although the task failed"


@pytest.mark.parametrize("case", BATCHED, ids=[c.id for c in BATCHED])
def test_bad_input_fails_clearly_and_changes_nothing(case: Case, batch):
    run, snapshots = batch["run"], batch["snapshots"]
    position = batch["order"].index(case.id)
    records = batch["failed"].get(case.id, [])
    assert records, f"{case.id}: no task failed\n{run.describe()}"
    failed_run = proofkit.PlaybookRun(1, run.stdout, run.stderr, {"tasks": records}, 0.0, run.results_file)
    _check_message(case, batch["contexts"][case.id], failed_run.failure_messages(), run.stdout + run.stderr)
    previous = batch["order"][position - 1]
    assert previous in snapshots and case.id in snapshots, f"snapshots missing around {case.id}\n{run.describe()}"
    _check_unchanged(case, snapshots[previous], snapshots[case.id])


STAGED = [c for c in CASES if c.setup or c.teardown]


@pytest.mark.parametrize("case", STAGED, ids=[c.id for c in STAGED])
def test_bad_input_with_prepared_state(case: Case, configured_sandbox, localhost_inventory, tmp_path):
    """Cases that need state prepared over REST first: one playbook each."""
    ctx = Ctx(tenant=configured_sandbox.tenant(0), tmp=tmp_path, dead_port=free_port())
    case.setup(ctx)
    try:
        before = ctx.tenant.snapshot()
        playbook = tmp_path / f"{case.id}.yml"
        playbook.write_text(
            yaml.safe_dump(
                [
                    {
                        "name": f"bad input {case.id}",
                        "hosts": "localhost",
                        "gather_facts": False,
                        "tasks": case.tasks(ctx),
                    }
                ],
                sort_keys=False,
            )
        )
        run = proofkit.run_playbook(playbook, [localhost_inventory], timeout=120)
        after = ctx.tenant.snapshot()
    finally:
        case.teardown(ctx)
    assert run.rc != 0, f"{case.id}: the play should fail\n{run.describe()}"
    _check_message(case, ctx, run.failure_messages(), run.stdout + run.stderr)
    _check_unchanged(case, before, after)


def test_the_table_is_wide_enough():
    assert len(CASES) >= 25
