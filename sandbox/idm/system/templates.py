"""``system?_action=createCoreConfig`` and ``createFullConfig``: a connector configuration skeleton for an
installed connector, with the request's values merged in (``createFullConfig`` adds the object types)."""

from __future__ import annotations

from ..errors import IdmError
from ..provisioner import find_connector
from ..provisioner.schema import default_object_types


def core_config(body, full):
    ref = (body or {}).get("connectorRef") or {}
    info = find_connector(ref)
    if info is None:
        raise IdmError(404, f"Connector {ref.get('connectorName')} not found")
    config = {
        "connectorRef": {
            k: info[k] for k in ("connectorName", "displayName", "bundleName", "bundleVersion", "systemType")
        },
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
    for key, value in (body or {}).items():
        if key == "configurationProperties" and isinstance(value, dict):
            config[key].update(value)
        elif key != "connectorRef":
            config[key] = value
    if full:
        config.setdefault("objectTypes", default_object_types())
        config.setdefault("operationOptions", {})
    return config
