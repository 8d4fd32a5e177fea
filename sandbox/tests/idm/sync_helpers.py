"""Helpers shared by the sandbox IDM sync/recon/system tests (not fixtures of the core: see conftest.py)."""

from __future__ import annotations

from sandbox.idm.provisioner.schema import default_object_types

SCIM_REF = {
    "connectorName": "org.forgerock.openicf.connectors.scim.ScimConnector",
    "bundleName": "org.forgerock.openicf.connectors.scim-connector",
    "bundleVersion": "[1.5.0.0,1.6.0.0)",
}


def connector_status(name, enabled=True, started=True):
    """What ``system?_action=test`` reports for a SCIM connector: started (the bundle IDM runs, its object types)
    or not (yet) available."""
    status = {"name": name, "enabled": enabled, "config": f"config/provisioner.openicf/{name}"}
    if not started:
        return dict(status, connectorRef=SCIM_REF, objectTypes=["__ALL__"], error="connector not available", ok=False)
    return dict(
        status,
        connectorRef=dict(SCIM_REF, bundleVersion="1.5.20.31"),
        displayName="Scim Connector",
        objectTypes=["__ALL__", "account", "group"],
        ok=True,
    )


# The keys of every CREST query answer.
QUERY_RESULT_KEYS = {
    "result",
    "resultCount",
    "pagedResultsCookie",
    "totalPagedResultsPolicy",
    "totalPagedResults",
    "remainingPagedResults",
}


def js(source):
    return {"type": "text/javascript", "source": source}


def correlate_on(field, source_field=None):
    source_field = source_field or field
    return js(f"var q = {{'_queryFilter': '{field} eq \"' + source.{source_field} + '\"'}}; q;")


def scim_provisioner(provider, **props):
    properties = {
        "SCIMEndpoint": provider.endpoint,
        "SCIMVersion": 2,
        "authenticationMethod": "OAUTH",
        "grantType": "client_credentials",
        "tokenEndpoint": provider.token_endpoint,
        "clientId": "idm-client",
        "clientSecret": "idm-secret",
        "connectionTimeout": 5,
        "maximumConnections": 4,
    }
    properties.update(props)
    return {
        "connectorRef": dict(SCIM_REF),
        "enabled": True,
        "configurationProperties": properties,
        "objectTypes": default_object_types(),
    }


def put_config(idm, config_id, body, wait=True):
    response = idm.request("PUT", f"config/{config_id}" + ("?waitForCompletion=true" if wait else ""), json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()


def put_mappings(idm, *mappings):
    return put_config(idm, "sync", {"mappings": list(mappings)})


def recon(idm, mapping, expect_state="SUCCESS", body=None, **params):
    """Run a reconciliation to completion and return its full summary."""
    query = "&".join(f"{k}={v}" for k, v in params.items())
    url = f"recon?_action=recon&mapping={mapping}&waitForCompletion=true" + (f"&{query}" if query else "")
    response = idm.request("POST", url, json=body) if body is not None else idm.request("POST", url)
    assert response.status_code == 200, response.text
    started = response.json()
    summary = idm.get(f"recon/{started['_id']}").json()
    if expect_state:
        assert summary["state"] == expect_state, summary
    return summary


def situations(summary):
    return {k: v for k, v in summary["situationSummary"].items() if v}


def managed(idm, resource, query_filter="true", fields=None):
    params = {"_queryFilter": query_filter}
    if fields:
        params["_fields"] = fields
    response = idm.get(resource, params=params)
    assert response.status_code == 200, response.text
    return response.json()["result"]


def create(idm, resource, obj):
    response = idm.request("POST", f"{resource}?_action=create", json=obj)
    assert response.status_code == 201, response.text
    return response.json()


def audit_entries(idm, recon_id, extra=""):
    query_filter = f'reconId eq "{recon_id}" and entryType eq "entry"' + (f" and {extra}" if extra else "")
    response = idm.get("audit/recon", params={"_queryFilter": query_filter})
    assert response.status_code == 200, response.text
    return response.json()["result"]


# A tenant whose managed.json asks less than IDM's stock policy (users: userName, givenName, sn, mail): for tests
# about something else than the policy, which create users and roles with few properties.
MINIMAL_MANAGED = {
    "objects": [
        {"name": "user", "schema": {"required": ["userName"]}},
        {"name": "role", "schema": {"required": ["name"]}},
    ]
}


def minimal_policy(idm):
    put_config(idm, "managed", MINIMAL_MANAGED)
    return idm


# Readings for tests of reconciliation alone: their source objects are created through REST first, which on IDM
# would already push them through the mappings (implicit sync); those tests turn it off to look at the recon only.
RECON_ONLY = {"implicit_sync": "off"}


def stock_user(user_name, **extra):
    """A managed user with the fields IDM's stock policy requires."""
    user = {
        "userName": user_name,
        "givenName": user_name.capitalize(),
        "sn": "Tester",
        "mail": f"{user_name}@example.com",
    }
    user.update(extra)
    return user


# A person -> user mapping of two plain properties, correlated on userName (the fidelity tests).
PERSON_USER = {
    "name": "person_user",
    "source": "managed/person",
    "target": "managed/user",
    "correlationQuery": correlate_on("userName"),
    "properties": [{"source": "userName", "target": "userName"}, {"source": "mail", "target": "mail"}],
}
# user -> person on userName alone (no links: a mapping of its own).
USER_PERSON = {
    "name": "user_person",
    "source": "managed/user",
    "target": "managed/person",
    "properties": [{"source": "userName", "target": "userName"}],
}


# The account mappings of PingIDM's SCIM sample (sync.json), without their policies: each test adds its own.
SCIM_ACCOUNT_USER = {
    "name": "systemScimAccount_managedUser",
    "source": "system/scim/account",
    "target": "managed/user",
    "correlationQuery": correlate_on("userName"),
    "properties": [
        {"source": "userName", "target": "userName"},
        {"source": "name/givenName", "target": "givenName"},
        {"source": "name/familyName", "target": "sn"},
        {"source": "emails", "target": "mail", "transform": js("source && source.length ? source[0].value : null")},
    ],
}
USER_SCIM_ACCOUNT = {
    "name": "managedUser_systemScimAccount",
    "source": "managed/user",
    "target": "system/scim/account",
    "links": "systemScimAccount_managedUser",
    "correlationQuery": correlate_on("userName"),
    "properties": [
        {"source": "userName", "target": "userName"},
        {"source": "givenName", "target": "name/givenName"},
        {"source": "sn", "target": "name/familyName"},
    ],
}
