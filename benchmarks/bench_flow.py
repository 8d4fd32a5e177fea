"""Benchmarks 1 and 2: the whole sample flow, playbooks/scim_sync.yml in the controller process (the default),
the same playbook as module processes (IDMOPS_PINGIDM_EXECUTION=module), and the plain uri/template playbook
(benchmarks/plain_uri/), on the same sandbox data, a fresh sandbox per variant and round, rounds alternating the
order; then the idempotent re-run's requests counted from the sandbox IDM's access log.

Each run is split into what IDM itself spent reconciling (the runs' own durations, the same work for every
variant) and the rest, which is the Ansible side: the part the execution path changes.

Targets: in process <= 0.35x the plain playbook's wall time (first, second and third run); the re-run: no writes and
at most 20 requests to IDM.
"""

from __future__ import annotations

import argparse
import re
import resource
import sys
import tempfile
from pathlib import Path

from benchmarks.common import FLOW_PLAYBOOK, PLAIN_PLAYBOOK, Table, median, verdict
from sandbox import testing as proofkit

VARIANTS = {
    "in process": (FLOW_PLAYBOOK, {"IDMOPS_PINGIDM_EXECUTION": "controller"}),
    "module processes": (FLOW_PLAYBOOK, {"IDMOPS_PINGIDM_EXECUTION": "module"}),
    "plain uri": (PLAIN_PLAYBOOK, {}),
}
MAX_RERUN_REQUESTS = 20
# POSTs a re-run makes without writing config or data: start a recon, evaluate the decrypt script of the secret
# comparison, test the connector. The access log has no query string, so anything else POSTed (a create with
# ?_action=create, a recon cancel on recon/<id>) is told apart by its path and counts as a write.
NON_WRITING_POSTS = re.compile(r"/openidm/(recon|script|system(/[^/]+)?)")


def count_writes(by_call: dict) -> int:
    """The IDM requests among ``by_call`` (``"METHOD /path": n``) that write: PUT, PATCH, DELETE, other POSTs."""
    writes = 0
    for call, n in by_call.items():
        method, path = call.split(" ", 1)
        if method in ("PUT", "PATCH", "DELETE") or (method == "POST" and not NON_WRITING_POSTS.fullmatch(path)):
            writes += n
    return writes


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def recon_seconds(tenant: proofkit.Tenant, since_ids: set) -> float:
    """Seconds IDM spent in the recon runs that are not in ``since_ids`` (their own ``duration``)."""
    return sum((run.get("duration") or 0) / 1000.0 for run in tenant.recons() if run.get("_id") not in since_ids)


def _timed_run(sandbox, workdir, variant):
    """One run of the variant: wall and Ansible CPU seconds, IDM's recon seconds, changed tasks, and the IDM
    requests of the run alone (the benchmark's own reads are outside the counted part of the access log)."""
    playbook, env = VARIANTS[variant]
    tenant = sandbox.tenant(0)
    known = {run.get("_id") for run in tenant.recons()}
    log_mark = len(tenant.access_log_lines())
    cpu = children_cpu()
    run = proofkit.run_flow(sandbox, workdir, env=dict(env, PLAIN_URI_WORKDIR=str(workdir)), playbook=playbook)
    if run.rc != 0:
        raise RuntimeError(f"{variant}: the flow failed\n{run.describe()}")
    cpu = children_cpu() - cpu
    requests = proofkit.count_requests(tenant.access_log_lines()[log_mark:])
    return {
        "seconds": run.seconds,
        "cpu": cpu,
        "recon": recon_seconds(tenant, known),
        "requests": requests,
        "changed": sum(s.get("changed", 0) for s in run.results.get("stats", {}).values()),
    }


def _one(variant: str, workdir: Path, users: int, groups: int) -> dict:
    state = workdir / "sandbox"
    sandbox = proofkit.sandbox_up(state, tenants=1, users=users, groups=groups)
    try:
        first = _timed_run(sandbox, workdir, variant)
        rerun = _timed_run(sandbox, workdir, variant)
        steady = _timed_run(sandbox, workdir, variant)
        return {"first": first, "rerun": rerun, "steady": steady}
    finally:
        proofkit.sandbox_down(state)


