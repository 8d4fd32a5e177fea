"""The GitOps lifecycle as a user runs it (playbooks/export.yml, playbooks/apply.yml against a two-tenant sandbox):

- round trip: export tenant1; apply the export to tenant1 changes nothing; apply it to a fresh tenant2 (its Vault
  variable filled) gives tenant2 the same connector (secret included, checked by decrypting on tenant2), mappings
  and schedules; a second apply changes nothing. With -vvv --diff, no secret is in any exported file, output,
  callback result or diff, and no tenant's $crypto blob is in the export.
- promotion: the exported tree edited to take environment values from host variables works on tenant2 with its own
  SCIM provider and secret; prune removes the objects the tree dropped and never IDM's own; a failing file stops
  the tenant, names the file, and leaves the files after it unapplied.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from sandbox import testing as proofkit

EXPORT = proofkit.REPO / "playbooks" / "export.yml"
APPLY = proofkit.REPO / "playbooks" / "apply.yml"
SCHEDULE = {"mapping": "systemScimAccount_managedUser", "schedule": "0 0 3 ? * MON-FRI", "time_zone": "UTC"}
EXTRA_MAPPING = {
    "name": "proofExtra_managedRole",
    "source": "managed/user",
    "target": "managed/role",
    "properties": [
        {
            "source": "userName",
            "target": "name",
            "transform": {"type": "text/javascript", "source": "'{{' + source + '}}';"},
        }
    ],
}
# Secrets reach the playbooks as references to the sandbox inventory, so no test file holds a value.
VAULT_FROM_TENANT1 = {
    "vault_tenant1_scim_client_secret": "{{ hostvars['tenant1'].scim_client_secret }}",
    "vault_tenant2_scim_client_secret": "{{ hostvars['tenant1'].scim_client_secret }}",
}


def decrypted(tenant: proofkit.Tenant, value):
    return tenant.idm_json(
        "POST",
        "script",
        {"type": "text/javascript", "globals": {"val": value}, "source": "openidm.decrypt(val);"},
        params={"_action": "eval"},
    )


def stored(tenant: proofkit.Tenant, config_id: str) -> dict:
    body = tenant.idm_json("GET", "config/" + config_id)
    body.pop("_id", None)
    return body


def comparable_connector(tenant: proofkit.Tenant) -> dict:
    connector = stored(tenant, "provisioner.openicf/scim")
    props = connector["configurationProperties"]
    assert "$crypto" in props["clientSecret"], "IDM should store the secret encrypted"
    props["clientSecret"] = decrypted(tenant, props["clientSecret"])
    return connector


def changed_tasks(run: proofkit.PlaybookRun, host: str) -> list[str]:
    return [
        t["task"]
        for t in run.tasks
        if t["host"] == host
        and t["result"].get("changed")
        and t["action"] not in ("ansible.builtin.copy", "ansible.builtin.file")
    ]


def recap_changed(run: proofkit.PlaybookRun, host: str) -> int:
    return run.results["stats"][host]["changed"]


def sandbox_with_unique_admin_passwords(sandbox_factory) -> proofkit.Sandbox:
    """Two tenants whose IDM admin passwords are unique strings."""
    options = {"tenants": 2, "users": 4, "groups": 2}
    return proofkit.restart_with_unique_admin_passwords(sandbox_factory(**options), **options)


def needles(secret: str) -> dict[str, bytes]:
    return {"plain": secret.encode(), "base64": base64.b64encode(secret.encode()).rstrip(b"=")}


def test_round_trip_and_no_secret_in_export_logs_or_diffs(sandbox_factory, tmp_path):
    sandbox = sandbox_with_unique_admin_passwords(sandbox_factory)
    tenant1, tenant2 = sandbox.tenant(0), sandbox.tenant(1)
    export_dir = tmp_path / "export"
    verbose = ["-vvv", "--diff"]

    flow = proofkit.run_flow(
        sandbox,
        tmp_path,
        limit="tenant1",
        args=["--tags", "provision"],
        extra_vars={"scim_sync_recon_schedules": [SCHEDULE], "scim_sync_preflight": False},
    )
    assert flow.rc == 0, flow.describe()

    # A per-mapping config too (IDM 7's mapping/<name>), with a script whose text looks like Jinja.
    tenant1.idm_json("PUT", "config/mapping/proofExtra_managedRole", EXTRA_MAPPING)

    export = proofkit.run_flow(
        sandbox,
        tmp_path,
        playbook=EXPORT,
        limit="tenant1",
        args=verbose,
        extra_vars={"scim_sync_export_dir": str(export_dir)},
    )
    assert export.rc == 0, export.describe()
    tree = export_dir / "tenant1"
    files = sorted(p.name for p in tree.glob("*.json"))
    assert files == [
        "mapping-proofExtra_managedRole.json",
        "provisioner.openicf-scim.json",
        "schedule-scim_sync-systemScimAccount_managedUser.json",
        "sync.json",
    ], files
    connector_file = (tree / "provisioner.openicf-scim.json").read_text()
    assert '"clientSecret": "{{ scim_sync_config_secrets[\'scim_client_secret\'] }}"' in connector_file
    assert "vault_tenant1_scim_client_secret" in (tree / "README.md").read_text()
    assert "vault_tenant1_scim_client_secret" in (export_dir / "host_vars" / "tenant1.yml").read_text()

    again = proofkit.run_flow(
        sandbox, tmp_path, playbook=EXPORT, limit="tenant1", extra_vars={"scim_sync_export_dir": str(export_dir)}
    )
    assert again.rc == 0 and recap_changed(again, "tenant1") == 0, "a second export without a change rewrote files"

    apply_args = {"scim_sync_apply_dir": str(tree), **VAULT_FROM_TENANT1}
    same = proofkit.run_flow(sandbox, tmp_path, playbook=APPLY, limit="tenant1", args=verbose, extra_vars=apply_args)
    assert same.rc == 0, same.describe()
    assert recap_changed(same, "tenant1") == 0, changed_tasks(same, "tenant1")

    fresh = proofkit.run_flow(sandbox, tmp_path, playbook=APPLY, limit="tenant2", args=verbose, extra_vars=apply_args)
    assert fresh.rc == 0, fresh.describe()
    assert len(changed_tasks(fresh, "tenant2")) == 4, changed_tasks(fresh, "tenant2")
    assert comparable_connector(tenant2) == comparable_connector(tenant1)
    assert stored(tenant2, "sync") == stored(tenant1, "sync")
    assert stored(tenant2, "mapping/proofExtra_managedRole") == EXTRA_MAPPING
    schedule_id = "schedule/scim_sync-systemScimAccount_managedUser"
    assert stored(tenant2, schedule_id) == stored(tenant1, schedule_id)
    assert tenant2.idm_json("GET", "scheduler/job/scim_sync-systemScimAccount_managedUser")["enabled"] is True

    second = proofkit.run_flow(sandbox, tmp_path, playbook=APPLY, limit="tenant2", args=verbose, extra_vars=apply_args)
    assert second.rc == 0 and recap_changed(second, "tenant2") == 0, changed_tasks(second, "tenant2")

    # No secret anywhere: the export directory, every output (with -vvv and diffs) and every returned value.
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    for index, run in enumerate((export, same, fresh, second)):
        (outputs / f"stdout-{index}.txt").write_text(run.stdout + run.stderr)
    assert "******** (changed)" in fresh.stdout, "the diff of the created connector should show a masked secret"
    secrets = {
        "tenant1 SCIM client secret": tenant1.hostvars["scim_client_secret"],
        "tenant2 SCIM client secret": tenant2.hostvars["scim_client_secret"],
        "tenant1 IDM admin password": tenant1.admin_password,
        "tenant2 IDM admin password": tenant2.admin_password,
    }
    for name, value in secrets.items():
        assert len(value) >= 12 and value not in ("openidm-admin", tenant1.admin_user), (
            f"the sandbox's {name} is not a unique value; the leak search would be void"
        )
    crypto_data = stored(tenant1, "provisioner.openicf/scim")["configurationProperties"]["clientSecret"]["$crypto"]
    # Everything the runs wrote, and the sandbox's state; not the CLI's own credential files (inventory.yml and
    # sandbox.json must hold the credentials the playbooks use).
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.name not in ("inventory.yml", "sandbox.json")]
    assert any(p.parent == export_dir / "tenant1" for p in files) and any(p.name == "access.log" for p in files)
    hits = []
    for path in files:
        data = path.read_bytes()
        for name, secret in secrets.items():
            for form, needle in needles(secret).items():
                if needle in data:
                    hits.append(f"{path}: {name} ({form})")
    assert not hits, "secret values found:\n" + "\n".join(hits)
    for path in export_dir.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert crypto_data["value"]["data"] not in text, path
            assert path.suffix != ".json" or "$crypto" not in text, path


def _promote(tree: Path, promoted: Path) -> None:
    """The 'edit' step of a promotion: environment values become host variables of the target tenant."""
    promoted.mkdir()
    for path in tree.glob("*.json"):
        text = path.read_text()
        if path.name.startswith("provisioner.openicf-"):
            connector = json.loads(text)
            props = connector["configurationProperties"]
            props["SCIMEndpoint"] = "{{ scim_sync_scim_endpoint }}"
            props["tokenEndpoint"] = "{{ scim_sync_scim_token_endpoint }}"
            props["clientId"] = "{{ scim_sync_scim_client_id }}"
            text = json.dumps(connector, indent=2, sort_keys=True) + "\n"
        (promoted / path.name).write_text(text)


def test_promotion_prune_and_a_failing_file(sandbox_factory, tmp_path):
    sandbox = sandbox_factory(tenants=2, users=4, groups=2)
    tenant1, tenant2 = sandbox.tenant(0), sandbox.tenant(1)
    schedules = [SCHEDULE, {"mapping": "systemScimGroup_managedRole", "schedule": "0 0 4 * * ?", "enabled": False}]
    flow = proofkit.run_flow(
        sandbox,
        tmp_path,
        limit="tenant1",
        args=["--tags", "provision"],
        extra_vars={"scim_sync_recon_schedules": schedules, "scim_sync_preflight": False},
    )
    assert flow.rc == 0, flow.describe()
    export_dir = tmp_path / "export"
    export = proofkit.run_flow(
        sandbox, tmp_path, playbook=EXPORT, limit="tenant1", extra_vars={"scim_sync_export_dir": str(export_dir)}
    )
    assert export.rc == 0, export.describe()
    promoted = tmp_path / "promoted"
    _promote(export_dir / "tenant1", promoted)

    # tenant2 gets its own endpoint, client and secret; IDM's own objects exist there and must survive prune.
    tenant2.idm_json("PUT", "config/ui/configuration", {"configuration": {"lang": "en"}})
    tenant2.idm_json(
        "PUT",
        "config/schedule/handmade",
        {
            "enabled": False,
            "schedule": "0 0 0 1 1 ? 2099",
            "invokeService": "script",
            "invokeContext": {"script": {"source": "1;"}},
        },
    )
    vault = {"vault_tenant2_scim_client_secret": "{{ scim_client_secret }}"}
    promote = proofkit.run_flow(
        sandbox, tmp_path, playbook=APPLY, limit="tenant2", extra_vars={"scim_sync_apply_dir": str(promoted), **vault}
    )
    assert promote.rc == 0, promote.describe()
    connector = stored(tenant2, "provisioner.openicf/scim")["configurationProperties"]
    assert connector["SCIMEndpoint"] == tenant2.hostvars["scim_endpoint"] != tenant1.hostvars["scim_endpoint"]
    test = tenant2.idm_json("POST", "system/scim", params={"_action": "test"})
    assert test["ok"] is True, test

    # Drop one schedule and one mapping from the tree, add a ui object (a kind of IDM's own), prune.
    (promoted / "schedule-scim_sync-systemScimGroup_managedRole.json").unlink()
    sync = json.loads((promoted / "sync.json").read_text())
    sync["mappings"] = [m for m in sync["mappings"] if m["name"] != "managedRole_systemScimGroup"]
    (promoted / "sync.json").write_text(json.dumps(sync, indent=2))
    (promoted / "ui-dashboard.json").write_text('{"dashboards": []}\n')
    reports = tmp_path / "reports"
    check = proofkit.run_flow(
        sandbox,
        tmp_path,
        playbook=APPLY,
        limit="tenant2",
        args=["--check"],
        extra_vars={
            "scim_sync_apply_dir": str(promoted),
            "scim_sync_apply_prune": True,
            "scim_sync_apply_report_dir": str(reports),
            **vault,
        },
    )
    assert check.rc == 0, check.describe()
    predicted = json.loads((reports / "tenant2.json").read_text())
    assert predicted["check_mode"] is True and predicted["changed"] == ["ui-dashboard.json"]
    assert predicted["removed"] == [
        "schedule/handmade",
        "schedule/scim_sync-systemScimGroup_managedRole",
        "sync:managedRole_systemScimGroup",
    ]
    assert predicted["protected"] == ["ui/configuration"]
    assert tenant2.idm("GET", "config/schedule/handmade").status_code == 200, "check mode removed something"

    pruned = proofkit.run_flow(
        sandbox,
        tmp_path,
        playbook=APPLY,
        limit="tenant2",
        extra_vars={
            "scim_sync_apply_dir": str(promoted),
            "scim_sync_apply_prune": True,
            "scim_sync_apply_report_dir": str(reports),
            **vault,
        },
    )
    assert pruned.rc == 0, pruned.describe()
    assert json.loads((reports / "tenant2.json").read_text())["removed"] == predicted["removed"]
    for gone in ("schedule/handmade", "schedule/scim_sync-systemScimGroup_managedRole"):
        assert tenant2.idm("GET", "config/" + gone).status_code == 404, gone
    assert [m["name"] for m in stored(tenant2, "sync")["mappings"]] == [m["name"] for m in sync["mappings"]]
    assert stored(tenant2, "ui/configuration") == {"configuration": {"lang": "en"}}
    quiet = proofkit.run_flow(
        sandbox,
        tmp_path,
        playbook=APPLY,
        limit="tenant2",
        extra_vars={"scim_sync_apply_dir": str(promoted), "scim_sync_apply_prune": True, **vault},
    )
    assert quiet.rc == 0 and recap_changed(quiet, "tenant2") == 0, changed_tasks(quiet, "tenant2")

    # A file that does not render stops the tenant there: the files after it are not applied.
    (promoted / "managed.json").write_text('{"objects": [{"name": "{{ undefined_variable_x }}"}]}\n')
    (promoted / "schedule-late.json").write_text(
        json.dumps(
            {
                "enabled": False,
                "schedule": "0 0 0 1 1 ? 2099",
                "invokeService": "sync",
                "invokeContext": {"action": "reconcile", "mapping": "systemScimAccount_managedUser"},
            }
        )
    )
    failed = proofkit.run_flow(
        sandbox, tmp_path, playbook=APPLY, limit="tenant2", extra_vars={"scim_sync_apply_dir": str(promoted), **vault}
    )
    assert failed.rc != 0
    message = failed.failure_messages()
    assert "stopped at managed.json (managed)" in message and "undefined_variable_x" in message, message
    assert "Not applied: " in message and "schedule-late.json" in message, message
    assert tenant2.idm("GET", "config/managed").status_code == 404
    assert tenant2.idm("GET", "config/schedule/late").status_code == 404
