"""Implicit synchronization (issue 14.5): a change to a managed object goes through every mapping whose source it
is, as IDM's ManagedObjectSet -> SynchronizationService do (see sandbox/idm/sync/implicit.py for the Java source)."""

from __future__ import annotations

import pytest

from sandbox.tests.idm.scim_fixture import ScimTestProvider
from sandbox.tests.idm.sync_helpers import (
    SCIM_ACCOUNT_USER,
    USER_PERSON,
    USER_SCIM_ACCOUNT,
    create,
    js,
    managed,
    put_config,
    put_mappings,
    recon,
    scim_provisioner,
    situations,
    stock_user,
)

OUTBOUND = dict(USER_SCIM_ACCOUNT, policies=[{"situation": "SOURCE_MISSING", "action": "DELETE"}])
INBOUND = SCIM_ACCOUNT_USER


@pytest.fixture
def provider():
    """A fresh provider for each test (conftest's is shared by the module): the tests look at all it holds."""
    server = ScimTestProvider()
    yield server
    server.stop()


@pytest.fixture
def idm(idm_server_factory, provider):
    handle = idm_server_factory(connector_start_delay=0)
    put_config(handle, "provisioner.openicf/scim", scim_provisioner(provider))
    return handle


def scim_users(idm):
    return idm.get("system/scim/account", params={"_queryFilter": "true"}).json()["result"]


def sync_events(idm, extra="true"):
    return idm.get("audit/sync", params={"_queryFilter": extra}).json()["result"]


def test_rest_create_update_delete_are_pushed(idm):
    put_mappings(idm, INBOUND, OUTBOUND)
    user = create(idm, "managed/user", stock_user("ivan"))
    accounts = scim_users(idm)
    assert [a["userName"] for a in accounts] == ["ivan"] and accounts[0]["name"]["givenName"] == "Ivan"
    created = sync_events(idm)
    assert len(created) == 1
    event = created[0]
    assert (event["eventName"], event["mapping"], event["situation"], event["action"], event["status"]) == (
        "sync",
        "managedUser_systemScimAccount",
        "ABSENT",
        "CREATE",
        "SUCCESS",
    )
    assert event["sourceObjectId"] == f"managed/user/{user['_id']}"
    assert event["targetObjectId"] == f"system/scim/account/{accounts[0]['_id']}"
    # the link belongs to the inbound mapping (links), so the inbound recon sees the account as CONFIRMED
    assert situations(recon(idm, "systemScimAccount_managedUser")) == {"CONFIRMED": 1}

    idm.request(
        "PATCH", f"managed/user/{user['_id']}", json=[{"operation": "replace", "field": "/givenName", "value": "Iwan"}]
    )
    assert scim_users(idm)[0]["name"]["givenName"] == "Iwan"
    assert [(e["situation"], e["action"]) for e in sync_events(idm)][-1] == ("CONFIRMED", "UPDATE")
    before = len(sync_events(idm))
    idm.request(
        "PATCH", f"managed/user/{user['_id']}", json=[{"operation": "replace", "field": "/givenName", "value": "Iwan"}]
    )
    assert len(sync_events(idm)) == before  # an update that changes nothing is not synchronized

    idm.request("DELETE", f"managed/user/{user['_id']}")
    assert scim_users(idm) == []
    assert [(e["situation"], e["action"]) for e in sync_events(idm)][-1] == ("SOURCE_MISSING", "DELETE")


def test_sync_events_stay_in_write_order_across_a_restart(idm):
    put_mappings(idm, USER_PERSON)
    create(idm, "managed/user", stock_user("una"))
    recon(idm, "user_person")  # recon and sync events share one sequence
    for name in ("vic", "wes"):
        create(idm, "managed/user", stock_user(name))
    idm.restart()
    latest = create(idm, "managed/user", stock_user("xia"))
    events = sync_events(idm)
    assert len(events) == 4 and events[-1]["sourceObjectId"] == f"managed/user/{latest['_id']}", events


def test_enable_sync_false_and_implicit_sync_off(idm, idm_server_factory, provider):
    put_mappings(idm, INBOUND, dict(OUTBOUND, enableSync=False))
    create(idm, "managed/user", stock_user("jon"))
    assert scim_users(idm) == [] and sync_events(idm) == []

    off = idm_server_factory(connector_start_delay=0, readings={"implicit_sync": "off"})
    put_config(off, "provisioner.openicf/scim", scim_provisioner(provider))
    put_mappings(off, INBOUND, OUTBOUND)
    create(off, "managed/user", stock_user("kai"))
    assert scim_users(off) == [] and sync_events(off) == []


def test_failures_are_not_returned_and_skip_later_mappings(idm):
    failing = dict(OUTBOUND, onCreate=js("throw {code: 400, message: 'provider says no'};"))
    put_mappings(idm, INBOUND, failing, USER_PERSON)
    answer = idm.request("POST", "managed/user?_action=create", json=stock_user("lia"))
    assert answer.status_code == 201  # the change to the managed object stands
    assert managed(idm, "managed/user")[0]["userName"] == "lia"
    assert scim_users(idm) == []
    failed = sync_events(idm)
    assert len(failed) == 1 and failed[0]["status"] == "FAILURE" and failed[0]["mapping"] == OUTBOUND["name"]
    assert "provider says no" in failed[0]["message"]
    assert managed(idm, "managed/person") == []  # user_person was SKIPPED after the failure

    put_mappings(idm, INBOUND, OUTBOUND, USER_PERSON)
    create(idm, "managed/user", stock_user("max"))
    assert [p["userName"] for p in managed(idm, "managed/person")] == ["max"]


