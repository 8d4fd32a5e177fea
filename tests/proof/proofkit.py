"""Shared helpers for the proof tests and the benchmarks: start/stop a sandbox through its CLI, talk to its IDM,
snapshot its state, and run ansible-playbook as a subprocess with the proof_results callback.

Everything runs the real pieces as a user would: `python -m sandbox up/down` and `ansible-playbook`.
"""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import urllib3
import yaml

REPO = Path(__file__).resolve().parents[2]
PROOF_DIR = Path(__file__).resolve().parent
COLLROOT = REPO / ".venv" / "collroot"
PYTHON = sys.executable
SAMPLE_MAPPINGS = (
    "systemScimAccount_managedUser",
    "managedUser_systemScimAccount",
    "systemScimGroup_managedRole",
    "managedRole_systemScimGroup",
)

# Sandbox certificates come from a CA made at test time; the test helpers verify with it when they have it,
# and only switch off verification (and its warning) where a test needs an untrusted call on purpose.
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)


class SandboxError(RuntimeError):
    pass


def _first(mapping: dict, *keys: str, default: Any = None) -> Any:
    for key in keys:
        if isinstance(mapping, dict) and mapping.get(key) not in (None, ""):
            return mapping[key]
    return default


@dataclass
class Tenant:
    """One tenant of a running sandbox: an IDM and a SCIM provider."""

    name: str
    idm_url: str
    admin_user: str
    admin_password: str
    scim_url: str
    state_dir: Path
    ca_path: str | None
    hostvars: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)

    @property
    def verify(self) -> Any:
        return self.ca_path or True

    def _headers(self, user: str | None = None, password: str | None = None) -> dict:
        return {
            "X-OpenIDM-Username": user or self.admin_user,
            "X-OpenIDM-Password": password or self.admin_password,
            "X-OpenIDM-NoSession": "true",
            "Accept-API-Version": "resource=1.0",
        }

    def idm(self, method: str, path: str, body: Any = None, params: dict | None = None,
            timeout: float = 30, **kwargs) -> requests.Response:
        """One admin call to the sandbox IDM. `path` starts after /openidm/."""
        url = f"{self.idm_url.rstrip('/')}/openidm/{path.lstrip('/')}"
        return requests.request(method, url, json=body, params=params, headers=self._headers(**kwargs),
                                verify=self.verify, timeout=timeout)

    def idm_json(self, method: str, path: str, body: Any = None, params: dict | None = None) -> Any:
        response = self.idm(method, path, body, params)
        if response.status_code >= 400:
            raise SandboxError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else None

    # Fault switches -------------------------------------------------------------------------------------
    def idm_faults(self, **settings: Any) -> None:
        self.idm_json("POST", "__sandbox/faults", settings)

    def idm_faults_reset(self) -> None:
        self.idm_json("DELETE", "__sandbox/faults")

    def scim_root(self) -> str:
        """The SCIM provider's origin (scheme://host:port), where /__sandbox/faults lives."""
        match = re.match(r"^(https?://[^/]+)", self.scim_url)
        if not match:
            raise SandboxError(f"cannot find the SCIM provider origin in {self.scim_url!r}")
        return match.group(1)

    def scim_faults(self, **settings: Any) -> None:
        response = requests.post(f"{self.scim_root()}/__sandbox/faults", json=settings, verify=self.verify,
                                 timeout=10)
        response.raise_for_status()

    def scim_faults_reset(self) -> None:
        requests.delete(f"{self.scim_root()}/__sandbox/faults", verify=self.verify, timeout=10).raise_for_status()

    # State --------------------------------------------------------------------------------------------------
    def recons(self) -> list[dict]:
        return recon_list(self.idm_json("GET", "recon"))

    def managed_count(self, object_type: str) -> int:
        body = self.idm_json("GET", f"managed/{object_type}", params=SNAPSHOT_COUNT_PARAMS)
        return len(body.get("result", []))

    def config_snapshot(self) -> dict[str, Any]:
        return config_snapshot(self.idm_json("GET", "config", params={"_queryFilter": "true"}))

    def snapshot(self) -> dict[str, Any]:
        """Config and data counts: what a failed task must leave untouched."""
        return snapshot_from_bodies(self.idm_json("GET", "config", params={"_queryFilter": "true"}),
                                    self.idm_json("GET", "managed/user", params=SNAPSHOT_COUNT_PARAMS),
                                    self.idm_json("GET", "managed/role", params=SNAPSHOT_COUNT_PARAMS),
                                    self.idm_json("GET", "recon"))

    def access_log(self) -> Path:
        for candidate in (self.state_dir / "access.log", self.state_dir / "idm" / "access.log"):
            if candidate.exists():
                return candidate
        found = sorted(self.state_dir.rglob("access.log"))
        if not found:
            raise SandboxError(f"no access.log under {self.state_dir}")
        return found[0]

    def access_log_lines(self) -> list[str]:
        return self.access_log().read_text(encoding="utf-8", errors="replace").splitlines()


SNAPSHOT_COUNT_PARAMS = {"_queryFilter": "true", "_fields": "_id"}


