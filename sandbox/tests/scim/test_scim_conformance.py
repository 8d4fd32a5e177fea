"""scim2-tester 0.5.2 (the python-scim compliance checker) against the provider, in OAuth mode."""

from __future__ import annotations

import collections

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import check_server

from sandbox.tests.scim.scim_support import oauth_token

# scim2-tester 0.5.2 runs this many checks against a server with Users, Groups, the enterprise extension, bulk,
# filter, sort, patch and etag; the number changes only with the pinned tester version.
EXPECTED_CHECKS = 135


def test_scim2_tester_passes_every_check(provider):
    token = oauth_token(provider.url)
    with httpx2.Client(base_url=f"{provider.url}/scim/v2/", headers={"Authorization": f"Bearer {token}"}) as http:
        client = SyncSCIMClient(http)
        client.discover()
        results = check_server(client)
    statuses = collections.Counter(result.status.name for result in results)
    failures = [(r.status.name, r.title, r.reason) for r in results if r.status.name != "SUCCESS"]
    assert failures == []
    assert statuses["SUCCESS"] == EXPECTED_CHECKS
    assert statuses.get("ERROR", 0) == 0
