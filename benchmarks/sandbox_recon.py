"""Reconciliation speed of the sandbox IDM: N SCIM users -> managed users (``systemScimAccount_managedUser``).

Starts the real processes (``python -m sandbox.scim`` seeded with N users, ``python -m sandbox.idm``) on free
127.0.0.1 ports, configures the SCIM connector (OAuth) and the sample's mappings rendered from
``conf_templates/sync.json.j2`` with the role's default attribute maps (as the role renders it: transform
scripts, a correlation script and the onCreate/onUpdate scripts per user; IDM's implicit synchronization pushes
each created user through the reverse mapping too), then times ``recon?_action=recon&waitForCompletion=true`` twice:
the first run (creates N users and links) and an unchanged re-run. Peak RSS is the IDM process's VmHWM.
The provider is warmed first (one full listing, timed separately): its first listing of a seeded store is slow
and is not the IDM's cost.

Targets (2-core machine): 10,000 users first run <= 10 s, unchanged re-run <= 6 s.

  python -m benchmarks.sandbox_recon [--sizes 1000,10000]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from benchmarks.common import verdict

REPO = Path(__file__).resolve().parent.parent
ADMIN = {"X-OpenIDM-Username": "openidm-admin", "X-OpenIDM-Password": "openidm-admin", "X-OpenIDM-NoSession": "true"}
CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-secret"  # throw-away credentials of a throw-away provider
MAPPING = "systemScimAccount_managedUser"


def _start(args, env=None):
    process = subprocess.Popen(
        [sys.executable, *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    line = process.stdout.readline()
    if not line.startswith("ready "):
        process.kill()
        raise RuntimeError(f"{args[1]} did not start: {line!r}")
    return process, line.split()[1]


def _stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _peak_rss_mb(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _warm_provider(scim_url, users):
    """List every user once: the provider serialises each resource on its first listing (slow, and not what
    this benchmark measures). Returns the seconds it took."""
    started = time.perf_counter()
    token = requests.post(
        f"{scim_url}/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=60,
    ).json()["access_token"]
    start = 1
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        while start <= users:
            page = session.get(
                f"{scim_url}/scim/v2/Users", params={"startIndex": start, "count": 1000}, timeout=600
            ).json()
            if not page.get("Resources"):
                break
            start += len(page["Resources"])
    return time.perf_counter() - started


def sample_mappings():
    """The four sample mappings as the role renders them: the collection's template with the role's defaults."""
    import yaml  # pylint: disable=import-outside-toplevel

    from ansible.parsing.dataloader import DataLoader  # pylint: disable=import-outside-toplevel
    from ansible.template import Templar, trust_as_template  # pylint: disable=import-outside-toplevel

    templates = REPO / "conf_templates"
    defaults = yaml.safe_load((REPO / "roles" / "scim_sync" / "defaults" / "main.yml").read_text(encoding="utf-8"))
    variables = {name: value for name, value in defaults.items() if name.startswith("scim_sync_")}
    templar = Templar(loader=DataLoader(), variables=variables).copy_with_new_env(searchpath=[str(templates)])
    text = (templates / "sync.json.j2").read_text(encoding="utf-8")
    return json.loads(templar.template(trust_as_template(text)))["mappings"], "conf_templates/sync.json.j2"


def measure(users, mappings, workdir):
    env = dict(os.environ, SCIM_CLIENTS=f"{CLIENT_ID}:{CLIENT_SECRET}")
    scim, scim_url = _start(
        [
            "-m",
            "sandbox.scim",
            "--port",
            "0",
            "--state",
            str(workdir / f"scim{users}.json"),
            "--users",
            str(users),
            "--groups",
            "0",
        ],
        env,
    )
    idm = None
    try:
        idm, idm_url = _start(
            [
                "-m",
                "sandbox.idm",
                "--port",
                "0",
                "--state-dir",
                str(workdir / f"idm{users}"),
                "--connector-start-delay",
                "0",
            ]
        )
        base = idm_url + "/openidm"
        session = requests.Session()
        session.headers.update(ADMIN)
        provisioner = {
            "connectorRef": {
                "connectorName": "org.forgerock.openicf.connectors.scim.ScimConnector",
                "bundleName": "org.forgerock.openicf.connectors.scim-connector",
                "bundleVersion": "[1.5.0.0,1.6.0.0)",
            },
            "enabled": True,
            "configurationProperties": {
                "SCIMEndpoint": scim_url + "/scim/v2",
                "SCIMVersion": 2,
                "authenticationMethod": "OAUTH",
                "grantType": "client_credentials",
                "tokenEndpoint": scim_url + "/oauth2/token",
                "clientId": CLIENT_ID,
                "clientSecret": CLIENT_SECRET,
                "maximumConnections": 10,
            },
        }
        warmup = _warm_provider(scim_url, users)
        from sandbox.idm.provisioner.schema import default_object_types  # pylint: disable=import-outside-toplevel

        provisioner["objectTypes"] = default_object_types()
        session.put(
            f"{base}/config/provisioner.openicf/scim?waitForCompletion=true", json=provisioner
        ).raise_for_status()
        session.put(f"{base}/config/sync?waitForCompletion=true", json={"mappings": mappings}).raise_for_status()
        results = []
        for expected in ("created", "unchanged"):
            started = time.perf_counter()
            response = session.post(f"{base}/recon?_action=recon&mapping={MAPPING}&waitForCompletion=true", timeout=600)
            seconds = time.perf_counter() - started
            response.raise_for_status()
            summary = session.get(f"{base}/recon/{response.json()['_id']}").json()
            count = summary["progress"]["target"][expected]
            if summary["state"] != "SUCCESS" or count != users:
                raise RuntimeError(
                    f"unexpected summary: state {summary['state']}, {expected}={count}, "
                    f"status {summary['statusSummary']}"
                )
            results.append(seconds)
            if os.environ.get("BENCH_VERBOSE"):
                phases = {k: v["sum"] for k, v in summary["durationSummary"].items()}
                print(f"{users} {expected}: {seconds:.2f}s server {summary['duration']} ms {phases}", file=sys.stderr)
        return results[0], results[1], _peak_rss_mb(idm.pid), warmup
    finally:
        if idm:
            _stop(idm)
        _stop(scim)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    args = parser.parse_args(argv)
    mappings, origin = sample_mappings()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-recon-") as tmp:
        for users in [int(s) for s in args.sizes.split(",") if s]:
            first, rerun, rss, warmup = measure(users, mappings, Path(tmp))
            rows.append((users, first, rerun, rss, warmup))
    print(f"### Sandbox IDM reconciliation ({MAPPING}, mappings from {origin}, {os.cpu_count()} CPUs)\n")
    print(
        "| SCIM users | first run (s) | unchanged re-run (s) | first run users/s | IDM peak RSS (MB) "
        "| provider warm-up, not counted (s) |"
    )
    print("|---|---|---|---|---|---|")
    for users, first, rerun, rss, warmup in rows:
        print(f"| {users} | {first:.2f} | {rerun:.2f} | {users / first:.0f} | {rss:.0f} | {warmup:.1f} |")
    judged = [(first, rerun) for users, first, rerun, _rss, _warmup in rows if users == 10000]
    if judged:
        first, rerun = judged[0]
        verdicts = f"first run {first:.1f} s: {verdict(first <= 10)}; re-run {rerun:.1f} s: {verdict(rerun <= 6)}"
    else:
        verdicts = "not judged: no run of 10,000 users"
    print(f"\nTargets: 10,000 users first run <= 10 s, unchanged re-run <= 6 s ({verdicts}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
