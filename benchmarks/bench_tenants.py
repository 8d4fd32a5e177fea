"""Benchmark 5: the whole flow on 1, 5 and 20 tenants with forks = tenants: wall time.
Target: 20 tenants <= 3x one tenant.

Every tenant's IDM and SCIM provider run on this machine too, so the table also splits the CPU seconds the run
used between Ansible (controller and module processes) and the sandbox servers, and gives the floor that CPU
time sets on the wall time: total CPU seconds / cores. A baseline shows what Ansible alone costs: as many
ansible.builtin.ping tasks as the flow ran per host, on as many local hosts, with the same forks.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
from pathlib import Path

import yaml

from benchmarks.common import Table, verdict
from sandbox import testing as proofkit


def _process_cpu(pid: int) -> float:
    """utime + stime of a process in seconds (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _sandbox_cpu(sandbox) -> float:
    return sum(_process_cpu(int(t.raw[kind]["pid"])) for t in sandbox.tenants for kind in ("idm", "scim"))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _noop_baseline(workdir: Path, hosts: int, tasks: int) -> float:
    """Wall seconds of `tasks` ansible.builtin.ping tasks on `hosts` local hosts, forks = hosts."""
    inventory = workdir / "noop-inventory.yml"
    inventory.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {
                        f"noop{i}": {"ansible_connection": "local", "ansible_python_interpreter": proofkit.PYTHON}
                        for i in range(hosts)
                    }
                }
            }
        )
    )
    playbook = workdir / "noop.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "no-op baseline",
                    "hosts": "all",
                    "gather_facts": False,
                    "tasks": [{"name": f"ping {i}", "ansible.builtin.ping": {}} for i in range(tasks)],
                }
            ]
        )
    )
    run_ = proofkit.run_playbook(playbook, [inventory], args=["--forks", str(hosts)], workdir=workdir, timeout=3600)
    if run_.rc != 0:
        raise RuntimeError(f"no-op baseline failed\n{run_.describe()}")
    return run_.seconds


def run(tenant_counts: tuple[int, ...] = (1, 5, 20), users: int = 50, groups: int = 5) -> list[Table]:
    rows, seconds, baseline = [], {}, {}
    with tempfile.TemporaryDirectory(prefix="bench-tenants-") as tmp:
        for count in tenant_counts:
            workdir = Path(tmp) / f"t{count}"
            workdir.mkdir()
            sandbox = proofkit.sandbox_up(workdir / "sandbox", tenants=count, users=users, groups=groups, timeout=600)
            try:
                sandbox_before, ansible_before = _sandbox_cpu(sandbox), _children_cpu()
                run_ = proofkit.run_flow(sandbox, workdir, args=["--forks", str(count)], timeout=3600)
                ansible_cpu = _children_cpu() - ansible_before
                sandbox_cpu = _sandbox_cpu(sandbox) - sandbox_before
                if run_.rc != 0:
                    raise RuntimeError(f"{count} tenants: the flow failed\n{run_.describe()}")
                seconds[count] = run_.seconds
                ok_hosts = sum(1 for s in run_.results.get("stats", {}).values() if not s.get("failures"))
                floor = (ansible_cpu + sandbox_cpu) / (os.cpu_count() or 1)
            finally:
                proofkit.sandbox_down(workdir / "sandbox")
            # Tasks the flow ran on one host, skipped ones included (each still costs a worker fork).
            first_host = sandbox.tenants[0].name
            tasks = sum(1 for t in run_.tasks if t.get("host") == first_host) or len(run_.tasks) // count
            baseline[count] = _noop_baseline(workdir, count, tasks)
            rows.append(
                [
                    count,
                    count,
                    run_.seconds,
                    run_.seconds / seconds[tenant_counts[0]],
                    ok_hosts,
                    ansible_cpu,
                    ansible_cpu / count,
                    sandbox_cpu,
                    floor,
                    tasks,
                    baseline[count],
                    baseline[count] / baseline[tenant_counts[0]],
                ]
            )
    ratio = seconds[tenant_counts[-1]] / seconds[tenant_counts[0]]
    baseline_ratio = baseline[tenant_counts[-1]] / baseline[tenant_counts[0]]
    return [
        Table(
            title=f"5. Tenants in parallel (forks = tenants, {users} users and {groups} groups each)",
            headers=[
                "tenants",
                "forks",
                "wall s",
                f"x {tenant_counts[0]} tenant",
                "hosts ok",
                "Ansible CPU s",
                "Ansible CPU s per tenant",
                "sandbox CPU s",
                "CPU floor s",
                "tasks per host",
                "no-op baseline wall s",
                f"baseline x {tenant_counts[0]}",
            ],
            rows=rows,
            notes=[
                f"{tenant_counts[-1]} tenants / {tenant_counts[0]} tenant = {ratio:.2f}x "
                f"(target <= 3x: {verdict(ratio <= 3)})",
                f"CPU floor = (Ansible + sandbox CPU seconds) / {os.cpu_count()} cores: no wall time can be lower "
                "on this machine",
                f"no-op baseline (ansible.builtin.ping, same tasks per host, hosts and forks): "
                f"{tenant_counts[-1]} / {tenant_counts[0]} = {baseline_ratio:.2f}x; the flow's ratio is "
                f"{ratio / baseline_ratio:.2f}x the baseline's",
            ],
            data={"seconds": seconds, "ratio": ratio, "baseline": baseline, "baseline_ratio": baseline_ratio},
        )
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", default="1,5,20")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--groups", type=int, default=5)
    args = parser.parse_args()
    counts = tuple(int(n) for n in args.tenants.split(","))
    for table in run(counts, args.users, args.groups):
        print(table.markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