def run(rounds: int = 3, users: int = 200, groups: int = 20) -> list[Table]:
    samples: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="bench-flow-") as tmp:
        for round_no in range(rounds):
            # Alternate the order, so warm-up effects do not favour one side.
            order = list(VARIANTS) if round_no % 2 == 0 else list(reversed(VARIANTS))
            for variant in order:
                workdir = Path(tmp) / f"round{round_no}-{variant.replace(' ', '-')}"
                workdir.mkdir()
                samples[variant].append(_one(variant, workdir, users, groups))

    def med(variant, which, key):
        return median([s[which][key] for s in samples[variant]])

    runs = {"first": "first run", "rerun": "re-run", "steady": "third run"}
    rows = []
    for variant in VARIANTS:
        for which in runs:
            seconds, recon = med(variant, which, "seconds"), med(variant, which, "recon")
            rows.append(
                [
                    variant,
                    runs[which],
                    seconds,
                    ", ".join(f"{s[which]['seconds']:.1f}" for s in samples[variant]),
                    recon,
                    seconds - recon,
                    med(variant, which, "cpu"),
                    seconds / med("plain uri", which, "seconds"),
                ]
            )
    ratios = {which: med("in process", which, "seconds") / med("plain uri", which, "seconds") for which in runs}
    outside = {
        which: (med("in process", which, "seconds") - med("in process", which, "recon"))
        / (med("plain uri", which, "seconds") - med("plain uri", which, "recon"))
        for which in runs
    }
    flow = Table(
        title=f"1. Whole sample flow, 1 tenant ({rounds} rounds each, {users} users, {groups} groups)",
        headers=[
            "variant",
            "run",
            "wall median s",
            "wall s",
            "IDM recon s",
            "wall minus recon s",
            "Ansible CPU s",
            "x plain wall",
        ],
        rows=rows,
        notes=[
            f"in process / plain uri, first run: {ratios['first']:.2f}x, re-run: {ratios['rerun']:.2f}x, third "
            f"run: {ratios['steady']:.2f}x (target <= 0.35x: {verdict(max(ratios.values()) <= 0.35)})",
            f"without IDM's own recon time (the same work for every variant): first run {outside['first']:.2f}x, "
            f"re-run {outside['rerun']:.2f}x, third run {outside['steady']:.2f}x",
            "the recon polls: the first one after at most 0.3 s (just after a short previous run of the mapping), "
            "then the planner estimates the end from the run's progress",
            "Ansible CPU = ansible-playbook and its workers (and module processes); the sandbox servers' CPU "
            "is not in it",
        ],
        data={
            "ratios": ratios,
            "outside_recon": outside,
            "samples": {
                v: [{k: {x: y for x, y in s[k].items() if x != "requests"} for k in s} for s in samples[v]]
                for v in VARIANTS
            },
        },
    )

    last = {v: samples[v][-1]["rerun"]["requests"] for v in VARIANTS}
    methods = sorted({m for v in VARIANTS for m in last[v]["by_method"]})
    ours = last["in process"]
    writes = count_writes(ours["by_call"])
    ok = writes == 0 and ours["total"] <= MAX_RERUN_REQUESTS
    idem = Table(
        title="2. Idempotent re-run: IDM requests by method (sandbox access log, last round)",
        headers=["variant", "total", *methods, "changed tasks"],
        rows=[
            [
                v,
                last[v]["total"],
                *[last[v]["by_method"].get(m, 0) for m in methods],
                samples[v][-1]["rerun"]["changed"],
            ]
            for v in VARIANTS
        ],
        notes=[
            f"in-process re-run: {writes} writes (PUT, PATCH, DELETE, or a POST other than a recon start, the "
            f"decrypt script and the connector test), {ours['total']} requests (target: no writes, <= "
            f"{MAX_RERUN_REQUESTS}: {verdict(ok)})",
            "in-process re-run calls: " + ", ".join(f"{c} x{n}" for c, n in sorted(ours["by_call"].items())),
            "the plain playbook makes fewer requests because it checks less: no readiness wait, no secret "
            "comparison, no check of running recons, blocking waitForCompletion recons",
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
