"""A recon whose entries IDM could not write fails the role by default, with the first failures in the message;
scim_sync_recon_fail_on without entry_failures turns that into a warning, and the summary line then says what
failed next to the counts, never a bare SUCCESS (issue 14.4, role side).

The failures are real: IDM's managed user policy requires a property the mapping does not set, so IDM refuses
to create the users the SCIM accounts would become."""

from __future__ import annotations

from sandbox import testing as proofkit


def _require_unmapped_property(tenant: proofkit.Tenant) -> None:
    tenant.idm_json(
        "PUT",
        "config/managed",
        {
            "objects": [
                {"name": "user", "schema": {"required": ["userName", "nickName"]}},
                {"name": "role", "schema": {"required": ["name"]}},
            ]
        },
    )


def _summary(run: proofkit.PlaybookRun) -> list[str]:
    shown = [t for t in run.tasks if t["task"].endswith("Show the reconciliation summary")]
    return shown[-1]["result"]["msg"] if shown else []


def test_failed_entries_fail_the_role_with_their_cause_or_warn_when_asked(sandbox_factory, tmp_path):
    sandbox = sandbox_factory(users=3, groups=1)
    tenant = sandbox.tenant(0)
    _require_unmapped_property(tenant)
    only_users = {"scim_sync_recon_mappings": ["systemScimAccount_managedUser"]}

    failed = proofkit.run_flow(sandbox, tmp_path, extra_vars=only_users)
    assert failed.rc != 0, failed.describe()
    message = failed.failure_messages()
    assert "systemScimAccount_managedUser" in message
    assert "ABSENT/CREATE" in message, f"the first failed entries (situation/action) are in the message:\n{message}"
    assert "Failed policy validation" in message, f"IDM's reason is in the message:\n{message}"
    assert tenant.managed_count("user") == 0

    warned = proofkit.run_flow(
        sandbox, tmp_path, extra_vars=dict(only_users, scim_sync_recon_fail_on=["failed", "canceled"])
    )
    assert warned.rc == 0, warned.describe()
    line = next(line for line in _summary(warned) if line.startswith("systemScimAccount_managedUser"))
    assert "3 failed" in line and "failed entries: ABSENT/CREATE" in line and "Failed policy validation" in line, line
    warnings = " ".join(str(w) for t in warned.by_action("recon") for w in t["result"].get("warnings", []))
    assert "ABSENT" in warnings, f"the module warns with the failed entries: {warnings!r}"
