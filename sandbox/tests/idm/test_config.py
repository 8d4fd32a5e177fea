"""Config REST + InternalRouter provider, $crypto, listeners and persistence."""

from __future__ import annotations

import sqlite3

import pytest

from sandbox.idm.crypto import Crypto, is_encrypted
from sandbox.idm.errors import IdmError
from sandbox.tests.idm.sync_helpers import SCIM_REF

SCIM_CONFIG = {
    "connectorRef": dict(SCIM_REF),
    "enabled": False,
    "configurationProperties": {
        "SCIMEndpoint": "http://127.0.0.1:1/scim/v2",
        "clientId": "cid",
        "clientSecret": "the-client-secret",
        "authToken": None,
        "password": "pw-1",
    },
}


def test_put_creates_201_then_updates_200_with_id_first(idm_server):
    created = idm_server.request("PUT", "config/custom", json={"_id": "ignored", "_rev": "9", "a": 1})
    assert created.status_code == 201
    assert created.headers["Location"].endswith("/openidm/config/custom")
    assert list(created.json()) == ["_id", "a"] and created.json()["_id"] == "custom"
    updated = idm_server.request("PUT", "config/custom", json={"a": 2})
    assert updated.status_code == 200 and updated.json() == {"_id": "custom", "a": 2}
    assert idm_server.get("config/custom").json() == {"_id": "custom", "a": 2}


def test_factory_config_location_quirk_and_listing(idm_server):
    created = idm_server.request("PUT", "config/mapping/m1", json={"name": "m1"})
    assert created.status_code == 201
    assert created.headers["Location"].endswith("/openidm/config/mapping/mapping/m1")
    listing = idm_server.get("config").json()
    assert listing["_id"] == ""
    entry = next(c for c in listing["configurations"] if c["_id"] == "mapping/m1")
    assert entry["factoryPid"] == "mapping" and entry["pid"].startswith("mapping.")


def test_ids_with_three_segments_are_400_and_missing_404(idm_server):
    assert idm_server.request("PUT", "config/a/b/c", json={}).status_code == 400
    missing = idm_server.get("config/nothing")
    assert missing.status_code == 404
    assert missing.json() == {"code": 404, "reason": "Not Found", "message": "Not Found"}
    assert idm_server.request("DELETE", "config/nothing").status_code == 404


def test_delete_returns_last_content_and_patch(idm_server):
    idm_server.request("PUT", "config/sync", json={"mappings": [{"name": "a"}]})
    patched = idm_server.request(
        "PATCH", "config/sync", json=[{"operation": "add", "field": "/mappings/-", "value": {"name": "b"}}]
    )
    assert patched.status_code == 200
    assert [m["name"] for m in patched.json()["mappings"]] == ["a", "b"]
    deleted = idm_server.request("DELETE", "config/sync")
    assert deleted.status_code == 200 and len(deleted.json()["mappings"]) == 2
    assert idm_server.get("config/sync").status_code == 404


def test_query_filter_returns_full_objects(idm_server):
    idm_server.request("PUT", "config/mapping/x1", json={"name": "x1", "source": "s"})
    idm_server.request("PUT", "config/other", json={"v": 1})
    result = idm_server.get('config?_queryFilter=_id sw "mapping"').json()
    assert result["resultCount"] == 1
    assert result["result"][0] == {"_id": "mapping/x1", "name": "x1", "source": "s"}
    assert idm_server.get("config?_queryFilter=bogus(").status_code == 400


