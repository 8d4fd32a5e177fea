"""``/openidm/system``: connector status, lifecycle, testConfig, availableConnectors and system object CRUD over a
real (in-process) SCIM provider."""

from __future__ import annotations

import time

import pytest

from sandbox.tests.idm.sync_helpers import (
    QUERY_RESULT_KEYS,
    SCIM_REF,
    connector_status,
    put_config,
    scim_provisioner,
)


@pytest.fixture
def idm(idm_server_factory):
    return idm_server_factory(connector_start_delay=0.4)


def wait_ok(idm, name="scim", timeout=5):
    deadline = time.monotonic() + timeout
    while True:
        status = idm.request("POST", f"system/{name}?_action=test").json()
        if status.get("ok") or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def test_async_start_then_exact_status_shape(idm, provider):
    stored = put_config(idm, "provisioner.openicf/scim", scim_provisioner(provider), wait=False)
    assert "$crypto" in stored["configurationProperties"]["clientSecret"]
    pending = idm.request("POST", "system?_action=test").json()
    assert pending == [connector_status("scim", started=False)]
    time.sleep(0.6)
    status = idm.request("POST", "system?_action=test").json()
    assert status == [connector_status("scim")]
    assert list(status[0]) == ["name", "enabled", "config", "connectorRef", "displayName", "objectTypes", "ok"]
    single = idm.request("POST", "system/scim?_action=test").json()
    assert single == status[0]


def test_wait_for_completion_starts_at_once(idm, provider):
    put_config(idm, "provisioner.openicf/scim", scim_provisioner(provider), wait=True)
    assert idm.request("POST", "system/scim?_action=test").json()["ok"] is True


def test_wrong_secret_wrong_endpoint_and_disabled(idm, provider):
    put_config(idm, "provisioner.openicf/badsecret", scim_provisioner(provider, clientSecret="nope"))
    put_config(
        idm,
        "provisioner.openicf/nowhere",
        scim_provisioner(
            provider, SCIMEndpoint="http://127.0.0.1:9/scim/v2", tokenEndpoint="http://127.0.0.1:9/oauth2/token"
        ),
    )
    put_config(
        idm, "provisioner.openicf/wrongpath", scim_provisioner(provider, SCIMEndpoint=provider.base + "/nope/v2")
    )
    disabled = scim_provisioner(provider)
    disabled["enabled"] = False
    put_config(idm, "provisioner.openicf/off", disabled)
    statuses = {s["name"]: s for s in idm.request("POST", "system?_action=test").json()}
    assert statuses["badsecret"]["ok"] is False and statuses["badsecret"]["error"] == "Connection Error"
    assert statuses["nowhere"]["error"].startswith("Connect to 127.0.0.1:9 failed")
    assert "404" in statuses["wrongpath"]["error"]
    assert statuses["off"] == connector_status("off", enabled=False, started=False)
    assert list(statuses["badsecret"])[-2:] == ["error", "ok"]
    response = idm.request("DELETE", "config/provisioner.openicf/off")
    assert response.status_code == 200
    assert "off" not in {s["name"] for s in idm.request("POST", "system?_action=test").json()}
    assert idm.request("POST", "system/off?_action=test").status_code == 404


def test_unknown_connector_config_is_refused_without_metadata(idm, provider):
    """A1: IDM cannot encrypt a connector config without the connector's metadata: 500 "retry later", nothing
    stored; the same for an update of an existing config and for a remote connector server it does not know."""
    config = scim_provisioner(provider)
    config["connectorRef"] = {"connectorName": "org.example.Nope", "bundleName": "x", "bundleVersion": "1.0"}
    refused = idm.request("PUT", "config/provisioner.openicf/other", json=config)
    assert refused.status_code == 500
    assert refused.json()["message"] == (
        "No meta-data provider available yet to create and encrypt configuration "
        "for provisioner.openicf/other, retry later."
    )
    assert idm.get("config/provisioner.openicf/other").status_code == 404
    put_config(idm, "provisioner.openicf/other", scim_provisioner(provider))
    config["connectorRef"] = dict(SCIM_REF, bundleVersion="[1.4.0.0,1.5.0.0)")
    assert idm.request("PUT", "config/provisioner.openicf/other", json=config).status_code == 500
    patch = [{"operation": "replace", "field": "/connectorRef/bundleVersion", "value": "[1.4.0.0,1.5.0.0)"}]
    patched = idm.request("PATCH", "config/provisioner.openicf/other", json=patch)
    assert patched.status_code == 500 and patched.json()["message"] == (
        "No meta-data provider available yet to patch and encrypt configuration for provisioner.openicf/other, "
        "retry later."
    )
    stored = idm.get("config/provisioner.openicf/other").json()
    assert stored["connectorRef"]["bundleVersion"] == SCIM_REF["bundleVersion"]
    remote = dict(SCIM_REF, connectorHostRef="rcs1")
    assert (
        idm.request("PUT", "config/provisioner.openicf/rcs", json=dict(config, connectorRef=remote)).status_code == 500
    )
    no_ref = {k: v for k, v in config.items() if k != "connectorRef"}
    missing = idm.request("PUT", "config/provisioner.openicf/noref", json=no_ref)
    assert missing.status_code == 400 and "/connectorRef: Expecting a value" in missing.json()["message"]
    # other configurations are not affected
    assert idm.request("PUT", "config/unrelated", json={"connectorRef": {"connectorName": "x"}}).status_code == 201


