"""Benchmarks 1 and 2: the whole sample flow through our role (playbooks/scim_sync.yml) against the plain
uri/template playbook (benchmarks/plain_uri/), on the same sandbox data, alternating, with a fresh sandbox per
round; then the idempotent re-run's requests counted from the sandbox IDM's access log.

Target: ours <= 0.5x the plain playbook's wall time; the re-run needs no PUT/POST-create and no more requests.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from benchmarks.common import FLOW_PLAYBOOK, PLAIN_PLAYBOOK, Table, median, verdict
from sandbox import testing as proofkit

VARIANTS = {"role": FLOW_PLAYBOOK, "plain uri": PLAIN_PLAYBOOK}


def _one(variant: str, workdir: Path, users: int, groups: int) -> dict:
    state = workdir / f"sandbox-{variant.replace(' ', '-')}"
    sandbox = proofkit.sandbox_up(state, tenants=1, users=users, groups=groups)
    try:
        tenant = sandbox.tenant(0)
        env = {"PLAIN_URI_WORKDIR": str(workdir)}
        first = proofkit.run_flow(sandbox, workdir, env=env, playbook=VARIANTS[variant])
        if first.rc != 0:
            raise RuntimeError(f"{variant}: first run failed\n{first.describe()}")
        log_mark = len(tenant.access_log_lines())
        second = proofkit.run_flow(sandbox, workdir, env=env, playbook=VARIANTS[variant])
        if second.rc != 0:
            raise RuntimeError(f"{variant}: re-run failed\n{second.describe()}")
        rerun_requests = proofkit.count_requests(tenant.access_log_lines()[log_mark:])
        return {
            "first": first.seconds,
            "rerun": second.seconds,
            "rerun_requests": rerun_requests,
            "rerun_changed": sum(s.get("changed", 0) for s in second.results.get("stats", {}).values()),
        }
    finally:
        proofkit.sandbox_down(state)


def run(rounds: int = 3, users: int = 200, groups: int = 20) -> list[Table]:
    samples: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="bench-flow-") as tmp:
        for round_no in range(rounds):
            # Alternate which variant goes first, so warm-up effects do not favour one side.
            order = list(VARIANTS) if round_no % 2 == 0 else list(reversed(VARIANTS))
            for variant in order:
                workdir = Path(tmp) / f"round{round_no}-{variant.replace(' ', '-')}"
                workdir.mkdir()
                samples[variant].append(_one(variant, workdir, users, groups))

    ours, plain = samples["role"], samples["plain uri"]
    first_ratio = median([s["first"] for s in ours]) / median([s["first"] for s in plain])
    rerun_ratio = median([s["rerun"] for s in ours]) / median([s["rerun"] for s in plain])
    flow = Table(
        title=f"1. Whole sample flow: role vs plain uri playbook ({rounds} rounds each, {users} users, "
        f"{groups} groups)",
        headers=["variant", "first run median s", "first runs s", "re-run median s", "re-runs s"],
        rows=[
            [
                v,
                median([s["first"] for s in samples[v]]),
                ", ".join(f"{s['first']:.1f}" for s in samples[v]),
                median([s["rerun"] for s in samples[v]]),
                ", ".join(f"{s['rerun']:.1f}" for s in samples[v]),
            ]
            for v in VARIANTS
        ],
        notes=[
            f"wall time ratio role/plain, first run: {first_ratio:.2f}x "
            f"(target <= 0.5x: {verdict(first_ratio <= 0.5)})",
            f"wall time ratio role/plain, re-run: {rerun_ratio:.2f}x",
        ],
        data={
            "first_ratio": first_ratio,
            "rerun_ratio": rerun_ratio,
            "first": {v: [s["first"] for s in samples[v]] for v in VARIANTS},
            "rerun": {v: [s["rerun"] for s in samples[v]] for v in VARIANTS},
        },
    )

    methods = sorted({m for s in ours + plain for m in s["rerun_requests"]["by_method"]})
    last = {v: samples[v][-1]["rerun_requests"] for v in VARIANTS}
    ours_writes = last["role"]["by_method"].get("PUT", 0) + sum(
        n for call, n in last["role"]["by_call"].items() if call.startswith("POST") and "create" in call
    )
    requests_ok = ours_writes == 0 and last["role"]["total"] <= last["plain uri"]["total"]
    idem = Table(
        title="2. Idempotent re-run: IDM requests by method (sandbox access log, last round)",
        headers=["variant", "total", *methods, "changed tasks"],
        rows=[
            [v, last[v]["total"], *[last[v]["by_method"].get(m, 0) for m in methods], samples[v][-1]["rerun_changed"]]
            for v in VARIANTS
        ],
        notes=[
            f"role re-run PUT/POST-create requests: {ours_writes}; total role {last['role']['total']} vs plain "
            f"{last['plain uri']['total']} (target: no writes, no more requests: {verdict(requests_ok)})",
            "role re-run calls: " + ", ".join(f"{c} x{n}" for c, n in sorted(last["role"]["by_call"].items())),
        ],
        data={"requests": last},
    )
    return [flow, idem]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--groups", type=int, default=20)
    args = parser.parse_args()
    for table in run(args.rounds, args.users, args.groups):
        print(table.markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
