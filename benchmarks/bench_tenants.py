"""Benchmark 5: the whole flow on 1, 5 and 20 tenants with forks = tenants: wall time.
Target: 20 tenants <= 3x one tenant."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from common import Table, proofkit, verdict


def run(tenant_counts: tuple[int, ...] = (1, 5, 20), users: int = 50, groups: int = 5) -> list[Table]:
    rows, seconds = [], {}
    with tempfile.TemporaryDirectory(prefix="bench-tenants-") as tmp:
        for count in tenant_counts:
            workdir = Path(tmp) / f"t{count}"
            workdir.mkdir()
            sandbox = proofkit.sandbox_up(workdir / "sandbox", tenants=count, users=users, groups=groups,
                                          timeout=600)
            try:
                run_ = proofkit.run_flow(sandbox, workdir, args=["--forks", str(count)], timeout=3600)
                if run_.rc != 0:
                    raise RuntimeError(f"{count} tenants: the flow failed\n{run_.describe()}")
                seconds[count] = run_.seconds
                ok_hosts = sum(1 for s in run_.results.get("stats", {}).values() if not s.get("failures"))
                rows.append([count, count, run_.seconds, run_.seconds / seconds[tenant_counts[0]], ok_hosts])
            finally:
                proofkit.sandbox_down(workdir / "sandbox")
    ratio = seconds[tenant_counts[-1]] / seconds[tenant_counts[0]]
    return [Table(
        title=f"5. Tenants in parallel (forks = tenants, {users} users and {groups} groups each)",
        headers=["tenants", "forks", "wall s", f"x {tenant_counts[0]} tenant", "hosts ok"],
        rows=rows,
        notes=[f"{tenant_counts[-1]} tenants / {tenant_counts[0]} tenant = {ratio:.2f}x "
               f"(target <= 3x: {verdict(ratio <= 3)})"],
        data={"seconds": seconds, "ratio": ratio},
    )]


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
