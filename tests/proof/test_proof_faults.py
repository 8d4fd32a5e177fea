"""Faults injected through the sandbox's switches while the whole flow (playbooks/scim_sync.yml) runs.

Transient faults: the flow converges in the same run, starts exactly one recon per mapping (GET /openidm/recon),
and leaves complete config (a clean re-run changes no config). Faults it cannot get past: the play fails with a
clear message and IDM's config is untouched.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests

from sandbox import testing as proofkit
from sandbox.testing import SAMPLE_MAPPINGS

USERS, GROUPS = 12, 3
CONFIG_ACTIONS = ("connector", "mapping", "config")


def _known_ids(tenant: proofkit.Tenant) -> set[str]:
    return {run["_id"] for run in tenant.recons()}


def assert_one_recon_per_mapping(tenant: proofkit.Tenant, before: set[str]) -> None:
    grouped = proofkit.recon_runs_by_mapping(tenant.recons(), before)
    counts = {mapping: len(grouped.get(mapping, [])) for mapping in SAMPLE_MAPPINGS}
    assert counts == dict.fromkeys(SAMPLE_MAPPINGS, 1), f"recon runs per mapping in this play: {counts}"
    states = {m: grouped[m][0].get("state") for m in SAMPLE_MAPPINGS}
    assert set(states.values()) == {"SUCCESS"}, f"recon states: {states}"


def assert_config_complete(sandbox: proofkit.Sandbox, workdir: Path) -> None:
    """No half-written config: a clean run afterwards changes no connector/mapping/config task, and the
    sample's data is all there."""
    tenant = sandbox.tenant(0)
    tenant.idm_faults_reset()
    tenant.scim_faults_reset()
    again = proofkit.run_flow(sandbox, workdir)
    assert again.rc == 0, f"the clean re-run failed\n{again.describe()}"
    changed = [
        t["task"] for t in again.tasks if t["action"].split(".")[-1] in CONFIG_ACTIONS and t["result"].get("changed")
    ]
    assert not changed, f"config tasks still changed something after the faulty run: {changed}"
    assert tenant.managed_count("user") == USERS
    assert tenant.managed_count("role") == GROUPS


def _transient(sandbox_factory, tmp_path, **faults):
    sandbox = sandbox_factory(users=USERS, groups=GROUPS)
    tenant = sandbox.tenant(0)
    before = _known_ids(tenant)
    tenant.idm_faults(**faults)
    try:
        run = proofkit.run_flow(sandbox, tmp_path)
    finally:
        tenant.idm_faults_reset()
    assert run.rc == 0, f"the flow did not get past {faults}\n{run.describe()}"
    assert_one_recon_per_mapping(tenant, before)
    assert_config_complete(sandbox, tmp_path)


# Every fourth request fails, evenly spread (spread=even): the result does not depend on chance. A random rate
# would leave each run a few per cent likely to see one call fail on all of its 4 tries, a test that fails by luck
# rather than by a fault of the collection. (Every second request would be worse than any real server: it hits
# the recon start on each try, as the module's start/look-up cycle is two requests long.)
def test_idm_answers_503_to_every_fourth_request(sandbox_factory, tmp_path):
    _transient(sandbox_factory, tmp_path, error_rate=0.25, error_status=503, spread="even")


def test_idm_drops_every_fourth_connection(sandbox_factory, tmp_path):
    _transient(sandbox_factory, tmp_path, reset_rate=0.25, spread="even")


def test_idm_drops_every_second_connector_call(sandbox_factory, tmp_path):
    # The connector's test actions only read, so they are retried: the wait for the saved connector to start,
    # testConfig and connector_test all get past a dropped connection.
    _transient(sandbox_factory, tmp_path, reset_rate=0.5, spread="even", paths=r"^/openidm/system")


