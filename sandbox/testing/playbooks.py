"""``ansible-playbook`` as a subprocess with the ``proof_results`` callback (every task result, after no_log
censoring, with timestamps), and the sample flow (``playbooks/scim_sync.yml`` through ``inventories/sandbox``)
against a sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from .sandboxes import PYTHON, REPO, Sandbox, Tenant

CALLBACK_PLUGINS = Path(__file__).resolve().parent / "callback_plugins"
COLLROOT = REPO / ".venv" / "collroot"


@dataclass
class PlaybookRun:
    rc: int
    stdout: str
    stderr: str
    results: dict
    seconds: float
    results_file: Path

    @property
    def tasks(self) -> list[dict]:
        return self.results.get("tasks", [])

    def failed(self) -> list[dict]:
        return [t for t in self.tasks if t["status"] in ("failed", "unreachable", "item_failed")]

    def failure_messages(self) -> str:
        """Every message of every failed task, for assertions on what the user reads."""
        parts = []
        for task in self.failed():
            result = task["result"]
            # A looped task reports "One or more items failed"; the useful text is in its items.
            for part in [result, *[r for r in result.get("results", []) if isinstance(r, dict) and r.get("failed")]]:
                parts.append(str(part.get("msg", "")))
                for key in ("exception", "module_stderr", "stderr", "error"):
                    if part.get(key):
                        parts.append(str(part[key]))
        return "\n".join(p for p in parts if p)

    def by_action(self, suffix: str) -> list[dict]:
        return [t for t in self.tasks if t["action"].split(".")[-1] == suffix]

    def describe(self) -> str:
        return f"rc={self.rc}\n--- stdout (tail)\n{self.stdout[-6000:]}\n--- stderr (tail)\n{self.stderr[-3000:]}"


def ansible_env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env.update(
        {
            "ANSIBLE_COLLECTIONS_PATH": str(COLLROOT),
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
            "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACK_PLUGINS),
            "ANSIBLE_CALLBACKS_ENABLED": "proof_results",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_HOST_KEY_CHECKING": "0",
            "ANSIBLE_LOCALHOST_WARNING": "0",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PATH": f"{Path(PYTHON).parent}:{os.environ.get('PATH', '')}",
        }
    )
    for key in list(env):
        if key.startswith(("IDM_", "SCIM_")):
            del env[key]  # connection env fallbacks of the modules must come from the test, not the shell
    env.update(extra or {})
    return env


def _playbook_call(
    playbook: Path | str,
    inventories: list[Path | str],
    workdir: Path,
    tag: str,
    extra_vars: dict | None = None,
    args: list[str] | None = None,
    env: dict | None = None,
    limit: str | None = None,
) -> tuple[list[str], dict, Path]:
    """The ``ansible-playbook`` command, its environment, and the file its ``proof_results`` callback writes
    (extra variables go through a file in ``workdir``; ``tag`` names the files of this run)."""
    results_file = workdir / f"results-{tag}.json"
    cmd = [str(Path(PYTHON).parent / "ansible-playbook"), str(playbook)]
    for inventory in inventories:
        cmd += ["-i", str(inventory)]
    if extra_vars:
        vars_file = workdir / f"extra-vars-{tag}.json"
        vars_file.write_text(json.dumps(extra_vars))
        cmd += ["-e", f"@{vars_file}"]
    if limit:
        cmd += ["--limit", limit]
    cmd += args or []
    return cmd, ansible_env({"PROOF_RESULTS_FILE": str(results_file), **(env or {})}), results_file


def run_playbook(
    playbook: Path | str,
    inventories: list[Path | str] | None = None,
    extra_vars: dict | None = None,
    args: list[str] | None = None,
    env: dict | None = None,
    timeout: float = 300,
    workdir: Path | None = None,
    limit: str | None = None,
) -> PlaybookRun:
    workdir = Path(workdir or Path(playbook).parent)
    tag = f"{os.getpid()}-{time.monotonic_ns()}"
    cmd, run_env, results_file = _playbook_call(playbook, inventories or [], workdir, tag, extra_vars, args, env, limit)
    started = time.monotonic()
    process = subprocess.run(cmd, cwd=REPO, env=run_env, capture_output=True, text=True, timeout=timeout, check=False)
    seconds = time.monotonic() - started
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    return PlaybookRun(process.returncode, process.stdout, process.stderr, results, seconds, results_file)


def connection_vars(tenant: Tenant) -> dict:
    """Module connection options for the admin of one tenant (docs/architecture.md, connection fragment)."""
    options = {
        "idm_url": tenant.idm_url,
        "username": tenant.admin_user,
        "password": tenant.admin_password,
    }
    if tenant.ca_path:
        options["ca_path"] = tenant.ca_path
    return options


def write_localhost_inventory(path: Path) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {
                        "localhost": {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": PYTHON,
                        }
                    }
                }
            }
        )
    )
    return path


# The sample flow ----------------------------------------------------------------------------------------------
FLOW_PLAYBOOK = REPO / "playbooks" / "scim_sync.yml"
SANDBOX_GROUP_VARS = REPO / "inventories" / "sandbox"


def flow_inventories(sandbox: Sandbox) -> list[Path]:
    """inventories/sandbox: its script reads the tenants from $IDMOPS_SANDBOX_STATE/inventory.yml (see
    flow_env) and its group_vars map them onto the role's variables. Only this one -i: the script would
    otherwise read the default .sandbox/ of whoever else runs a sandbox in this checkout."""
    return [SANDBOX_GROUP_VARS]


def flow_env(sandbox: Sandbox, extra: dict | None = None) -> dict:
    return {"IDMOPS_SANDBOX_STATE": str(sandbox.state_dir), **(extra or {})}


def run_flow(
    sandbox: Sandbox,
    workdir: Path,
    extra_vars: dict | None = None,
    args: list[str] | None = None,
    env: dict | None = None,
    timeout: float = 300,
    limit: str | None = None,
    playbook: Path = FLOW_PLAYBOOK,
) -> PlaybookRun:
    """playbooks/scim_sync.yml (or another playbook) against the sandbox, as a user runs it."""
    return run_playbook(
        playbook,
        flow_inventories(sandbox),
        extra_vars=extra_vars,
        args=args,
        env=flow_env(sandbox, env),
        timeout=timeout,
        workdir=workdir,
        limit=limit,
    )


def start_flow(
    sandbox: Sandbox, workdir: Path, args: list[str] | None = None, extra_vars: dict | None = None
) -> subprocess.Popen:
    return start_playbook(
        FLOW_PLAYBOOK, flow_inventories(sandbox), workdir, extra_vars=extra_vars, args=args, env=flow_env(sandbox)
    )[0]


def start_playbook(
    playbook: Path | str,
    inventories: list[Path | str],
    workdir: Path,
    extra_vars: dict | None = None,
    args: list[str] | None = None,
    env: dict | None = None,
) -> tuple[subprocess.Popen, Path]:
    """ansible-playbook in the background; finish_playbook() collects it. Output goes to files (no pipe
    can fill up while the test waits)."""
    tag = f"{os.getpid()}-{time.monotonic_ns()}"
    cmd, run_env, results_file = _playbook_call(playbook, inventories, workdir, tag, extra_vars, args, env)
    # Open until finish_playbook() closes them.
    out = open(workdir / f"stdout-{tag}.txt", "w")  # noqa: SIM115
    err = open(workdir / f"stderr-{tag}.txt", "w")  # noqa: SIM115
    process = subprocess.Popen(cmd, cwd=REPO, env=run_env, stdout=out, stderr=err, text=True)
    process.proof_files = (results_file, out, err, time.monotonic())  # type: ignore[attr-defined]
    return process, results_file


def finish_playbook(process: subprocess.Popen, timeout: float = 300) -> PlaybookRun:
    results_file, out, err, started = process.proof_files  # type: ignore[attr-defined]
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    seconds = time.monotonic() - started
    out.close(), err.close()
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    return PlaybookRun(
        process.returncode, Path(out.name).read_text(), Path(err.name).read_text(), results, seconds, results_file
    )