def recon_list(body: Any) -> list[dict]:
    return body.get("reconciliations", []) if isinstance(body, dict) else list(body or [])


def config_snapshot(body: dict) -> dict[str, Any]:
    return {item["_id"]: _strip_volatile(item) for item in body.get("result", [])}


def snapshot_from_bodies(config: dict, users: dict, roles: dict, recons: Any) -> dict[str, Any]:
    """The snapshot from the four answers (also used on answers fetched inside a playbook)."""
    return {
        "config": config_snapshot(config),
        "managed/user": len(users.get("result", [])),
        "managed/role": len(roles.get("result", [])),
        "recon_runs": len(recon_list(recons)),
    }


def _strip_volatile(item: dict) -> dict:
    """`$crypto` blobs are re-encrypted with a fresh IV on every write; a snapshot compares whether the
    config changed, so a secret counts as 'a secret was there' and nothing more."""
    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            if "$crypto" in value:
                return {"$crypto": "<encrypted>"}
            return {k: walk(v) for k, v in value.items() if k != "_rev"}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value
    return walk(item)


def count_requests(lines: list[str]) -> dict[str, Any]:
    """Count access-log lines `<iso-time> <method> <path> <status> <ms>` by method and by method+path."""
    by_method: collections.Counter = collections.Counter()
    by_call: collections.Counter = collections.Counter()
    for line in lines:
        parts = line.split()
        if len(parts) < 3 or "__sandbox" in parts[2]:
            continue
        by_method[parts[1]] += 1
        by_call[f"{parts[1]} {parts[2]}"] += 1
    return {"total": sum(by_method.values()), "by_method": dict(by_method), "by_call": dict(by_call)}


@dataclass
class Sandbox:
    state_dir: Path
    tenants: list[Tenant]
    info: dict

    @property
    def inventory(self) -> Path:
        return self.state_dir / "inventory.yml"

    def tenant(self, index: int = 0) -> Tenant:
        return self.tenants[index]


