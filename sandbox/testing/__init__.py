"""The test harness of the proof tests, the benchmarks and the sandbox's own end-to-end tests: start and stop
sandboxes through the CLI (``sandboxes``), talk to their IDMs, snapshot their state, count their requests, and run
``ansible-playbook`` with the ``proof_results`` callback (``playbooks``, ``callback_plugins/``).

Everything runs the real pieces as a user would: ``python -m sandbox up/down`` and ``ansible-playbook``. Import
the names from here (``from sandbox import testing``); the repository root is on ``sys.path`` for pytest
(``pytest.ini``) and for ``python -m ...`` run from the root.
"""

from __future__ import annotations

from .playbooks import (
    CALLBACK_PLUGINS,
    FLOW_PLAYBOOK,
    SANDBOX_GROUP_VARS,
    PlaybookRun,
    ansible_env,
    connection_vars,
    finish_playbook,
    flow_env,
    flow_inventories,
    run_flow,
    run_playbook,
    start_flow,
    start_playbook,
    write_localhost_inventory,
)
from .sandboxes import (
    PYTHON,
    REPO,
    SAMPLE_MAPPINGS,
    SNAPSHOT_COUNT_PARAMS,
    Sandbox,
    SandboxError,
    Tenant,
    active_recon,
    config_snapshot,
    count_requests,
    load_sandbox,
    recon_list,
    recon_runs_by_mapping,
    restart_with_unique_admin_passwords,
    sandbox_cmd,
    sandbox_down,
    sandbox_up,
    snapshot_from_bodies,
    wait_for,
)

__all__ = [
    "CALLBACK_PLUGINS",
    "FLOW_PLAYBOOK",
    "PYTHON",
    "REPO",
    "SAMPLE_MAPPINGS",
    "SANDBOX_GROUP_VARS",
    "SNAPSHOT_COUNT_PARAMS",
    "PlaybookRun",
    "Sandbox",
    "SandboxError",
    "Tenant",
    "active_recon",
    "ansible_env",
    "config_snapshot",
    "connection_vars",
    "count_requests",
    "finish_playbook",
    "flow_env",
    "flow_inventories",
    "load_sandbox",
    "recon_list",
    "recon_runs_by_mapping",
    "restart_with_unique_admin_passwords",
    "run_flow",
    "run_playbook",
    "sandbox_cmd",
    "sandbox_down",
    "sandbox_up",
    "snapshot_from_bodies",
    "start_flow",
    "start_playbook",
    "wait_for",
    "write_localhost_inventory",
]
