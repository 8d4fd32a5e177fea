"""Shared fixtures for sandbox IDM tests: an in-process IdmServer on a free port in a temp state dir.

``idm_server`` yields an ``IdmHandle``: ``.url`` (``http://127.0.0.1:P``), ``.base`` (``.url + "/openidm"``),
``.state_dir``, ``.server`` (the IdmServer: ``.router``, ``.config``, ``.managed``, ``.store``, ``.crypto``,
``.scripts``), ``.request(method, path, **kw)`` (path relative to ``/openidm``; admin headers unless
``auth=False`` or explicit ``headers``), ``.restart()`` (same state dir, new process-level server object).
``idm_server_factory(**IdmServer kwargs)`` builds more (e.g. ``startup_delay=2``, ``no_script_users=["u:p"]``).
Every server is stopped at teardown, even when the test fails.

For the sync tests: ``idm`` is an IDM for reconciliation tests (MINIMAL_MANAGED policy, no implicit sync; a test
module that needs another one defines its own ``idm``), ``provider`` a SCIM 2.0 provider on 127.0.0.1 shared by the
tests of a module (``.endpoint``, ``.token_endpoint``).
"""

from __future__ import annotations

import contextlib

import pytest
import requests

from sandbox.idm.server import IdmServer
from sandbox.tests.idm.scim_fixture import ScimTestProvider
from sandbox.tests.idm.sync_helpers import RECON_ONLY, minimal_policy

ADMIN_HEADERS = {
    "X-OpenIDM-Username": "openidm-admin",
    "X-OpenIDM-Password": "openidm-admin",
    "X-OpenIDM-NoSession": "true",
}


class IdmHandle:
    def __init__(self, state_dir, options):
        self.state_dir = str(state_dir)
        self.options = options
        self.server = IdmServer(self.state_dir, **options).start()
        self.session = requests.Session()

    @property
    def url(self):
        return self.server.url

    @property
    def base(self):
        return self.server.url + "/openidm"

    admin_headers = ADMIN_HEADERS

    def request(self, method, path, auth=True, headers=None, **kwargs):
        url = path if path.startswith("http") else (self.url + path if path.startswith("/") else f"{self.base}/{path}")
        merged = dict(ADMIN_HEADERS) if auth and headers is None else {}
        merged.update(headers or {})
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, url, headers=merged, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def restart(self):
        self.server.stop()
        self.server = IdmServer(self.state_dir, **self.options).start()
        return self

    def close(self):
        self.session.close()
        self.server.stop()


@pytest.fixture
def idm_server_factory(tmp_path):
    handles = []

    def make(state_dir=None, **options):
        handle = IdmHandle(state_dir or tmp_path / f"idm{len(handles)}", options)
        handles.append(handle)
        return handle

    yield make
    for handle in handles:
        with contextlib.suppress(Exception):  # a failed test may have left it half closed; stop the others anyway
            handle.close()


@pytest.fixture
def idm_server(idm_server_factory):
    return idm_server_factory()


@pytest.fixture
def idm(idm_server_factory):
    return minimal_policy(idm_server_factory(readings=RECON_ONLY))


@pytest.fixture(scope="module")
def provider():
    server = ScimTestProvider()
    yield server
    server.stop()


@pytest.fixture
def admin_headers():
    return dict(ADMIN_HEADERS)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "stock_policy: the test sees IDM's stock managed-object policy (no relaxed config/managed)"
    )
