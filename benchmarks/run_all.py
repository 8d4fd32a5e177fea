"""`make bench`: every benchmark, each printed as a markdown table, collected in benchmarks/results/latest.md
(+ latest.json) and drawn in benchmarks/results/latest.png when matplotlib is installed (pinned 3.11.2 in
the dev venv; without it the chart is skipped with a note).

Our benchmarks (bench_*.py) run the real CLI sandbox and ansible-playbook; the colleagues' in-process ones
(scim_provider.py, sandbox_recon.py, idm_managed.py) run as subprocesses when they exist, and their output is
included as they print it. A benchmark that fails is reported as failed and makes the exit status 1; the
others still run.

  python -m benchmarks.run_all [--quick] [--only flow,wait,throughput,tenants,colleagues]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import bench_flow, bench_recon_throughput, bench_recon_wait, bench_tenants
from benchmarks.common import BENCH_DIR, REPO, Table

COLLEAGUE_BENCHMARKS = ("scim_provider.py", "sandbox_recon.py", "idm_managed.py")
RESULTS = BENCH_DIR / "results"


def _ours(quick: bool) -> dict:
    if quick:
        return {
            "flow": lambda: bench_flow.run(rounds=1, users=50, groups=5),
            "wait": lambda: bench_recon_wait.run(short_users=10, long_users=1000, repeats=2),
            "throughput": lambda: bench_recon_throughput.run((1000,)),
            "tenants": lambda: bench_tenants.run((1, 5), users=20, groups=2),
        }
    return {
        "flow": lambda: bench_flow.run(rounds=3, users=200, groups=20),
        "wait": lambda: bench_recon_wait.run(short_users=20, long_users=3000, repeats=5),
        "throughput": lambda: bench_recon_throughput.run((1000, 10000)),
        "tenants": lambda: bench_tenants.run((1, 5, 20, 50), users=50, groups=5, module_max=20),
    }


def _colleagues() -> list[Table]:
    tables = []
    for name in COLLEAGUE_BENCHMARKS:
        path = BENCH_DIR / name
        if not path.exists():
            tables.append(Table(f"{name}", ["status"], [["not present in this checkout"]]))
            continue
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", f"benchmarks.{path.stem}"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        seconds = time.monotonic() - started
        table = Table(f"{name} (colleague benchmark, {seconds:.0f} s, exit {done.returncode})", [], [])
        table.notes = []
        table.data = {"stdout": done.stdout, "stderr_tail": done.stderr[-2000:], "rc": done.returncode}
        tables.append(table)
    return tables


def _render(table: Table) -> str:
    if table.headers:
        return table.markdown()
    out = table.data.get("stdout", "").rstrip()
    if table.data.get("rc"):
        out += "\n\n```\n" + table.data.get("stderr_tail", "") + "\n```"
    return f"### {table.title}\n\n{out}\n"


def _chart(tables: list[Table], path: Path) -> str:
    try:
        import matplotlib  # pylint: disable=import-outside-toplevel

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
    except ImportError:
        return "chart skipped: matplotlib is not installed (pip install matplotlib==3.11.2)"
    by_title = {t.title.split(".")[0]: t for t in tables if t.data}
    panels = [key for key in ("1", "2", "3", "5") if key in by_title]
    if not panels:
        return "chart skipped: no benchmark data"
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6))
    axes = axes if len(panels) > 1 else [axes]
    for ax, key in zip(axes, panels, strict=True):
        data = by_title[key].data
        if key == "1":
            samples = data["samples"]
            names = list(samples)
            medians = [sorted(s["first"]["seconds"] for s in samples[n])[len(samples[n]) // 2] for n in names]
            ax.bar(names, medians, color=["#2a7", "#27a", "#c63"][: len(names)])
            ax.set_title(f"flow first run (in process/plain {data['ratios']['first']:.2f}x)")
            ax.set_ylabel("seconds")
            ax.tick_params(axis="x", labelsize=7)
        elif key == "2":
            names = list(data["requests"])
            ax.bar(names, [data["requests"][n]["total"] for n in names], color=["#2a7", "#27a", "#c63"][: len(names)])
            ax.set_title("re-run: IDM requests")
            ax.tick_params(axis="x", labelsize=7)
        elif key == "3":
            labels = [r["label"] for r in data["results"]]
            ax.bar(labels, [max(r["overheads"]) for r in data["results"]], color="#27a")
            ax.axhline(0.5, color="red", linestyle="--", label="target 0.5 s")
            ax.set_title("recon wait overhead (max)")
            ax.set_ylabel("seconds")
            ax.legend()
        elif key == "5":
            for name, by_count in data.items():
                counts = sorted(by_count, key=int)
                ax.plot([int(c) for c in counts], [by_count[c]["seconds"] for c in counts], marker="o", label=name)
            ax.set_title("tenants (forks = tenants): wall s")
            ax.set_xlabel("tenants")
            ax.set_ylabel("seconds")
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"chart: {path.relative_to(REPO)} (matplotlib {matplotlib.__version__})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, one round (a smoke run)")
    parser.add_argument("--only", default="", help="comma list of: flow,wait,throughput,tenants,colleagues")
    args = parser.parse_args()
    wanted = set(filter(None, args.only.split(","))) or {"flow", "wait", "throughput", "tenants", "colleagues"}

    tables: list[Table] = []
    failures = []
    for name, bench in _ours(args.quick).items():
        if name not in wanted:
            continue
        started = time.monotonic()
        try:
            produced = bench()
        except Exception as exc:  # pylint: disable=broad-except
            failures.append(name)
            produced = [
                Table(
                    f"{name}: FAILED",
                    ["error"],
                    [[str(exc).splitlines()[0] if str(exc) else repr(exc)]],
                    notes=["```\n" + traceback.format_exc()[-3000:] + "\n```"],
                )
            ]
        for table in produced:
            print(_render(table), flush=True)
        print(f"({name}: {time.monotonic() - started:.0f} s)\n", flush=True)
        tables.extend(produced)
    if "colleagues" in wanted:
        for table in _colleagues():
            print(_render(table), flush=True)
            tables.append(table)

    RESULTS.mkdir(exist_ok=True)
    header = (
        f"# Benchmarks ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
        f"Python {platform.python_version()}{', quick' if args.quick else ''})\n\n"
    )
    chart_note = _chart(tables, RESULTS / "latest.png")
    print(chart_note)
    (RESULTS / "latest.md").write_text(header + "\n".join(_render(t) for t in tables) + f"\n{chart_note}\n")
    (RESULTS / "latest.json").write_text(
        json.dumps(
            [
                {"title": t.title, "headers": t.headers, "rows": t.rows, "notes": t.notes, "data": t.data}
                for t in tables
            ],
            indent=1,
            default=str,
        )
    )
    if failures:
        print(f"failed benchmarks: {', '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
