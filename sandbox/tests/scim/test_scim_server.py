"""The command line and HTTP serving: port 0, keep-alive, Content-Length, TLS, access log, routing."""

from __future__ import annotations

import datetime
import re
import subprocess

import pytest
import requests

from sandbox.tests.scim.scim_support import refused_start


def test_keep_alive_and_content_length(provider):
    session = requests.Session()
    ports = set()
    for _ in range(5):
        response = session.get(f"{provider.url}/scim/v2/ServiceProviderConfig", stream=True)
        ports.add(response.raw._connection.sock.getsockname()[1])
        assert int(response.headers["Content-Length"]) == len(response.content)
        assert "chunked" not in response.headers.get("Transfer-Encoding", "")
    assert len(ports) == 1  # one TCP connection served all requests


def test_access_log_lines(provider):
    requests.get(f"{provider.url}/scim/v2/Users", params={"filter": 'userName eq "logged"'})
    requests.get(f"{provider.url}/nowhere")
    lines = provider.extra["access_log"].read_text().splitlines()
    pattern = re.compile(r"^(\S+) (GET|POST|PUT|PATCH|DELETE) (/\S*) (\d{3}) (\d+\.\d)$")
    parsed = [pattern.match(line) for line in lines]
    assert all(parsed), lines
    assert any(m.group(3) == "/scim/v2/Users" and m.group(4) == "401" for m in parsed)
    assert any(m.group(3) == "/nowhere" and m.group(4) == "404" for m in parsed)
    datetime.datetime.fromisoformat(parsed[-1].group(1))


def test_unknown_paths_are_404(provider):
    assert requests.get(f"{provider.url}/").status_code == 404
    assert requests.get(f"{provider.url}/scim/v3/Users").status_code == 404


def test_bad_arguments_fail_fast(tmp_path):
    result = refused_start(tmp_path, "--client", "nosecret")
    assert result.returncode == 2 and "NAME:SECRET" in result.stderr


@pytest.fixture
def certificate(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def test_tls(start_provider, certificate):
    cert, key = certificate
    proc = start_provider("--tls-cert", str(cert), "--tls-key", str(key), env={"SCIM_BASIC": "u:p"})
    assert proc.url.startswith("https://127.0.0.1:")
    response = requests.get(f"{proc.url}/scim/v2/Users", auth=("u", "p"), verify=str(cert))
    assert response.status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{proc.url}/scim/v2/Users", auth=("u", "p"))