def test_exception_policy_stops_the_sync_but_counts_as_success(idm):
    put_mappings(idm, INBOUND, dict(OUTBOUND, policies=[{"situation": "ABSENT", "action": "EXCEPTION"}]), USER_PERSON)
    create(idm, "managed/user", stock_user("nia"))
    event = sync_events(idm)[0]
    assert event["action"] == "EXCEPTION" and event["status"] == "SUCCESS"
    assert event["message"].startswith("Situation ABSENT marked as EXCEPTION")
    # doSourceSync rethrows the intended exception too, so the next mapping is skipped
    assert managed(idm, "managed/person") == []


def test_inbound_recon_does_not_echo(idm, provider):
    """The inbound recon creates managed users; their implicit sync through the outbound mapping (which shares the
    inbound links) sees the link the recon's pending LINK made first: CONFIRMED, and UPDATE writes nothing because
    the mappings round-trip. No duplicate account, no write to the provider."""
    put_mappings(idm, INBOUND, OUTBOUND)
    for name in ("olga", "piet"):
        idm.request(
            "POST",
            "system/scim/account?_action=create",
            json={
                "userName": name,
                "name": {"givenName": name.capitalize(), "familyName": "Tester"},
                "emails": [{"value": f"{name}@example.com", "primary": True}],
            },
        )
    writes_before = [r for r in provider.requests if r[0] in ("POST", "PUT", "PATCH", "DELETE")]
    summary = recon(idm, "systemScimAccount_managedUser")
    assert summary["progress"]["target"]["created"] == 2 and summary["progress"]["links"]["created"] == 2
    assert len(scim_users(idm)) == 2
    writes_after = [r for r in provider.requests if r[0] in ("POST", "PUT", "PATCH", "DELETE")]
    assert writes_after == writes_before
    events = sync_events(idm)
    assert [(e["mapping"], e["situation"], e["action"], e["status"]) for e in events] == [
        ("managedUser_systemScimAccount", "CONFIRMED", "UPDATE", "SUCCESS")
    ] * 2
    # the recon's own entries are untouched by the implicit sync
    assert situations(summary) == {"ABSENT": 2} and summary["statusSummary"] == {"SUCCESS": 2, "FAILURE": 0}
    assert situations(recon(idm, "managedUser_systemScimAccount")) == {"CONFIRMED": 2}


def test_inbound_recon_update_is_pushed_out(idm, provider):
    """A recon's UPDATE of a managed object is synchronized like any other change: here the outbound mapping
    sets a derived title, so the implicit sync writes it to the provider."""
    outbound = dict(
        OUTBOUND,
        properties=OUTBOUND["properties"] + [{"source": "sn", "target": "title", "transform": js("'Dept ' + source")}],
    )
    put_mappings(idm, INBOUND, outbound)
    account = idm.request(
        "POST",
        "system/scim/account?_action=create",
        json={
            "userName": "quin",
            "name": {"givenName": "Quin", "familyName": "Old"},
            "emails": [{"value": "quin@example.com"}],
        },
    ).json()
    recon(idm, "systemScimAccount_managedUser")
    assert scim_users(idm)[0]["title"] == "Dept Old"
    idm.request(
        "PATCH",
        f"system/scim/account/{account['_id']}",
        json=[{"operation": "replace", "field": "/name/familyName", "value": "New"}],
    )
    summary = recon(idm, "systemScimAccount_managedUser")
    assert summary["progress"]["target"]["updated"] == 1
    assert scim_users(idm)[0]["title"] == "Dept New"


def test_implicit_create_and_delete_do_not_echo_through_the_reverse_mapping(idm):
    """An implicit sync passes its pending LINK/UNLINK with a CREATE/DELETE just as a recon does
    (SyncOperation.performAction()), so the reverse mapping that shares the links sees the new user as CONFIRMED
    (no second person) and, on delete, finds the link already gone."""
    fields = ("userName", "givenName", "sn", "mail")
    forward = {
        "name": "person_user",
        "source": "managed/person",
        "target": "managed/user",
        "properties": [{"source": field, "target": field} for field in fields],
        "policies": [{"situation": "SOURCE_MISSING", "action": "DELETE"}],
    }
    backward = dict(forward, name="user_person", source="managed/user", target="managed/person", links="person_user")
    put_mappings(idm, forward, backward)
    person = create(idm, "managed/person", stock_user("rosa"))
    assert [p["_id"] for p in managed(idm, "managed/person")] == [person["_id"]]
    assert [u["userName"] for u in managed(idm, "managed/user")] == ["rosa"]
    assert [(e["mapping"], e["situation"], e["action"]) for e in sync_events(idm)] == [
        ("user_person", "CONFIRMED", "UPDATE"),
        ("person_user", "ABSENT", "CREATE"),
    ]
    idm.request("DELETE", f"managed/person/{person['_id']}")
    assert managed(idm, "managed/user") == [] and managed(idm, "managed/person") == []
    deleted = [(e["mapping"], e["situation"], e["action"], e["status"]) for e in sync_events(idm)[2:]]
    assert deleted == [("person_user", "SOURCE_MISSING", "DELETE", "SUCCESS")], deleted