def test_idm_answers_config_and_recon_calls_after_2s(sandbox_factory, tmp_path):
    # Every config read/write and every recon start/poll waits 2 s (all paths would make the test minutes long).
    _transient(sandbox_factory, tmp_path, latency=2.0, paths=r"^/openidm/(config|recon)")


# --- faults in the middle of a recon -------------------------------------------------------------------------------
# A recon reads the SCIM provider through the connector; a slow provider (its latency switch) keeps the recon
# ACTIVE for seconds with little data, long enough to strike in the middle of it.
SLOW_SCIM_SECONDS = 2.0


def _provision(sandbox: proofkit.Sandbox, workdir: Path) -> None:
    provision = proofkit.run_flow(sandbox, workdir, args=["--tags", "provision,test"])
    assert provision.rc == 0, provision.describe()


def _idm_process(tenant: proofkit.Tenant) -> tuple[int, list[str]]:
    pid = int(tenant.raw["idm"]["pid"])
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    return pid, [part.decode() for part in cmdline if part]


def _restart_idm(sandbox: proofkit.Sandbox, tenant: proofkit.Tenant, downtime: float) -> subprocess.Popen:
    """Stop the tenant's IDM (SIGTERM, as `sandbox down` does) and start the same command line again after
    `downtime` seconds (the CLI hands the admin password over the environment, so does this). The new PID is
    written into sandbox.json so `sandbox down` stops the new process."""
    pid, cmdline = _idm_process(tenant)
    # Same port as before (the CLI may have started it with --port 0 = any free port).
    cmdline[cmdline.index("--port") + 1] = str(tenant.raw["idm"]["port"])
    os.kill(pid, signal.SIGTERM)
    proofkit.wait_for(
        lambda: not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z",
        20,
        what="IDM to stop",
    )
    time.sleep(downtime)
    idm = tenant.raw["idm"]
    env = dict(os.environ, IDM_SANDBOX_ADMIN_PASSWORD=tenant.admin_password, PYTHONPATH=str(proofkit.REPO))
    if idm.get("noscript_password"):
        env["IDM_SANDBOX_NO_SCRIPT_USERS"] = f"{idm['noscript_username']}:{idm['noscript_password']}"
    with open(sandbox.state_dir / "idm-restarted.log", "w") as log:
        process = subprocess.Popen(
            cmdline,
            cwd=proofkit.REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    info_path = sandbox.state_dir / "sandbox.json"
    info_path.write_text(info_path.read_text().replace(f'"pid": {pid}', f'"pid": {process.pid}'))
    proofkit.wait_for(lambda: _ping(tenant), 30, what="the restarted IDM")
    return process


def _ping(tenant: proofkit.Tenant) -> bool:
    try:
        return tenant.idm("GET", "info/ping", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _free_port_below_ephemeral_range() -> int:
    """A port the kernel never hands out as a client's source port: while IDM is down, the flow's retries to
    IDM's port could otherwise be given that very port as their own source and keep it busy."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for port in range(low - 2000, low - 1):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


@contextlib.contextmanager
def _reconcile_flow(sandbox, tenant, tmp_path):
    """The reconcile flow, started while the SCIM provider answers slowly: yields the playbook process and the
    first recon once one runs. On the way out the flow is stopped if it still runs and the provider's faults are
    off."""
    tenant.scim_faults(latency=SLOW_SCIM_SECONDS)
    process = proofkit.start_flow(sandbox, tmp_path, args=["--tags", "reconcile"])
    try:
        yield process, proofkit.wait_for(lambda: proofkit.active_recon(tenant), 120, what="a recon to start")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        tenant.scim_faults_reset()


def test_idm_restarted_during_a_recon(sandbox_factory, tmp_path):
    sandbox = sandbox_factory(
        users=USERS, groups=GROUPS, extra=("--idm-port-base", str(_free_port_below_ephemeral_range()))
    )
    tenant = sandbox.tenant(0)
    _provision(sandbox, tmp_path)
    before = _known_ids(tenant)
    restarted = None
    with _reconcile_flow(sandbox, tenant, tmp_path) as (process, _active):
        restarted = _restart_idm(sandbox, tenant, downtime=1.0)
        tenant.scim_faults_reset()
        run = proofkit.finish_playbook(process, timeout=300)
    try:
        if run.rc == 0:
            # Converged: every mapping has exactly one successful run; the one IDM lost is not counted twice.
            grouped = proofkit.recon_runs_by_mapping(tenant.recons(), before)
            successes = {m: sum(1 for r in grouped.get(m, []) if r.get("state") == "SUCCESS") for m in SAMPLE_MAPPINGS}
            assert successes == dict.fromkeys(SAMPLE_MAPPINGS, 1), successes
        else:
            message = run.failure_messages()
            assert any(m in message for m in SAMPLE_MAPPINGS), f"the message names no mapping:\n{message}"
            assert "Traceback" not in message, message
            words = ("restart", "connection", "not found", "lost", "no longer", "refused")
            assert any(word in message.lower() for word in words), message
        assert_config_complete(sandbox, tmp_path)
    finally:
        if restarted is not None and restarted.poll() is None:
            proofkit.sandbox_down(sandbox.state_dir)  # stops the new PID through the rewritten sandbox.json
            if restarted.poll() is None:
                restarted.terminate()
                restarted.wait(timeout=20)


def test_scim_provider_down_during_a_recon(sandbox_factory, tmp_path):
    sandbox = sandbox_factory(users=USERS, groups=GROUPS)
    tenant = sandbox.tenant(0)
    _provision(sandbox, tmp_path)
    before = _known_ids(tenant)
    with _reconcile_flow(sandbox, tenant, tmp_path) as (process, active):
        tenant.scim_faults(down=True)
        time.sleep(2.0)
        tenant.scim_faults_reset()
        run = proofkit.finish_playbook(process, timeout=300)
    grouped = proofkit.recon_runs_by_mapping(tenant.recons(), before)
    assert all(len(grouped.get(m, [])) <= 1 for m in SAMPLE_MAPPINGS), f"a mapping ran twice: {grouped}"
    if run.rc != 0:
        message = run.failure_messages()
        assert active["mapping"] in message, f"the message does not name {active['mapping']}:\n{message}"
        assert "Traceback" not in message, message
        assert any(word in message.upper() for word in ("FAILED", "FAILURE", "SCIM", "503")), message
    assert_config_complete(sandbox, tmp_path)


# --- faults that do not go away: a clear message, nothing written ---------------------------------------------------
def test_idm_always_503_fails_clearly_without_writing(sandbox_factory, tmp_path):
    sandbox = sandbox_factory(users=USERS, groups=GROUPS)
    tenant = sandbox.tenant(0)
    before = tenant.snapshot()
    tenant.idm_faults(error_rate=1.0, error_status=503)
    try:
        run = proofkit.run_flow(sandbox, tmp_path, extra_vars={"scim_sync_idm_wait_timeout": 5})
    finally:
        tenant.idm_faults_reset()
    assert run.rc != 0
    message = run.failure_messages()
    assert "503" in message and tenant.idm_url in message, message
    assert tenant.snapshot() == before


def test_scim_provider_down_fails_clearly_without_writing(sandbox_factory, tmp_path):
    sandbox = sandbox_factory(users=USERS, groups=GROUPS)
    tenant = sandbox.tenant(0)
    before = tenant.snapshot()
    tenant.scim_faults(down=True)
    try:
        run = proofkit.run_flow(sandbox, tmp_path)
    finally:
        tenant.scim_faults_reset()
    assert run.rc != 0
    message = run.failure_messages()
    assert tenant.scim_root() in message, f"the message does not name the SCIM provider:\n{message}"
    assert "503" in message or "unavailable" in message.lower(), message
    assert tenant.snapshot() == before, "IDM changed although the provider was down from the start"
