"""Sandboxes for tests and benchmarks, started the way a user starts them (``python -m sandbox up/down``):
their tenants, admin calls to a tenant's IDM, fault switches, snapshots of what a failed task must leave alone,
access-log counts, and waiting for recon runs."""

from __future__ import annotations

import collections
import json
import os
import re
import secrets
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
    """One tenant of a running sandbox: an IDM and a SCIM provider. Its repr leaves out the fields that hold
    secrets (pytest prints it when an assertion on a tenant's method fails)."""

    name: str
    idm_url: str
    admin_user: str
    admin_password: str = field(repr=False)
    scim_url: str
    state_dir: Path
    ca_path: str | None
    hostvars: dict = field(default_factory=dict, repr=False)
    raw: dict = field(default_factory=dict, repr=False)

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

    def idm(
        self, method: str, path: str, body: Any = None, params: dict | None = None, timeout: float = 30, **kwargs
    ) -> requests.Response:
        """One admin call to the sandbox IDM. `path` starts after /openidm/."""
        url = f"{self.idm_url.rstrip('/')}/openidm/{path.lstrip('/')}"
        return requests.request(
            method, url, json=body, params=params, headers=self._headers(**kwargs), verify=self.verify, timeout=timeout
        )

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
        response = requests.post(f"{self.scim_root()}/__sandbox/faults", json=settings, verify=self.verify, timeout=10)
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
        return snapshot_from_bodies(
            self.idm_json("GET", "config", params={"_queryFilter": "true"}),
            self.idm_json("GET", "managed/user", params=SNAPSHOT_COUNT_PARAMS),
            self.idm_json("GET", "managed/role", params=SNAPSHOT_COUNT_PARAMS),
            self.idm_json("GET", "recon"),
        )

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
    info: dict = field(repr=False)  # sandbox.json: credentials too

    @property
    def inventory(self) -> Path:
        return self.state_dir / "inventory.yml"

    def tenant(self, index: int = 0) -> Tenant:
        return self.tenants[index]


def sandbox_cmd(*args: str, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **(env or {}))
    return subprocess.run(
        [PYTHON, "-m", "sandbox", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def sandbox_up(
    state_dir: Path,
    tenants: int = 1,
    users: int = 10,
    groups: int = 2,
    tls: bool = False,
    scim_version: int = 2,
    extra: tuple[str, ...] = (),
    timeout: float = 180,
    env: dict | None = None,
) -> Sandbox:
    """`python -m sandbox up`; `env` reaches the servers (the CLI passes its environment on), e.g.
    IDM_SANDBOX_NO_SCRIPT_USERS or IDM_SANDBOX_BEARER_TOKENS."""
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    args = [
        "up",
        "--state",
        str(state_dir),
        "--tenants",
        str(tenants),
        "--users",
        str(users),
        "--groups",
        str(groups),
        "--scim-version",
        str(scim_version),
        *extra,
    ]
    if tls:
        args.append("--tls")
    result = sandbox_cmd(*args, timeout=timeout, env=env)
    if result.returncode != 0:
        sandbox_cmd("down", "--state", str(state_dir))
        raise SandboxError(
            f"sandbox up failed ({result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
        )
    return load_sandbox(state_dir)


def sandbox_down(state_dir: Path) -> None:
    sandbox_cmd("down", "--state", str(state_dir), timeout=120)


def restart_with_unique_admin_passwords(sandbox: Sandbox, **up_options: Any) -> Sandbox:
    """``sandbox`` stopped and started again (``sandbox_up(state_dir, **up_options)``) with a unique IDM admin
    password per tenant, so that a search for a leaked password means something (the default password is the user
    name). The CLI starts a stopped sandbox with the credentials its sandbox.json records."""
    sandbox_down(sandbox.state_dir)
    info_path = sandbox.state_dir / "sandbox.json"
    info = json.loads(info_path.read_text())
    for tenant in info["tenants"]:
        tenant["idm"]["password"] = f"proof-idm-{secrets.token_hex(10)}"
    fd = os.open(info_path, os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(fd, "w") as handle:
        json.dump(info, handle, indent=2)
    return sandbox_up(sandbox.state_dir, **up_options)


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
        tenants.append(
            Tenant(
                name=name,
                idm_url=_first(idm, "url", "idm_url", "base_url") or host.get("idm_url"),
                admin_user=_first(idm, "admin_user", "username", "idm_username", default="openidm-admin"),
                admin_password=_first(idm, "admin_password", "password", "idm_password", default="openidm-admin"),
                scim_url=_first(scim, "endpoint", "scim_endpoint", "url") or host.get("scim_endpoint", ""),
                state_dir=Path(_first(idm, "state_dir", "state", default=str(state_dir / name))),
                ca_path=_first(info, "ca_path", "ca", "ca_cert") or _first(raw, "ca_path"),
                hostvars=host,
                raw=raw,
            )
        )
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