def test_connector_metadata_load_window(idm_server_factory, provider):
    """--connector-load-delay: while IDM loads its connectors, connector config writes get the same 500."""
    idm = idm_server_factory(connector_start_delay=0, connector_load_delay=1.0)
    refused = idm.request("PUT", "config/provisioner.openicf/scim", json=scim_provisioner(provider))
    assert refused.status_code == 500 and "retry later" in refused.json()["message"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        answer = idm.request("PUT", "config/provisioner.openicf/scim", json=scim_provisioner(provider))
        if answer.status_code != 500:
            break
        time.sleep(0.1)
    assert answer.status_code == 201


def test_unknown_connector_is_not_available_with_reason_lenient(idm_server_factory, provider):
    """connector_metadata=lenient (the old sandbox): the config is stored, the system reports why it is not
    available."""
    idm = idm_server_factory(connector_start_delay=0.4, readings={"connector_metadata": "lenient"})
    config = scim_provisioner(provider)
    config["connectorRef"] = {"connectorName": "org.example.Nope", "bundleName": "x", "bundleVersion": "1.0"}
    put_config(idm, "provisioner.openicf/other", config)
    status = idm.request("POST", "system/other?_action=test").json()
    assert status["ok"] is False and status["error"].startswith("connector not available: ")
    assert "org.example.Nope" in status["error"]
    config["connectorRef"] = dict(SCIM_REF, bundleVersion="[1.4.0.0,1.5.0.0)")
    put_config(idm, "provisioner.openicf/other", config)
    assert "1.4.0.0" in idm.request("POST", "system/other?_action=test").json()["error"]


def test_reconfigure_restarts_connector(idm, provider):
    put_config(idm, "provisioner.openicf/scim", scim_provisioner(provider, clientSecret="nope"))
    assert idm.request("POST", "system/scim?_action=test").json()["error"] == "Connection Error"
    put_config(idm, "provisioner.openicf/scim", scim_provisioner(provider), wait=False)
    assert wait_ok(idm)["ok"] is True


def test_concurrent_writes_of_two_connectors_start_both(idm, provider):
    """The write of another connector that lands while this one is being restarted (here: while its old connector
    closes) must not leave this one unstarted."""
    put_config(idm, "provisioner.openicf/scim", scim_provisioner(provider))
    registry = idm.server.system.connectors
    old = registry.connector("scim")
    close = old.close

    def close_while_another_connector_is_written():
        registry.on_config_change("provisioner.openicf/other", scim_provisioner(provider), False)
        close()

    old.close = close_while_another_connector_is_written
    put_config(idm, "provisioner.openicf/scim", scim_provisioner(provider), wait=False)
    assert wait_ok(idm, "scim")["ok"] is True
    assert wait_ok(idm, "other")["ok"] is True


def test_connectors_restart_with_the_server(idm, provider):
    put_config(idm, "provisioner.openicf/scim", scim_provisioner(provider))
    idm.restart()
    assert wait_ok(idm)["ok"] is True


def test_test_config(idm, provider):
    before = idm.get("config").json()
    body = dict(scim_provisioner(provider), name="probe")
    assert idm.request("POST", "system?_action=testConfig", json=body).json() == {"name": "probe", "ok": True}
    bad = dict(scim_provisioner(provider, clientSecret="nope"), name="probe")
    assert idm.request("POST", "system?_action=testConfig", json=bad).json() == {
        "name": "probe",
        "ok": False,
        "error": "Connection Error",
    }
    invalid = dict(scim_provisioner(provider, SCIMEndpoint=None), name="probe")
    result = idm.request("POST", "system?_action=testConfig", json=invalid).json()
    assert result["ok"] is False and "ConfigurationException" in result["error"]
    assert "SCIMEndpoint" in result["error"]

    def status_of(payload):
        response = idm.request("POST", "system?_action=testConfig", json=payload)
        return response.status_code, response.json().get("message")

    # CREST HTML-escapes error messages (ResourceException.toJsonValue)
    assert status_of(scim_provisioner(provider)) == (400, "Invalid configuration to test: no &#39;name&#39; specified")
    assert status_of(dict(body, id="x")) == (400, "A system ID must not be specified in the request")
    assert status_of(dict(body, connectorRef={}))[0] == 404
    assert status_of(dict(body, connectorRef={"connectorName": "org.example.Nope"}))[0] == 503
    assert idm.get("config").json() == before


def test_available_connectors_and_core_config(idm):
    available = idm.request("POST", "system?_action=availableConnectors").json()
    assert available == {
        "connectorRef": [
            {
                "connectorName": "org.forgerock.openicf.connectors.scim.ScimConnector",
                "displayName": "Scim Connector",
                "bundleName": "org.forgerock.openicf.connectors.scim-connector",
                "bundleVersion": "1.5.20.31",
                "systemType": "provisioner.openicf",
            }
        ]
    }
    core = idm.request(
        "POST", "system?_action=createCoreConfig", json={"connectorRef": available["connectorRef"][0]}
    ).json()
    assert core["connectorRef"]["bundleVersion"] == "1.5.20.31"
    assert "SCIMEndpoint" in core["configurationProperties"] and "objectTypes" not in core
    full = idm.request("POST", "system?_action=createFullConfig", json=core).json()
    assert set(full["objectTypes"]) == {"account", "group"}
    assert idm.request("POST", "system?_action=nonsense").status_code == 400


def test_system_object_crud_and_query(idm, provider):
    put_config(idm, "provisioner.openicf/scim", scim_provisioner(provider))
    response = idm.request(
        "POST",
        "system/scim/account?_action=create",
        json={"userName": "crud1", "name": {"givenName": "C"}, "department": "D1"},
    )
    assert response.status_code == 201
    created = response.json()
    assert response.headers["Location"].endswith(f"/openidm/system/scim/account/{created['_id']}")
    assert "_rev" not in created and created["department"] == "D1"
    uid = created["_id"]
    assert idm.get(f"system/scim/account/{uid}", params={"_fields": "userName"}).json() == {
        "_id": uid,
        "userName": "crud1",
    }
    updated = idm.request("PUT", f"system/scim/account/{uid}", json={"userName": "crud1", "title": "T"}).json()
    assert updated["title"] == "T" and updated["department"] == "D1"
    patched = idm.request(
        "PATCH", f"system/scim/account/{uid}", json=[{"operation": "replace", "field": "/title", "value": "T2"}]
    ).json()
    assert patched["title"] == "T2"
    assert (
        idm.request(
            "PUT", f"system/scim/account/{uid}", headers={**idm.admin_headers, "If-None-Match": "*"}, json={}
        ).status_code
        == 404
    )
    for i in range(2, 6):
        idm.request("POST", "system/scim/account?_action=create", json={"userName": f"crud{i}"})
    found = idm.get("system/scim/account", params={"_queryFilter": 'userName eq "crud3"'}).json()
    assert [o["userName"] for o in found["result"]] == ["crud3"]
    assert set(found) == QUERY_RESULT_KEYS
    names, cookie = [], None
    while True:
        params = {"_queryFilter": 'userName sw "crud"', "_pageSize": 2}
        if cookie:
            params["_pagedResultsCookie"] = cookie
        page = idm.get("system/scim/account", params=params).json()
        names += [o["userName"] for o in page["result"]]
        cookie = page["pagedResultsCookie"]
        if not cookie:
            break
    assert sorted(names) == [f"crud{i}" for i in range(1, 6)]
    local = idm.get(
        "system/scim/account",
        params={"_queryFilter": '!(userName eq "crud1") and userName sw "crud"', "_sortKeys": "-userName"},
    ).json()
    assert [o["userName"] for o in local["result"]] == ["crud5", "crud4", "crud3", "crud2"]
    ids = idm.get("system/scim/account", params={"_queryId": "query-all-ids"}).json()["result"]
    assert all(set(o) == {"_id"} for o in ids) and uid in {o["_id"] for o in ids}
    assert idm.get("system/scim/account", params={"_queryFilter": "bad filter ("}).status_code == 400
    deleted = idm.request("DELETE", f"system/scim/account/{uid}")
    assert deleted.status_code == 200 and deleted.json()["userName"] == "crud1"
    assert idm.get(f"system/scim/account/{uid}").status_code == 404
    assert idm.get("system/scim/nothing", params={"_queryFilter": "true"}).status_code == 404
    assert idm.get("system/scim").status_code == 501
    for obj in idm.get("system/scim/account", params={"_queryFilter": 'userName sw "crud"'}).json()["result"]:
        idm.request("DELETE", f"system/scim/account/{obj['_id']}")