def test_connector_secrets_are_crypto_with_fresh_iv_and_decrypt(idm_server):
    first = idm_server.request("PUT", "config/provisioner.openicf/scim", json=SCIM_CONFIG).json()
    props = first["configurationProperties"]
    assert is_encrypted(props["clientSecret"]) and is_encrypted(props["password"])
    assert props["authToken"] is None and props["clientId"] == "cid"
    spec = props["clientSecret"]["$crypto"]
    assert spec["type"] == "x-simple-encryption"
    assert set(spec["value"]) == {"cipher", "data", "iv", "keySize", "mac", "purpose", "salt", "stableId"}
    assert idm_server.server.crypto.decrypt(props["clientSecret"]) == "the-client-secret"
    second = idm_server.request("PUT", "config/provisioner.openicf/scim", json=SCIM_CONFIG).json()
    second_spec = second["configurationProperties"]["clientSecret"]["$crypto"]["value"]
    assert second_spec["iv"] != spec["value"]["iv"] and second_spec["salt"] != spec["value"]["salt"]
    # Already-encrypted values are kept as sent.
    kept = idm_server.request("PUT", "config/provisioner.openicf/scim", json=first).json()
    assert kept["configurationProperties"]["clientSecret"] == props["clientSecret"]
    # Round trip through script eval, as the modules do against real IDM.
    clear = idm_server.request(
        "POST",
        "script?_action=eval",
        json={"type": "text/javascript", "source": "openidm.decrypt(val);", "globals": {"val": props["clientSecret"]}},
    )
    assert clear.json() == "the-client-secret"
    # Never in clear in the database.
    idm_server.server.store.execute("PRAGMA wal_checkpoint(FULL)")
    with open(f"{idm_server.state_dir}/idm.sqlite3", "rb") as handle:
        assert b"the-client-secret" not in handle.read()


def test_non_connector_configs_are_not_encrypted(idm_server):
    body = idm_server.request("PUT", "config/custom", json={"configurationProperties": {"password": "x"}}).json()
    assert body["configurationProperties"]["password"] == "x"


def test_crypto_tamper_and_other_key_fail(tmp_path):
    crypto = Crypto(tmp_path / "k1.json")
    value = crypto.encrypt({"nested": ["x"]})
    assert crypto.decrypt(value) == {"nested": ["x"]}
    assert Crypto(tmp_path / "k1.json").decrypt(value) == {"nested": ["x"]}  # key persisted
    with pytest.raises(IdmError) as err:
        Crypto(tmp_path / "k2.json").decrypt(value)
    assert err.value.code == 500
    assert crypto.decrypt("plain") == "plain"


def test_listeners_get_changes_and_wait_flag(idm_server):
    seen = []
    idm_server.server.config.subscribe("provisioner.openicf", lambda *args: seen.append(args))
    idm_server.request("PUT", "config/unrelated", json={})
    idm_server.request(
        "PUT",
        "config/provisioner.openicf/a?waitForCompletion=true",
        json={"connectorRef": dict(SCIM_REF), "configurationProperties": {"password": "p"}},
    )
    idm_server.request("DELETE", "config/provisioner.openicf/a")
    assert [(cid, value is None, wait) for cid, value, wait in seen] == [
        ("provisioner.openicf/a", False, True),
        ("provisioner.openicf/a", True, False),
    ]
    assert is_encrypted(seen[0][1]["configurationProperties"]["password"])


def test_listener_error_surfaces_only_with_wait(idm_server):
    def failing(config_id, value, wait):
        raise IdmError(503, "connector failed to start")

    idm_server.server.config.subscribe("thing", failing)
    assert idm_server.request("PUT", "config/thing", json={}).status_code == 201
    assert idm_server.request("PUT", "config/thing?waitForCompletion=true", json={}).status_code == 503


def test_internal_router_config_provider(idm_server):
    router = idm_server.server.router
    router.create("config/mapping", {"name": "r"}, id="r")
    assert router.read("config/mapping/r")["name"] == "r"
    assert router.read("config", "mapping/r")["_id"] == "mapping/r"
    router.update("config/mapping/r", None, {"name": "r2"})
    assert router.query("config/mapping", "true")["result"][0]["name"] == "r2"
    router.patch("config/mapping/r", None, [{"operation": "replace", "field": "/name", "value": "r3"}])
    assert router.delete("config/mapping/r")["name"] == "r3"
    with pytest.raises(IdmError) as err:
        router.read("config/mapping/r")
    assert err.value.code == 404


def test_restart_keeps_config(idm_server):
    idm_server.request("PUT", "config/provisioner.openicf/scim", json=SCIM_CONFIG)
    idm_server.restart()
    body = idm_server.get("config/provisioner.openicf/scim").json()
    assert idm_server.server.crypto.decrypt(body["configurationProperties"]["clientSecret"]) == "the-client-secret"
    rows = sqlite3.connect(f"{idm_server.state_dir}/idm.sqlite3").execute("SELECT count(*) FROM config").fetchone()
    assert rows[0] == 1
