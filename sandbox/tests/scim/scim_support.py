"""Helpers shared by the SCIM provider tests (the fixtures live in conftest.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import requests
from cheroot import wsgi

REPO_ROOT = Path(__file__).resolve().parents[3]
CLIENT_ID, CLIENT_SECRET = "idm-client", "idm-secret-value"
STATIC_TOKEN = "static-token-value"
BASIC_USER, BASIC_PASSWORD = "scim-admin", "basic-password-value"
SECRETS = (CLIENT_SECRET, STATIC_TOKEN, BASIC_PASSWORD)
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass
class ProviderProcess:
    process: subprocess.Popen
    url: str
    state: Path
    stderr_path: Path
    extra: dict = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        if self.process.stdout:
            self.process.stdout.close()
        return self.process.returncode

    def output(self) -> str:
        return self.stderr_path.read_text() if self.stderr_path.exists() else ""


def provider_command(state: Path, *args: str) -> list[str]:
    """The command that starts the provider on a free port with the state file ``state``."""
    return [sys.executable, "-m", "sandbox.scim", "--port", "0", "--state", str(state), *args]


def refused_start(tmp_dir: Path, *args: str) -> subprocess.CompletedProcess:
    """The provider started with ``args`` it must refuse, in an environment of its own (no ``SCIM_SANDBOX_*``
    variables): the finished process."""
    return subprocess.run(
        provider_command(tmp_dir / "s.json", *args),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
    )


def launch(tmp_dir: Path, *args: str, env: dict | None = None, state: Path | None = None) -> ProviderProcess:
    state = state or tmp_dir / "scim-state.json"
    stderr_path = tmp_dir / f"scim-stderr-{len(list(tmp_dir.glob('scim-stderr-*')))}.log"
    full_env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
    with open(stderr_path, "w") as stderr:
        process = subprocess.Popen(
            provider_command(state, *args),
            cwd=REPO_ROOT,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    ready: list[str] = []
    reader = threading.Thread(target=lambda: ready.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(30)
    line = ready[0].strip() if ready else ""
    if not line.startswith("ready "):
        if process.poll() is None:
            process.kill()
            process.wait(5)
        raise RuntimeError(f"provider did not start: {line!r}; stderr: {stderr_path.read_text()}")
    return ProviderProcess(process, line.split(" ", 1)[1], state, stderr_path)


def oauth_token(base_url: str, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET) -> str:
    response = requests.post(
        f"{base_url}/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, client_secret),
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["access_token"]


class ThreadedServer:
    def __init__(self, app):
        self.app = app
        self.server = wsgi.Server(("127.0.0.1", 0), app, numthreads=8)
        self.server.expiration_interval = 0.05  # stop() waits up to one interval
        self.server.prepare()
        self.url = f"http://127.0.0.1:{self.server.bind_addr[1]}"
        self.thread = threading.Thread(target=self.server.serve, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.stop()
        self.app.close()


def new_user(session, user_name: str, **extra) -> dict:
    response = session.post(
        f"{session.base}/scim/v2/Users", json={"schemas": [USER_SCHEMA], "userName": user_name, **extra}, timeout=10
    )
    assert response.status_code == 201, response.text
    return response.json()


def new_group(session, display_name: str, members: list[dict], expect: int = 201) -> dict:
    response = session.post(
        f"{session.base}/scim/v2/Groups",
        json={"schemas": [GROUP_SCHEMA], "displayName": display_name, "members": members},
        timeout=10,
    )
    assert response.status_code == expect, response.text
    return response.json()
