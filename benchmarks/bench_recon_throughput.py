"""Benchmark 4: sandbox recon throughput for 1,000 and 10,000 SCIM users (first run, unchanged re-run) and the
IDM process's peak memory (VmHWM from /proc), through the real CLI sandbox.

The flow configures the connector and the mappings on a fresh sandbox; its recon of systemScimAccount_managedUser
is the first run (it creates every user). A direct
`POST /openidm/recon?_action=recon&mapping=...&waitForCompletion=true` afterwards is the unchanged re-run.
Durations are IDM's own `started`/`ended`. When the colleagues' in-process benchmark
benchmarks/sandbox_recon.py exists, run_all.py runs it as well and prints its table next to this one.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from benchmarks.common import Table
from sandbox import testing as proofkit

MAPPING = "systemScimAccount_managedUser"


def _seconds(summary: dict) -> float:
    start, end = (datetime.fromisoformat(summary[k].replace("Z", "+00:00")).timestamp() for k in ("started", "ended"))
    return end - start


def _peak_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _idm_pid(tenant: proofkit.Tenant) -> int | None:
    idm = tenant.raw.get("idm", tenant.raw)
    pid = idm.get("pid") or idm.get("idm_pid")
    return int(pid) if pid else None


def _recon(tenant: proofkit.Tenant) -> tuple[dict, float]:
    started = time.monotonic()
    response = tenant.idm(
        "POST", "recon", params={"_action": "recon", "mapping": MAPPING, "waitForCompletion": "true"}, timeout=3600
    )
    wall = time.monotonic() - started
    response.raise_for_status()
    return tenant.idm_json("GET", f"recon/{response.json()['_id']}"), wall


def measure(users: int, workdir: Path) -> dict:
    state = workdir / f"sandbox-{users}"
    sandbox = proofkit.sandbox_up(state, tenants=1, users=users, groups=10, timeout=900)
    try:
        tenant = sandbox.tenant(0)
        # The flow's own recon of the mapping on a fresh sandbox is the first run (it creates every user);
        # a direct recon afterwards is the unchanged re-run.
        flow = proofkit.run_flow(sandbox, workdir, timeout=3600)
        if flow.rc != 0:
            raise RuntimeError(f"flow failed on {users} users\n{flow.describe()}")
        first = next(r for r in tenant.recons() if r.get("mapping") == MAPPING)
        rerun, rerun_wall = _recon(tenant)
        pid = _idm_pid(tenant)
        return {
            "users": users,
            "first_s": _seconds(first),
            "first_created": (first.get("progress", {}).get("target", {}) or {}).get("created"),
            "rerun_s": _seconds(rerun),
            "rerun_wall_s": rerun_wall,
            "rerun_unchanged": (rerun.get("progress", {}).get("target", {}) or {}).get("unchanged"),
            "peak_mib": (_peak_kib(pid) or 0) / 1024 if pid else None,
        }
    finally:
        proofkit.sandbox_down(state)


def run(user_counts: tuple[int, ...] = (1000, 10000)) -> list[Table]:
    with tempfile.TemporaryDirectory(prefix="bench-recon-") as tmp:
        results = [measure(n, Path(tmp)) for n in user_counts]
    rows = []
    for r in results:
        rows.append(
            [
                r["users"],
                r["first_s"],
                r["users"] / r["first_s"] if r["first_s"] else float("nan"),
                r["first_created"],
                r["rerun_s"],
                r["users"] / r["rerun_s"] if r["rerun_s"] else float("nan"),
                r["rerun_unchanged"],
                f"{r['peak_mib']:.0f}" if r["peak_mib"] is not None else "n/a",
            ]
        )
    return [
        Table(
            title="4. Sandbox recon throughput, systemScimAccount_managedUser (CLI sandbox, IDM-reported duration)",
            headers=[
                "users",
                "first run s",
                "first users/s",
                "created",
                "unchanged re-run s",
                "re-run users/s",
                "unchanged",
                "IDM peak RSS MiB",
            ],
            rows=rows,
            notes=[
                "peak RSS is the IDM process's VmHWM after both runs (the process also holds the other mappings' "
                "runs of the flow)"
            ],
            data={"results": results},
        )
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", default="1000,10000")
    args = parser.parse_args()
    for table in run(tuple(int(n) for n in args.users.split(","))):
        print(table.markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
