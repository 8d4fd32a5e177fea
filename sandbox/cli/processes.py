"""The sandbox's processes: start one detached (own session, output to files), wait for its ``ready <url>``
line, check that a pid still runs a sandbox server and that the servers answer, and stop pids (SIGTERM, then
SIGKILL after a timeout)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time

import requests

from .common import PROVIDERS, REPO, STOP_TIMEOUT


def pid_alive(pid):
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as dead
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def is_sandbox_process(pid, module):
    """True when ``pid`` still runs ``python -m <module>`` (guards against recycled pids)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return module.encode() in handle.read().split(b"\0")
    except OSError:
        return pid_alive(pid)


def spawn(argv, log_prefix, env_extra):
    env = dict(os.environ)
    env.update(env_extra)
    env["PYTHONPATH"] = REPO + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    # The child keeps its own copies of the descriptors; ours are closed once it started.
    with (
        open(f"{log_prefix}.out", "w", encoding="utf-8") as out,
        open(f"{log_prefix}.err", "a", encoding="utf-8") as err,
    ):
        return subprocess.Popen(
            argv, cwd=REPO, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True
        )


def wait_ready_line(process, log_prefix, deadline):
    """The URL from the child's ``ready <url>`` line; raises if it exits or times out first."""
    path = f"{log_prefix}.out"
    while time.monotonic() < deadline:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("ready "):
                    return line.split(None, 1)[1].strip()
        if process.poll() is not None:
            raise RuntimeError(f"{os.path.basename(log_prefix)} exited with {process.returncode}; see {log_prefix}.err")
        time.sleep(0.05)
    raise RuntimeError(f"{os.path.basename(log_prefix)} did not report ready in time")


def idm_answers(tenant, verify, timeout=3.0):
    try:
        response = requests.get(tenant["idm"]["url"] + "/openidm/info/ping", timeout=timeout, verify=verify)
        return response.status_code == 200 and response.json().get("state") == "ACTIVE_READY"
    except (requests.RequestException, ValueError):
        return False


def scim_module(tenant):
    return tenant["scim"].get("module") or PROVIDERS["sandbox"]


def scim_answers(tenant, verify, timeout=3.0):
    """The provider answers its ServiceProviderConfig (with the tenant's credentials: django_scim wants them)."""
    scim = tenant["scim"]
    auth, headers = None, {}
    if scim.get("auth") == "BASIC":
        auth = (scim["basic_user"], scim["basic_password"])
    elif scim.get("auth") == "TOKEN":
        headers["Authorization"] = f"Bearer {scim['static_token']}"
    try:
        base = scim["endpoint"].rsplit("/scim/", 1)[0]
        response = requests.get(
            base + "/scim/v2/ServiceProviderConfig", timeout=timeout, verify=verify, auth=auth, headers=headers
        )
        return response.status_code == 200
    except requests.RequestException:
        return False


def verify_of(state):
    return state.get("ca_path") or True


def healthy(state):
    verify = verify_of(state)
    for tenant in state.get("tenants", []):
        for kind, module in (("idm", "sandbox.idm"), ("scim", scim_module(tenant))):
            pid = tenant[kind].get("pid")
            if not pid or not pid_alive(pid) or not is_sandbox_process(pid, module):
                return False
        if not idm_answers(tenant, verify) or not scim_answers(tenant, verify):
            return False
    return bool(state.get("tenants"))


def stop_pids(targets, timeout=STOP_TIMEOUT):
    """SIGTERM every ``(pid, module)`` at once, wait for all, SIGKILL stragglers. Returns {pid: outcome}."""
    outcomes, waiting = {}, []
    for pid, module in targets:
        if not pid or not pid_alive(pid):
            outcomes[pid] = "not running"
        elif not is_sandbox_process(pid, module):
            outcomes[pid] = "pid reused by another program; left alone"
        else:
            os.kill(pid, signal.SIGTERM)
            waiting.append(pid)
    deadline = time.monotonic() + timeout
    while waiting and time.monotonic() < deadline:
        for pid in list(waiting):
            _reap(pid)
            if not pid_alive(pid):
                outcomes[pid] = "stopped"
                waiting.remove(pid)
        time.sleep(0.05)
    for pid in waiting:
        os.kill(pid, signal.SIGKILL)
        _reap(pid)
        outcomes[pid] = "killed"
    return outcomes


def stop_pid(pid, module, timeout=STOP_TIMEOUT):
    return stop_pids([(pid, module)], timeout)[pid]


def _reap(pid):
    with contextlib.suppress(ChildProcessError):  # not our child: nothing to reap
        os.waitpid(pid, os.WNOHANG)