def sandbox_cmd(*args: str, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **(env or {}))
    return subprocess.run([PYTHON, "-m", "sandbox", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def sandbox_up(state_dir: Path, tenants: int = 1, users: int = 10, groups: int = 2, tls: bool = False,
               scim_version: int = 2, extra: tuple[str, ...] = (), timeout: float = 180,
               env: dict | None = None) -> Sandbox:
    """`python -m sandbox up`; `env` reaches the servers (the CLI passes its environment on), e.g.
    IDM_SANDBOX_NO_SCRIPT_USERS or IDM_SANDBOX_BEARER_TOKENS."""
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    args = ["up", "--state", str(state_dir), "--tenants", str(tenants), "--users", str(users),
            "--groups", str(groups), "--scim-version", str(scim_version), *extra]
    if tls:
        args.append("--tls")
    result = sandbox_cmd(*args, timeout=timeout, env=env)
    if result.returncode != 0:
        sandbox_cmd("down", "--state", str(state_dir))
        raise SandboxError(f"sandbox up failed ({result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return load_sandbox(state_dir)


def sandbox_down(state_dir: Path) -> None:
    sandbox_cmd("down", "--state", str(state_dir), timeout=120)


def load_sandbox(state_dir: Path) -> Sandbox:
    state_dir = Path(state_dir)
    info = json.loads((state_dir / "sandbox.json").read_text())
    inventory = yaml.safe_load((state_dir / "inventory.yml").read_text()) or {}
    hostvars = _inventory_hosts(inventory)
    raw_tenants = info.get("tenants")
    if isinstance(raw_tenants, dict):
        raw_tenants = [dict(v, name=v.get("name", k)) for k, v in raw_tenants.items()]
    tenants = []
    for index, raw in enumerate(raw_tenants or []):
        name = raw.get("name") or f"tenant{index + 1}"
        idm = raw.get("idm", raw)
        scim = raw.get("scim", raw)
        host = hostvars.get(name, {})
        tenants.append(Tenant(
            name=name,
            idm_url=_first(idm, "url", "idm_url", "base_url") or host.get("idm_url"),
            admin_user=_first(idm, "admin_user", "username", "idm_username", default="openidm-admin"),
            admin_password=_first(idm, "admin_password", "password", "idm_password", default="openidm-admin"),
            scim_url=_first(scim, "endpoint", "scim_endpoint", "url") or host.get("scim_endpoint", ""),
            state_dir=Path(_first(idm, "state_dir", "state", default=str(state_dir / name))),
            ca_path=_first(info, "ca_path", "ca", "ca_cert") or _first(raw, "ca_path"),
            hostvars=host,
            raw=raw,
        ))
    return Sandbox(state_dir=state_dir, tenants=tenants, info=info)


def _inventory_hosts(inventory: dict) -> dict[str, dict]:
    hosts: dict[str, dict] = {}

    def walk(group: dict, inherited: dict) -> None:
        group = group or {}
        merged = {**inherited, **(group.get("vars") or {})}
        for host, host_vars in (group.get("hosts") or {}).items():
            hosts[host] = {**merged, **hosts.get(host, {}), **(host_vars or {})}
        for child in (group.get("children") or {}).values():
            walk(child, merged)

    for top in inventory.values():
        walk(top, {})
    return hosts


# ansible-playbook ---------------------------------------------------------------------------------------------
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
        return (f"rc={self.rc}\n--- stdout (tail)\n{self.stdout[-6000:]}\n--- stderr (tail)\n{self.stderr[-3000:]}")


def ansible_env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(COLLROOT),
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_CALLBACK_PLUGINS": str(PROOF_DIR / "callback_plugins"),
        "ANSIBLE_CALLBACKS_ENABLED": "proof_results",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_HOST_KEY_CHECKING": "0",
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PATH": f"{Path(PYTHON).parent}:{os.environ.get('PATH', '')}",
    })
    for key in list(env):
        if key.startswith(("IDM_", "SCIM_")):
            del env[key]  # connection env fallbacks of the modules must come from the test, not the shell
    env.update(extra or {})
    return env


def run_playbook(playbook: Path | str, inventories: list[Path | str] | None = None, extra_vars: dict | None = None,
                 args: list[str] | None = None, env: dict | None = None, timeout: float = 300,
                 workdir: Path | None = None, limit: str | None = None) -> PlaybookRun:
    workdir = Path(workdir or Path(playbook).parent)
    results_file = workdir / f"results-{os.getpid()}-{time.monotonic_ns()}.json"
    cmd = [str(Path(PYTHON).parent / "ansible-playbook"), str(playbook)]
    for inventory in inventories or []:
        cmd += ["-i", str(inventory)]
    if extra_vars:
        vars_file = workdir / f"extra-vars-{time.monotonic_ns()}.json"
        vars_file.write_text(json.dumps(extra_vars))
        cmd += ["-e", f"@{vars_file}"]
    if limit:
        cmd += ["--limit", limit]
    cmd += args or []
    started = time.monotonic()
    process = subprocess.run(cmd, cwd=REPO, env=ansible_env({"PROOF_RESULTS_FILE": str(results_file), **(env or {})}),
                             capture_output=True, text=True, timeout=timeout, check=False)
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
    path.write_text(yaml.safe_dump({"all": {"hosts": {"localhost": {
        "ansible_connection": "local",
        "ansible_python_interpreter": PYTHON,
    }}}}))
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


def run_flow(sandbox: Sandbox, workdir: Path, extra_vars: dict | None = None, args: list[str] | None = None,
             env: dict | None = None, timeout: float = 300, limit: str | None = None,
             playbook: Path = FLOW_PLAYBOOK) -> PlaybookRun:
    """playbooks/scim_sync.yml (or another playbook) against the sandbox, as a user runs it."""
    return run_playbook(playbook, flow_inventories(sandbox), extra_vars=extra_vars, args=args,
                        env=flow_env(sandbox, env), timeout=timeout, workdir=workdir, limit=limit)


def start_flow(sandbox: Sandbox, workdir: Path, args: list[str] | None = None,
               extra_vars: dict | None = None) -> subprocess.Popen:
    return start_playbook(FLOW_PLAYBOOK, flow_inventories(sandbox), workdir, extra_vars=extra_vars, args=args,
                          env=flow_env(sandbox))[0]


def start_playbook(playbook: Path | str, inventories: list[Path | str], workdir: Path,
                   extra_vars: dict | None = None, args: list[str] | None = None,
                   env: dict | None = None) -> tuple[subprocess.Popen, Path]:
    """ansible-playbook in the background; finish_playbook() collects it. Output goes to files (no pipe
    can fill up while the test waits)."""
    tag = time.monotonic_ns()
    results_file = workdir / f"results-{tag}.json"
    cmd = [str(Path(PYTHON).parent / "ansible-playbook"), str(playbook)]
    for inventory in inventories:
        cmd += ["-i", str(inventory)]
    if extra_vars:
        vars_file = workdir / f"extra-vars-{tag}.json"
        vars_file.write_text(json.dumps(extra_vars))
        cmd += ["-e", f"@{vars_file}"]
    cmd += args or []
    out, err = open(workdir / f"stdout-{tag}.txt", "w"), open(workdir / f"stderr-{tag}.txt", "w")
    process = subprocess.Popen(cmd, cwd=REPO, env=ansible_env({"PROOF_RESULTS_FILE": str(results_file), **(env or {})}),
                               stdout=out, stderr=err, text=True)
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
    return PlaybookRun(process.returncode, Path(out.name).read_text(), Path(err.name).read_text(), results,
                       seconds, results_file)


def wait_for(check, timeout: float, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SandboxError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def active_recon(tenant: Tenant, mapping: str | None = None) -> dict | None:
    try:
        runs = tenant.recons()
    except (requests.RequestException, SandboxError):
        return None
    for run in runs:
        if run.get("state") == "ACTIVE" and (mapping is None or run.get("mapping") == mapping):
            return run
    return None


def recon_runs_by_mapping(runs: list[dict], exclude_ids: set[str] = frozenset()) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = collections.defaultdict(list)
    for run in runs:
        if run.get("_id") not in exclude_ids:
            grouped[run.get("mapping")].append(run)
    return dict(grouped)
