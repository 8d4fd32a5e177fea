"""Fixtures for the sandbox SCIM provider tests.

* ``start_provider(*args, env=...)`` starts ``python -m sandbox.scim`` as a subprocess on a free port (port 0, the
  real port is read from the ``ready`` line) and stops it by PID at teardown, even when the test failed.
* ``provider``: one shared subprocess (session scope) with an OAuth client, a static token and a basic user.
* ``serve_app(**build_app_kwargs)``: the WSGI app served by cheroot in a thread, for tests that need no process.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from sandbox.tests.scim.scim_support import (
    BASIC_PASSWORD,
    BASIC_USER,
    CLIENT_ID,
    CLIENT_SECRET,
    STATIC_TOKEN,
    ProviderProcess,
    ThreadedServer,
    launch,
    oauth_token,
)


@pytest.fixture
def start_provider(tmp_path):
    started: list[ProviderProcess] = []

    def start(*args: str, env: dict | None = None, state: Path | None = None) -> ProviderProcess:
        provider = launch(tmp_path, *args, env=env, state=state)
        started.append(provider)
        return provider

    yield start
    for provider in started:
        provider.stop()


@pytest.fixture(scope="session")
def provider(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scim-shared")
    proc = launch(
        tmp,
        "--access-log",
        str(tmp / "access.log"),
        env={
            "SCIM_CLIENTS": f"{CLIENT_ID}:{CLIENT_SECRET}",
            "SCIM_STATIC_TOKENS": STATIC_TOKEN,
            "SCIM_BASIC": f"{BASIC_USER}:{BASIC_PASSWORD}",
        },
    )
    proc.extra["access_log"] = tmp / "access.log"
    yield proc
    proc.stop()


@pytest.fixture
def scim(provider):
    """A keep-alive session against the shared provider, authenticated with a fresh OAuth token."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {oauth_token(provider.url)}"
    session.base = provider.url  # type: ignore[attr-defined]
    yield session
    session.close()


@pytest.fixture
def serve_app():
    from sandbox.scim.app import build_app

    servers: list[ThreadedServer] = []

    def serve(**kwargs) -> ThreadedServer:
        server = ThreadedServer(build_app(**kwargs))
        servers.append(server)
        return server

    yield serve
    for server in servers:
        server.stop()
