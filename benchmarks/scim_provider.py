"""Throughput of the sandbox SCIM provider (``python -m sandbox.scim``), over real HTTP with keep-alive.

Run: ``.venv/bin/python -m benchmarks.scim_provider [--users 10000] [--create 1000]``

1. start a provider seeded with ``--users`` users (new state file: seed + first write), OAuth client from the env;
2. page through all users with count=1000 (cold: nothing serialized yet), then count=100 and count=1000 again
   (warm: the provider reuses serialized forms of unchanged resources);
3. create ``--create`` users, one POST each, on one keep-alive connection;
4. restart from the state file (load instead of seed) and page with count=100 cold.

Prints a markdown table (operation, count, seconds, req/s, CPU seconds the provider process used) and the peak
RSS (VmHWM) of each provider process. On a shared machine wall time depends on the other load; CPU time does not.
Every process is started on a free port on 127.0.0.1 and stopped by its PID.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
CLIENT = ("bench-client", "bench-secret")


class Provider:
    def __init__(self, state: Path, *args: str):
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "SCIM_CLIENTS": f"{CLIENT[0]}:{CLIENT[1]}"}
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sandbox.scim", "--port", "0", "--state", str(state), *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = self.process.stdout.readline().strip()
        if not line.startswith("ready "):
            self.stop()
            raise SystemExit(f"provider did not start: {line!r}")
        self.startup = time.perf_counter() - started
        self.url = line.split(" ", 1)[1]
        self.session = requests.Session()
        token = self.session.post(f"{self.url}/oauth2/token", data={"grant_type": "client_credentials"}, auth=CLIENT)
        token.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    def cpu_seconds(self) -> float:
        """User + system CPU time of the provider process so far (independent of other load on the machine)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.session.close() if hasattr(self, "session") else None


def page_all(provider: Provider, count: int, expected: int) -> tuple[int, float]:
    started = time.perf_counter()
    start_index, requests_made, seen = 1, 0, 0
    while True:
        response = provider.session.get(
            f"{provider.url}/scim/v2/Users", params={"startIndex": start_index, "count": count}
        )
        response.raise_for_status()
        page = response.json()
        requests_made += 1
        seen += page["itemsPerPage"]
        start_index += page["itemsPerPage"]
        if page["itemsPerPage"] == 0 or start_index > page["totalResults"]:
            break
    elapsed = time.perf_counter() - started
    if seen != expected:
        raise SystemExit(f"paged {seen} users, expected {expected}")
    return requests_made, elapsed


def create_users(provider: Provider, how_many: int) -> float:
    started = time.perf_counter()
    for index in range(how_many):
        response = provider.session.post(
            f"{provider.url}/scim/v2/Users",
            json={
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": f"bench.user{index}",
                "name": {"givenName": "Bench", "familyName": f"User{index}"},
                "emails": [{"value": f"bench.user{index}@example.com", "type": "work", "primary": True}],
                "active": True,
            },
        )
        if response.status_code != 201:
            raise SystemExit(f"create failed: {response.status_code} {response.text[:200]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--create", type=int, default=1_000)
    args = parser.parse_args()

    rows: list[tuple[str, int, float, float | None]] = []
    rss: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="scim-bench-") as tmp:
        state = Path(tmp) / "state.json"
        seeded = Provider(state, "--users", str(args.users), "--groups", str(args.groups), "--seed-salt", "bench")
        try:
            rows.append(
                (
                    f"start + seed {args.users} users / {args.groups} groups (ready line)",
                    1,
                    seeded.startup,
                    seeded.cpu_seconds(),
                )
            )
            for label, count in (("cold", 1000), ("warm", 100), ("warm", 1000)):
                cpu = seeded.cpu_seconds()
                made, elapsed = page_all(seeded, count, args.users)
                rows.append(
                    (f"page {args.users} users, count={count} ({label})", made, elapsed, seeded.cpu_seconds() - cpu)
                )
            cpu = seeded.cpu_seconds()
            elapsed = create_users(seeded, args.create)
            rows.append(
                (
                    f"create users (POST, keep-alive, {args.users} present)",
                    args.create,
                    elapsed,
                    seeded.cpu_seconds() - cpu,
                )
            )
            rss.append(("seeded process", seeded.peak_rss_mb()))
        finally:
            seeded.stop()
        state_size = state.stat().st_size

        restarted = Provider(state)
        try:
            total = args.users + args.create
            rows.append(
                (
                    f"restart: load {total} users from state ({state_size / 1e6:.1f} MB)",
                    1,
                    restarted.startup,
                    restarted.cpu_seconds(),
                )
            )
            cpu = restarted.cpu_seconds()
            made, elapsed = page_all(restarted, 100, total)
            rows.append((f"page {total} users, count=100 (cold)", made, elapsed, restarted.cpu_seconds() - cpu))
            rss.append(("restarted process", restarted.peak_rss_mb()))
        finally:
            restarted.stop()

    print("| operation | count | seconds | req/s | provider CPU s |")
    print("|---|---:|---:|---:|---:|")
    for operation, count, seconds, cpu in rows:
        print(f"| {operation} | {count} | {seconds:.2f} | {count / seconds:.1f} | {cpu:.2f} |")
    print()
    print(
        f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall times grow with it; "
        "provider CPU seconds do not)"
    )
    for label, megabytes in rss:
        print(f"peak RSS ({label}): {megabytes:.0f} MB")


if __name__ == "__main__":
    main()
