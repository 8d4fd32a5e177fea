"""Authentication of the sandbox SCIM provider: OAUTH (client_credentials), TOKEN (static), BASIC."""

from __future__ import annotations

import time

import requests

from sandbox.tests.scim.scim_support import (
    BASIC_PASSWORD,
    BASIC_USER,
    CLIENT_ID,
    CLIENT_SECRET,
    SECRETS,
    STATIC_TOKEN,
    oauth_token,
)


def test_client_secret_basic_gives_a_working_bearer_token(provider):
    response = requests.post(
        f"{provider.url}/oauth2/token", data={"grant_type": "client_credentials"}, auth=(CLIENT_ID, CLIENT_SECRET)
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and len(body["access_token"]) >= 32
    assert response.headers["Cache-Control"] == "no-store"
    users = requests.get(f"{provider.url}/scim/v2/Users", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert users.status_code == 200


def test_client_secret_post_gives_a_working_bearer_token(provider):
    response = requests.post(
        f"{provider.url}/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "scope": "scim",
        },
    )
    assert response.status_code == 200
    assert response.json()["scope"] == "scim"
    token = response.json()["access_token"]
    assert requests.get(f"{provider.url}/scim/v2/Groups", headers={"Authorization": f"Bearer {token}"}).ok


def test_tokens_are_opaque_and_distinct(provider):
    assert oauth_token(provider.url) != oauth_token(provider.url)


def test_wrong_client_secret_is_invalid_client(provider):
    for kwargs in (
        {"data": {"grant_type": "client_credentials"}, "auth": (CLIENT_ID, "wrong")},
        {"data": {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "wrong"}},
        {"data": {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": CLIENT_SECRET}},
        {"data": {"grant_type": "client_credentials"}},
    ):
        response = requests.post(f"{provider.url}/oauth2/token", **kwargs)
        assert response.status_code == 401, kwargs
        assert response.json()["error"] == "invalid_client"


def test_unsupported_grant_and_bad_requests(provider):
    url = f"{provider.url}/oauth2/token"
    response = requests.post(
        url, data={"grant_type": "password", "username": "x", "password": "y"}, auth=(CLIENT_ID, CLIENT_SECRET)
    )
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"
    response = requests.post(url, data={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    response = requests.post(url, json={"grant_type": "client_credentials"}, auth=(CLIENT_ID, CLIENT_SECRET))
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    response = requests.post(
        url, data={"grant_type": "client_credentials", "client_secret": CLIENT_SECRET}, auth=(CLIENT_ID, CLIENT_SECRET)
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert requests.get(url).status_code == 405


def test_static_token_and_basic_are_accepted(provider):
    for headers, auth in (({"Authorization": f"Bearer {STATIC_TOKEN}"}, None), ({}, (BASIC_USER, BASIC_PASSWORD))):
        assert requests.get(f"{provider.url}/scim/v2/Users", headers=headers, auth=auth).status_code == 200
        assert requests.get(f"{provider.url}/scim/v1/Users", headers=headers, auth=auth).status_code == 200


def test_missing_or_wrong_credentials_are_refused_with_scim_error(provider):
    for headers, auth in (
        ({}, None),
        ({"Authorization": "Bearer not-a-token"}, None),
        ({}, (BASIC_USER, "wrong")),
        ({}, (CLIENT_ID, CLIENT_SECRET)),  # OAuth client credentials are not basic users
        ({"Authorization": f"Token {STATIC_TOKEN}"}, None),
    ):
        response = requests.get(f"{provider.url}/scim/v2/Users", headers=headers, auth=auth)
        assert response.status_code == 401
        assert response.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
        assert response.json()["status"] == "401"
        assert 'Bearer realm="SCIM"' in response.headers["WWW-Authenticate"]
        assert 'Basic realm="SCIM"' in response.headers["WWW-Authenticate"]
        v1 = requests.get(f"{provider.url}/scim/v1/Users", headers=headers, auth=auth)
        assert v1.status_code == 401 and v1.json()["Errors"][0]["code"] == "401"
        assert "WWW-Authenticate" in v1.headers


def test_service_provider_config_needs_no_auth_and_lists_schemes(provider):
    v2 = requests.get(f"{provider.url}/scim/v2/ServiceProviderConfig")
    assert v2.status_code == 200
    schemes = {(s["type"], s["name"]) for s in v2.json()["authenticationSchemes"]}
    assert schemes == {
        ("oauthbearertoken", "OAuth Bearer Token"),
        ("oauthbearertoken", "Static Bearer Token"),
        ("httpbasic", "HTTP Basic"),
    }
    v1 = requests.get(f"{provider.url}/scim/v1/ServiceProviderConfigs")
    assert v1.status_code == 200 and v1.json()["schemas"] == ["urn:scim:schemas:core:1.0"]
    assert len(v1.json()["authenticationSchemes"]) == 3
    # Other discovery endpoints still need auth.
    assert requests.get(f"{provider.url}/scim/v2/Schemas").status_code == 401


def test_expired_token_is_refused(serve_app):
    server = serve_app(clients={"c": "s"}, token_ttl=1)
    token = oauth_token(server.url, "c", "s")
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{server.url}/scim/v2/Users", headers=headers).status_code == 200
    time.sleep(1.2)
    response = requests.get(f"{server.url}/scim/v2/Users", headers=headers)
    assert response.status_code == 401 and "WWW-Authenticate" in response.headers


def test_only_configured_schemes_are_advertised_and_accepted(serve_app):
    server = serve_app(static_tokens=["only-token"])
    spc = requests.get(f"{server.url}/scim/v2/ServiceProviderConfig").json()
    assert [s["name"] for s in spc["authenticationSchemes"]] == ["Static Bearer Token"]
    token_attempt = requests.post(
        f"{server.url}/oauth2/token", data={"grant_type": "client_credentials"}, auth=("any", "thing")
    )
    assert token_attempt.status_code == 401
    refused = requests.get(f"{server.url}/scim/v2/Users", auth=("any", "thing"))
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == 'Bearer realm="SCIM"'


def test_secrets_never_reach_output_or_access_log(provider):
    requests.get(
        f"{provider.url}/scim/v2/Users?filter=userName%20eq%20%22secret-query%22",
        headers={"Authorization": f"Bearer {STATIC_TOKEN}"},
    )
    log = provider.extra["access_log"].read_text()
    for text in (log, provider.output()):
        for secret in SECRETS:
            assert secret not in text
    assert "secret-query" not in log
    assert " GET /scim/v2/Users 200 " in log
