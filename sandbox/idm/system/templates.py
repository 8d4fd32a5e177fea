"""``system?_action=createCoreConfig`` and ``createFullConfig``: a connector configuration skeleton for an
installed connector, with the request's values merged in (``createFullConfig`` adds the object types)."""

from __future__ import annotations

from ..crest import copy_json
from ..errors import IdmError
from ..provisioner import find_connector
from ..provisioner.schema import default_object_types

# What IDM's createCoreConfig answers besides the connectorRef (the SCIM connector's defaults).
_SKELETON = {
    "poolConfigOption": {
        "maxObjects": 10,
        "maxIdle": 10,
        "maxWait": 150000,
        "minEvictableIdleTimeMillis": 120000,
        "minIdle": 1,
    },
    "resultsHandlerConfig": {
        "enableNormalizingResultsHandler": False,
        "enableFilteredResultsHandler": False,
        "enableCaseInsensitiveFilter": False,
        "enableAttributesToGetSearchResultsHandler": True,
    },
    "operationTimeout": dict.fromkeys(
        (
            "CREATE",
            "UPDATE",
            "DELETE",
            "TEST",
            "SCRIPT_ON_CONNECTOR",
            "SCRIPT_ON_RESOURCE",
            "GET",
            "RESOLVEUSERNAME",
            "AUTHENTICATE",
            "SEARCH",
            "VALIDATE",
            "SYNC",
            "SCHEMA",
        ),
        -1,
    ),
    "configurationProperties": {
        "SCIMEndpoint": None,
        "SCIMVersion": 2,
        "authenticationMethod": "OAUTH",
        "user": None,
        "password": None,
        "authToken": None,
        "tokenEndpoint": None,
        "clientId": None,
        "clientSecret": None,
        "grantType": "client_credentials",
        "acceptSelfSignedCertificates": False,
        "disableHostNameVerifier": False,
        "connectionTimeout": 30,
        "maximumConnections": 10,
        "httpProxyHost": None,
        "httpProxyPort": None,
        "usePathForPatchV2": False,
    },
}


def core_config(body: dict | None, full: bool) -> dict:
    """The configuration skeleton of the connector ``body["connectorRef"]`` names, with the other keys of ``body``
    merged in (``configurationProperties`` key by key); ``full`` adds ``objectTypes`` and ``operationOptions``."""
    ref = (body or {}).get("connectorRef") or {}
    info = find_connector(ref)
    if info is None:
        raise IdmError(404, f"Connector {ref.get('connectorName')} not found")
    keys = ("connectorName", "displayName", "bundleName", "bundleVersion", "systemType")
    config = {"connectorRef": {k: info[k] for k in keys}, **copy_json(_SKELETON)}
    for key, value in (body or {}).items():
        if key == "configurationProperties" and isinstance(value, dict):
            config[key].update(value)
        elif key != "connectorRef":
            config[key] = value
    if full:
        config.setdefault("objectTypes", default_object_types())
        config.setdefault("operationOptions", {})
    return config
