"""Where the modules run (issue 11): in the controller process for local connections, as module processes for
others, and the same outcome either way.

- The whole flow on two identical sandboxes, once as module processes and once in process: the same tasks end
  the same way with the same results, diffs and recon counters.
- A task delegated to a host with a non-local connection runs as a module process (-vvv shows the AnsiballZ
  upload); the variable idmops_pingidm_execution forces either path.
- async is refused with a message; the task's environment reaches the env fallbacks and the proxy settings.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from sandbox import testing as proofkit

CONNECTION_PLUGINS = Path(__file__).resolve().parent / "connection_plugins"
# Values that differ between two runs of the same flow: run ids, timestamps, durations, ports, revisions.
VOLATILE_KEYS = {
    "id",
    "_id",
    "_rev",
    "started",
    "ended",
    "duration_ms",
    "waited",
    "summary",
    "msg",
    "invocation",
    "attempts",
    "recon_id",
    "source_ids",
    "elapsed",
    "diff",
}


def _normalise(value, urls):
    if isinstance(value, dict):
        return {
            k: _normalise(v, urls)
            for k, v in sorted(value.items())
            if k not in VOLATILE_KEYS and not k.startswith("_ansible")
        }
    if isinstance(value, list):
        return [_normalise(v, urls) for v in value]
    if isinstance(value, str):
        for url, name in urls.items():
            value = value.replace(url, name)
        return re.sub(r"\b\d+(\.\d+)? ?m?s\b", "<time>", value)
    return value


def _outcome(run: proofkit.PlaybookRun, tenant: proofkit.Tenant) -> list:
    # scheme://host:port of both servers (the ports differ between the two sandboxes)
    urls = {
        "{0.scheme}://{0.netloc}".format(urlsplit(tenant.idm_url)): "<idm>",
        "{0.scheme}://{0.netloc}".format(urlsplit(tenant.scim_url)): "<scim>",
    }
    rows = []
    for task in run.tasks:
        result = task["result"]
        row = {
            "task": task["task"],
            "action": task["action"],
            "status": task["status"],
            "changed": bool(result.get("changed")),
        }
        if task["action"].startswith("idmops.pingidm."):
            row["result"] = _normalise(result, urls)
            diff = result.get("diff")
            if diff is not None:
                row["diff_keys"] = _normalise(
                    [sorted((d.get("after") or {}).keys()) for d in (diff if isinstance(diff, list) else [diff])], urls
                )
        rows.append(row)
    return rows


def test_the_flow_gives_the_same_outcome_in_process_and_as_module_processes(tmp_path):
    outcomes, logs = {}, {}
    for path in ("module", "controller"):
        # Two sandboxes whose only tenant has the same name: the same seeded users, groups and memberships.
        sandbox = proofkit.sandbox_up(tmp_path / path, users=8, groups=2)
        try:
            runs = [
                proofkit.run_flow(sandbox, tmp_path, args=["--diff", "-vvv"], env={"IDMOPS_PINGIDM_EXECUTION": path})
                for _first_or_second in range(2)
            ]
        finally:
            proofkit.sandbox_down(tmp_path / path)
        for run in runs:
            assert run.rc == 0, run.describe()
        outcomes[path] = [_outcome(run, sandbox.tenant(0)) for run in runs]
        logs[path] = runs[0].stdout
    # The first run changes things, the second is idempotent, and both paths agree on every task of both runs.
    assert outcomes["module"] == outcomes["controller"], _first_difference(outcomes["module"], outcomes["controller"])
    assert any(row["changed"] for row in outcomes["controller"][0])
    assert not any(row["changed"] for row in outcomes["controller"][1])
    # Only the module path packages and executes modules.
    assert "AnsiballZ_recon.py" in logs["module"]
    assert "AnsiballZ_" not in logs["controller"]


@pytest.fixture(scope="module")
def tenant_sandbox(tmp_path_factory):
    state_dir = tmp_path_factory.mktemp("execution-sandbox")
    sandbox = proofkit.sandbox_up(state_dir, users=2, groups=1)
    try:
        yield sandbox
    finally:
        proofkit.sandbox_down(state_dir)


def _inventory(tmp_path: Path) -> Path:
    """localhost (local) and a 'bastion' reached through a connection that is not called local."""
    path = tmp_path / "hosts.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {
                        "localhost": {"ansible_connection": "local", "ansible_python_interpreter": proofkit.PYTHON},
                        "bastion": {
                            "ansible_connection": "idmops_test_remote",
                            "ansible_python_interpreter": proofkit.PYTHON,
                        },
                    }
                }
            }
        )
    )
    return path


def _play(tmp_path: Path, task: dict, name: str = "play") -> Path:
    playbook = tmp_path / f"{name}.yml"
    playbook.write_text(yaml.safe_dump([{"name": name, "hosts": "localhost", "gather_facts": False, "tasks": [task]}]))
    return playbook


def _run(tmp_path: Path, task: dict, **kwargs) -> proofkit.PlaybookRun:
    return proofkit.run_playbook(
        _play(tmp_path, task),
        [_inventory(tmp_path)],
        args=["-vvv"],
        env={"ANSIBLE_CONNECTION_PLUGINS": str(CONNECTION_PLUGINS)},
        **kwargs,
    )


@pytest.mark.parametrize(
    "where, variables, module_process",
    [
        ({}, {}, False),
        ({"delegate_to": "bastion"}, {}, True),
        ({"delegate_to": "bastion"}, {"idmops_pingidm_execution": "controller"}, False),
        ({}, {"idmops_pingidm_execution": "module"}, True),
    ],
)
def test_the_connection_and_the_switch_decide_the_path(tenant_sandbox, tmp_path, where, variables, module_process):
    task = dict(
        {
            "name": "ping IDM",
            "idmops.pingidm.info": proofkit.connection_vars(tenant_sandbox.tenant(0)),
            "vars": variables,
        },
        **where,
    )
    run = _run(tmp_path, task)
    assert run.rc == 0, run.describe()
    assert run.by_action("info")[0]["result"]["ping"]["state"] == "ACTIVE_READY"
    assert ("AnsiballZ_info.py" in run.stdout) is module_process, run.stdout[-3000:]


def test_an_unknown_execution_value_is_refused(tenant_sandbox, tmp_path):
    task = {
        "name": "ping IDM",
        "idmops.pingidm.info": proofkit.connection_vars(tenant_sandbox.tenant(0)),
        "vars": {"idmops_pingidm_execution": "remote"},
    }
    run = _run(tmp_path, task)
    assert run.rc != 0
    assert "idmops_pingidm_execution must be one of auto, controller, module" in run.failure_messages()


def test_async_is_refused_with_a_message(tenant_sandbox, tmp_path):
    task = {
        "name": "recon in the background",
        "async": 60,
        "poll": 0,
        "idmops.pingidm.recon_info": proofkit.connection_vars(tenant_sandbox.tenant(0)),
    }
    run = _run(tmp_path, task)
    assert run.rc != 0
    assert "idmops.pingidm.recon_info does not support async" in run.failure_messages()
    assert "wait=false" in run.failure_messages()


def test_the_task_environment_reaches_the_env_fallbacks(tenant_sandbox, tmp_path):
    tenant = tenant_sandbox.tenant(0)
    task = {
        "name": "connection from the environment",
        "idmops.pingidm.info": {},
        "environment": {
            "IDM_URL": tenant.idm_url,
            "IDM_USERNAME": tenant.admin_user,
            "IDM_PASSWORD": tenant.admin_password,
        },
    }
    run = _run(tmp_path, task)
    assert run.rc == 0, run.describe()
    assert tenant.admin_password not in run.stdout + run.stderr


def test_the_task_environment_reaches_the_proxy_settings(tenant_sandbox, tmp_path):
    connection = proofkit.connection_vars(tenant_sandbox.tenant(0))
    proxy = {"HTTP_PROXY": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9", "NO_PROXY": "", "no_proxy": ""}
    through_proxy = _run(
        tmp_path, {"name": "through a proxy that is not there", "idmops.pingidm.info": connection, "environment": proxy}
    )
    assert through_proxy.rc != 0
    assert "the HTTP proxy for 127.0.0.1" in through_proxy.failure_messages(), through_proxy.failure_messages()
    bypassed = _run(
        tmp_path,
        {
            "name": "the proxy bypassed for IDM",
            "idmops.pingidm.info": connection,
            "environment": dict(proxy, NO_PROXY="127.0.0.1", no_proxy="127.0.0.1"),
        },
    )
    assert bypassed.rc == 0, bypassed.describe()


def _first_difference(a, b, path="$"):
    if type(a) is not type(b):
        return f"{path}: {a!r} != {b!r}"
    if isinstance(a, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return f"{path}.{key}: only on one side ({a.get(key)!r} / {b.get(key)!r})"
            found = _first_difference(a[key], b[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)} items"
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            found = _first_difference(x, y, f"{path}[{index}]")
            if found:
                return found
        return None
    return None if a == b else f"{path}: {a!r} != {b!r}"
