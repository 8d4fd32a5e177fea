"""Sandbox IDM managed objects: 10k creates and queries through the InternalRouter and over HTTP.

Run: ``.venv/bin/python -m benchmarks.idm_managed [--users 10000] [--http-users 2000]``. Prints a markdown table.
Each phase uses a fresh state dir so numbers do not depend on earlier runs.
"""

import argparse
import tempfile
import time

import requests

from sandbox.idm.server import IdmServer

HEADERS = {"X-OpenIDM-Username": "openidm-admin", "X-OpenIDM-Password": "openidm-admin", "X-OpenIDM-NoSession": "true"}


def user(n):
    return {
        "userName": f"user{n:06d}",
        "givenName": f"Given{n}",
        "sn": f"Sn{n}",
        "mail": f"user{n}@example.com",
        "accountStatus": "active",
    }


def timed(rows, label, count, fn):
    started = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - started
    rows.append((label, count, elapsed, count / elapsed if elapsed else float("inf")))


def bench_router(rows, n):
    with tempfile.TemporaryDirectory() as state:
        server = IdmServer(state)
        router = server.router

        def create_batched():
            with server.store.batch():
                for i in range(n):
                    router.create("managed/user", user(i))

        timed(rows, "router create (one store.batch)", n, create_batched)

        def create_single():
            for i in range(n, n + n // 5):
                router.create("managed/user", user(i))

        timed(rows, "router create (autocommit each)", n // 5, create_single)

        def query_eq():
            for i in range(0, n, 1):
                assert router.query("managed/user", f'userName eq "USER{i:06d}"')["resultCount"] == 1

        timed(rows, "router query userName eq (indexed)", n, query_eq)

        def query_all():
            assert router.query("managed/user", "true")["resultCount"] == n + n // 5

        timed(rows, "router query true (all users)", 1, query_all)

        def query_scan():
            for i in range(20):
                router.query("managed/user", f'mail co "user{i}9"')

        timed(rows, "router query mail co (full scan)", 20, query_scan)

        ids = [r["_id"] for r in router.query("managed/user", "true", fields=["_id"])["result"]][: n // 5]

        def update_each():
            with server.store.batch():
                for obj_id in ids:
                    router.patch("managed/user", obj_id, [{"operation": "replace", "field": "/sn", "value": "x"}])

        timed(rows, "router patch (one store.batch)", len(ids), update_each)
        server.stop()

        def restart():
            IdmServer(state).stop()

        timed(rows, "restart (load all from SQLite)", 1, restart)


def bench_http(rows, n):
    with tempfile.TemporaryDirectory() as state:
        server = IdmServer(state).start()
        base = server.url + "/openidm"
        session = requests.Session()
        session.headers.update(HEADERS)

        def create():
            for i in range(n):
                assert session.post(base + "/managed/user?_action=create", json=user(i)).status_code == 201

        timed(rows, "HTTP create (keep-alive)", n, create)

        def query():
            for i in range(n):
                response = session.get(base + "/managed/user", params={"_queryFilter": f'userName eq "user{i:06d}"'})
                assert response.json()["resultCount"] == 1

        timed(rows, "HTTP query userName eq", n, query)

        def page_all():
            cookie, total = None, 0
            while True:
                params = {"_queryFilter": "true", "_pageSize": 500}
                if cookie:
                    params["_pagedResultsCookie"] = cookie
                body = session.get(base + "/managed/user", params=params).json()
                total += body["resultCount"]
                cookie = body["pagedResultsCookie"]
                if not cookie:
                    break
            assert total == n

        timed(rows, "HTTP page through all (500/page)", 1, page_all)
        session.close()
        server.stop()


def bench_scripts(rows, n):
    with tempfile.TemporaryDirectory() as state:
        server = IdmServer(state)
        transform = {"type": "text/javascript", "source": "source.toLowerCase()"}

        def run():
            for i in range(n):
                server.scripts.evaluate(transform, {"source": f"User{i}"})

        timed(rows, "scripts.evaluate transform", n, run)
        server.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=10000)
    parser.add_argument("--http-users", type=int, default=2000)
    args = parser.parse_args()
    rows = []
    bench_router(rows, args.users)
    bench_http(rows, args.http_users)
    bench_scripts(rows, args.users)
    print(f"### Sandbox IDM managed objects ({args.users} users in-process, {args.http_users} over HTTP)\n")
    print("| operation | count | seconds | per second |")
    print("|---|---:|---:|---:|")
    for label, count, elapsed, rate in rows:
        print(f"| {label} | {count} | {elapsed:.3f} | {rate:.0f} |")


if __name__ == "__main__":
    main()
