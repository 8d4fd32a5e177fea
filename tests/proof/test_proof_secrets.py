"""Secrets never leak: the whole flow with -vvv --diff and unique secret values, then every output and every
file the flow and the sandbox wrote is searched for them (as text, base64 and Basic-auth base64).

Excluded, on purpose and only these: the sandbox CLI's own credential files, `inventory.yml` (the generated
inventory must hold the credentials the playbook uses) and `sandbox.json` (the CLI's record of the tenants,
credentials included, for `status`/`down` and the tests). Both must be readable by their owner only.
"""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

from sandbox import testing as proofkit

CREDENTIAL_FILES = {"inventory.yml", "sandbox.json"}


def _needles(secret: str, user: str | None = None) -> dict[str, bytes]:
    needles = {"plain": secret.encode(), "base64": base64.b64encode(secret.encode()).rstrip(b"=")}
    if user:
        needles["basic-auth"] = base64.b64encode(f"{user}:{secret}".encode()).rstrip(b"=")
    return needles


def _scan(paths: list[Path], needles: dict[str, dict[str, bytes]]) -> list[str]:
    hits = []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        for secret_name, forms in needles.items():
            for form, needle in forms.items():
                if needle in data:
                    hits.append(f"{path}: {secret_name} ({form})")
    return hits


def _files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.name not in CREDENTIAL_FILES]


def _sandbox_with_unique_idm_password(sandbox_factory) -> proofkit.Sandbox:
    options = {"users": 8, "groups": 2}
    return proofkit.restart_with_unique_admin_passwords(sandbox_factory(**options), **options)


def test_no_secret_in_output_results_reports_or_sandbox_state(sandbox_factory, tmp_path):
    sandbox = _sandbox_with_unique_idm_password(sandbox_factory)
    tenant = sandbox.tenant(0)
    hostvars = tenant.hostvars
    idm_password = hostvars["idm_password"]
    scim_secret = hostvars["scim_client_secret"]
    assert tenant.admin_password == idm_password and tenant.idm("GET", "info/ping").status_code == 200
    # The search only means something when the values are unique strings nothing else contains.
    for name, value in (("IDM admin password", idm_password), ("SCIM client secret", scim_secret)):
        assert len(value) >= 12 and value not in ("openidm-admin", tenant.admin_user), (
            f"the sandbox's {name} is not a unique value ({len(value)} chars); the leak search would be void"
        )

    workdir = tmp_path / "run"
    workdir.mkdir()
    run = proofkit.run_flow(sandbox, workdir, args=["-vvv", "--diff"])
    assert run.rc == 0, run.describe()
    rerun = proofkit.run_flow(sandbox, workdir, args=["-vvv", "--diff"])
    assert rerun.rc == 0, rerun.describe()

    # A drifted connector (changed on the server) makes the drift report carry a diff of the connector.
    connector = tenant.idm_json("GET", "config/provisioner.openicf/scim")
    connector.pop("_id", None)
    connector["configurationProperties"]["maximumConnections"] = 3
    tenant.idm_json("PUT", "config/provisioner.openicf/scim", connector)
    reports = workdir / "drift-reports"
    drift = proofkit.run_flow(
        sandbox,
        workdir,
        args=["-vvv", "--diff"],
        playbook=proofkit.REPO / "playbooks" / "drift.yml",
        extra_vars={"scim_sync_drift_report_dir": str(reports)},
    )
    assert drift.rc != 0, f"the drift playbook should report the changed connector\n{drift.describe()}"
    assert (reports / f"{tenant.name}.json").exists(), drift.describe()
    assert json.loads((reports / f"{tenant.name}.json").read_text())["connector"]["drifted"]

    needles = {
        "IDM admin password": _needles(idm_password, tenant.admin_user),
        "SCIM client secret": _needles(scim_secret, hostvars.get("scim_client_id")),
    }
    outputs = workdir / "outputs"
    outputs.mkdir()
    for index, each in enumerate((run, rerun, drift)):
        (outputs / f"stdout-{index}.txt").write_text(each.stdout)
        (outputs / f"stderr-{index}.txt").write_text(each.stderr)
    # The stored config really holds the secret (encrypted), so the search looks where a leak would be.
    connector = tenant.idm_json("GET", "config/provisioner.openicf/scim")
    assert "$crypto" in str(connector["configurationProperties"]["clientSecret"])

    # Everything the runs and the sandbox wrote: outputs, callback results (returned values), the work dir,
    # the sandbox state (SQLite, SCIM state file, access logs, server logs).
    files = _files_under(workdir) + _files_under(sandbox.state_dir)
    assert any(p.name.endswith(".sqlite3") for p in files), "no SQLite file found in the sandbox state"
    assert any(p.name == "access.log" for p in files), "no access log found in the sandbox state"
    hits = _scan(files, needles)
    assert not hits, "secret values found:\n" + "\n".join(hits)

    for name in CREDENTIAL_FILES:
        mode = stat.S_IMODE((sandbox.state_dir / name).stat().st_mode)
        assert mode & 0o077 == 0, f"{name} holds credentials but is readable by others (mode {oct(mode)})"
