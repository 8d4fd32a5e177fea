"""Every situation and its action, policies, empty source sets and per-entry failures, run through the REST API
of an in-process sandbox IDM with managed -> managed mappings (fast and isolated; SCIM is covered elsewhere)."""

from __future__ import annotations

from sandbox.tests.idm.sync_helpers import (
    audit_entries,
    correlate_on,
    create,
    js,
    managed,
    put_mappings,
    recon,
    situations,
)

PERSON_TO_USER = {
    "name": "person_user",
    "source": "managed/person",
    "target": "managed/user",
    "correlationQuery": correlate_on("userName"),
    "properties": [
        {"source": "userName", "target": "userName"},
        {"source": "first", "target": "givenName"},
        {"source": "last", "target": "sn"},
        {"source": "email", "target": "mail"},
    ],
}


def mapping(**changes):
    result = dict(PERSON_TO_USER)
    result.update(changes)
    return result


def person(idm, name, **extra):
    body = {"userName": name, "first": name.title(), "last": "Person", "email": f"{name}@example.com"}
    body.update(extra)
    return create(idm, "managed/person", body)


def test_absent_creates_then_confirmed_unchanged_then_updated(idm):
    put_mappings(idm, mapping())
    people = [person(idm, n) for n in ("alice", "bob")]
    first = recon(idm, "person_user")
    assert situations(first) == {"ABSENT": 2}
    assert first["progress"]["target"]["created"] == 2 and first["progress"]["links"]["created"] == 2
    assert first["statusSummary"] == {"SUCCESS": 2, "FAILURE": 0}
    users = {u["userName"]: u for u in managed(idm, "managed/user")}
    assert users["alice"]["givenName"] == "Alice" and users["bob"]["mail"] == "bob@example.com"

    again = recon(idm, "person_user")
    assert situations(again) == {"CONFIRMED": 2}
    assert again["progress"]["target"]["unchanged"] == 2 and again["progress"]["target"]["updated"] == 0
    rev_before = users["alice"]["_rev"]
    assert idm.get(f"managed/user/{users['alice']['_id']}").json()["_rev"] == rev_before  # not rewritten

    idm.request(
        "PATCH",
        f"managed/person/{people[0]['_id']}",
        json=[{"operation": "replace", "field": "/last", "value": "Changed"}],
    )
    third = recon(idm, "person_user")
    assert third["progress"]["target"]["updated"] == 1 and third["progress"]["target"]["unchanged"] == 1
    assert idm.get(f"managed/user/{users['alice']['_id']}").json()["sn"] == "Changed"


def test_found_links_existing_target(idm):
    put_mappings(idm, mapping())
    person(idm, "carol")
    existing = create(idm, "managed/user", {"userName": "CAROL", "givenName": "old", "sn": "old", "mail": "x"})
    summary = recon(idm, "person_user")
    assert situations(summary) == {"FOUND": 1}
    assert summary["progress"]["links"]["created"] == 1 and summary["progress"]["target"]["updated"] == 1
    assert idm.get(f"managed/user/{existing['_id']}").json()["givenName"] == "Carol"
    assert situations(recon(idm, "person_user")) == {"CONFIRMED": 1}


def test_found_already_linked_and_ambiguous(idm):
    put_mappings(idm, mapping(correlationQuery=correlate_on("mail", "email")))
    person(idm, "dave", email="shared@example.com")
    recon(idm, "person_user")
    person(idm, "erin", email="shared@example.com")
    summary = recon(idm, "person_user")
    assert situations(summary) == {"CONFIRMED": 1, "FOUND_ALREADY_LINKED": 1}
    # EXCEPTION is intended: IDM counts the entry as SUCCESS and records the exception message (A2)
    assert summary["statusSummary"] == {"SUCCESS": 2, "FAILURE": 0}
    flagged = audit_entries(idm, summary["_id"], 'action eq "EXCEPTION"')
    assert flagged[0]["situation"] == "FOUND_ALREADY_LINKED" and flagged[0]["status"] == "SUCCESS"
    assert flagged[0]["message"].startswith("Situation FOUND_ALREADY_LINKED marked as EXCEPTION")

    create(idm, "managed/user", {"userName": "other", "mail": "twice@example.com"})
    create(idm, "managed/user", {"userName": "other2", "mail": "twice@example.com"})
    person(idm, "frank", email="twice@example.com")
    summary = recon(idm, "person_user")
    assert summary["situationSummary"]["AMBIGUOUS"] == 1
    ambiguous = audit_entries(idm, summary["_id"], 'situation eq "AMBIGUOUS"')[0]
    assert ambiguous["status"] == "SUCCESS" and ambiguous["ambiguousTargetObjectIds"].count(",") == 1


def test_missing_default_exception_then_policy_create(idm):
    put_mappings(idm, mapping())
    person(idm, "gina")
    recon(idm, "person_user")
    user = managed(idm, "managed/user")[0]
    idm.request("DELETE", f"managed/user/{user['_id']}")
    summary = recon(idm, "person_user")
    assert situations(summary) == {"MISSING": 1} and summary["statusSummary"] == {"SUCCESS": 1, "FAILURE": 0}
    put_mappings(idm, mapping(policies=[{"situation": "MISSING", "action": "CREATE"}]))
    summary = recon(idm, "person_user")
    assert situations(summary) == {"MISSING": 1} and summary["progress"]["target"]["created"] == 1
    assert situations(recon(idm, "person_user")) == {"CONFIRMED": 1}


def test_source_missing_default_exception_and_delete_policy(idm):
    put_mappings(idm, mapping())
    keep, gone = person(idm, "hank"), person(idm, "ivy")
    recon(idm, "person_user")
    idm.request("DELETE", f"managed/person/{gone['_id']}")
    summary = recon(idm, "person_user")
    assert situations(summary) == {"CONFIRMED": 1, "SOURCE_MISSING": 1}
    assert summary["statusSummary"] == {"SUCCESS": 2, "FAILURE": 0}
    assert summary["progress"]["target"]["existing"]["processed"] == 1
    put_mappings(idm, mapping(policies=[{"situation": "SOURCE_MISSING", "action": "DELETE"}]))
    summary = recon(idm, "person_user")
    assert summary["progress"]["target"]["deleted"] == 1
    assert [u["userName"] for u in managed(idm, "managed/user")] == [keep["userName"]]
    assert situations(recon(idm, "person_user")) == {"CONFIRMED": 1}  # link removed with the target


def test_unqualified_deletes_and_source_ignored(idm):
    valid = js("source.last !== 'Excluded'")
    put_mappings(idm, mapping(validSource=valid))
    linked = person(idm, "jack")
    person(idm, "kim", last="Excluded")
    summary = recon(idm, "person_user")
    assert situations(summary) == {"ABSENT": 1, "SOURCE_IGNORED": 1}
    idm.request(
        "PATCH",
        f"managed/person/{linked['_id']}",
        json=[{"operation": "replace", "field": "/last", "value": "Excluded"}],
    )
    summary = recon(idm, "person_user")
    assert situations(summary) == {"UNQUALIFIED": 1, "SOURCE_IGNORED": 1}
    assert summary["progress"]["target"]["deleted"] == 1
    assert managed(idm, "managed/user") == []


def test_source_condition_filter(idm):
    put_mappings(idm, mapping(sourceCondition='/source/last eq "Person"'))
    person(idm, "lena")
    person(idm, "mo", last="Other")
    assert situations(recon(idm, "person_user")) == {"ABSENT": 1, "SOURCE_IGNORED": 1}


def test_target_phase_checks_valid_source_but_not_the_source_condition(idm):
    """A linked target whose source is outside this run's source set: IDM's target phase re-checks validSource
    only (TargetSyncOperation), so a source the sourceCondition leaves out is still CONFIRMED, not UNQUALIFIED
    (whose default action would delete the target)."""
    put_mappings(idm, mapping())
    person(idm, "pia")
    person(idm, "quy", last="Other")
    assert situations(recon(idm, "person_user")) == {"ABSENT": 2}
    put_mappings(
        idm, mapping(sourceQuery={"_queryFilter": 'userName eq "pia"'}, sourceCondition='/source/last eq "Person"')
    )
    summary = recon(idm, "person_user")
    assert situations(summary) == {"CONFIRMED": 2} and summary["progress"]["target"]["deleted"] == 0
    assert sorted(u["userName"] for u in managed(idm, "managed/user")) == ["pia", "quy"]
    put_mappings(
        idm, mapping(sourceQuery={"_queryFilter": 'userName eq "pia"'}, validSource=js("source.last === 'Person'"))
    )
    assert situations(recon(idm, "person_user")) == {"CONFIRMED": 1, "UNQUALIFIED": 1}


def test_unassigned_and_target_ignored(idm):
    put_mappings(idm, mapping(validTarget=js("target.userName !== 'service'")))
    person(idm, "nina")
    create(idm, "managed/user", {"userName": "orphan"})
    create(idm, "managed/user", {"userName": "service"})
    summary = recon(idm, "person_user")
    assert situations(summary) == {"ABSENT": 1, "UNASSIGNED": 1, "TARGET_IGNORED": 1}
    assert summary["statusSummary"] == {"SUCCESS": 3, "FAILURE": 0}  # UNASSIGNED -> EXCEPTION is SUCCESS
    put_mappings(idm, mapping(runTargetPhase=False))
    assert situations(recon(idm, "person_user")) == {"CONFIRMED": 1}


def test_policy_scripts_and_post_action(idm):
    put_mappings(
        idm,
        mapping(
            policies=[
                {
                    "situation": "ABSENT",
                    "action": js("source.userName === 'skip' ? 'IGNORE' : 'CREATE'"),
                    "postAction": js("openidm.create('managed/log', null, {'msg': situation + ':' + action}); null;"),
                },
                {"situation": "UNASSIGNED", "action": "UNLINK"},
            ]
        ),
    )
    person(idm, "skip")
    person(idm, "make")
    summary = recon(idm, "person_user")
    assert situations(summary) == {"ABSENT": 2} and summary["progress"]["target"]["created"] == 1
    # IDM runs a postAction after the action, except for IGNORE and ASYNC (SyncOperation.performAction)
    assert sorted(log["msg"] for log in managed(idm, "managed/log")) == ["ABSENT:CREATE"]


def test_policy_condition_picks_action(idm):
    put_mappings(
        idm,
        mapping(
            policies=[
                {"situation": "ABSENT", "condition": '/object/last eq "Ignore"', "action": "IGNORE"},
                {"situation": "ABSENT", "action": "CREATE"},
            ]
        ),
    )
    person(idm, "pam", last="Ignore")
    person(idm, "quin")
    summary = recon(idm, "person_user")
    assert summary["progress"]["target"]["created"] == 1
    assert [u["userName"] for u in managed(idm, "managed/user")] == ["quin"]


def test_link_and_unlink_actions(idm):
    put_mappings(idm, mapping(policies=[{"situation": "FOUND", "action": "LINK"}]))
    person(idm, "rita")
    user = create(idm, "managed/user", {"userName": "rita", "givenName": "stays"})
    summary = recon(idm, "person_user")
    assert situations(summary) == {"FOUND": 1} and summary["progress"]["links"]["created"] == 1
    assert idm.get(f"managed/user/{user['_id']}").json()["givenName"] == "stays"  # LINK does not update
    put_mappings(idm, mapping(policies=[{"situation": "CONFIRMED", "action": "UNLINK"}]))
    assert situations(recon(idm, "person_user")) == {"CONFIRMED": 1}
    put_mappings(idm, mapping(policies=[{"situation": "FOUND", "action": "REPORT"}]))
    assert situations(recon(idm, "person_user")) == {"FOUND": 1}


def test_empty_source_fails_unless_allowed(idm):
    put_mappings(idm, mapping())
    failed = recon(idm, "person_user", expect_state="FAILED")
    assert failed["stage"] == "COMPLETED_FAILED" and failed["ended"]
    put_mappings(idm, mapping(allowEmptySourceSet=True))
    create(idm, "managed/user", {"userName": "lonely"})
    summary = recon(idm, "person_user")
    assert situations(summary) == {"UNASSIGNED": 1}


def test_per_entry_failures_do_not_fail_the_run(idm):
    put_mappings(
        idm,
        mapping(
            properties=PERSON_TO_USER["properties"]
            + [
                {
                    "source": "first",
                    "target": "description",
                    "transform": js("if (source === 'Boom') { throw new Error('bad first name'); } source;"),
                }
            ]
        ),
    )
    person(idm, "boom")
    person(idm, "fine")
    summary = recon(idm, "person_user")
    assert summary["statusSummary"] == {"SUCCESS": 1, "FAILURE": 1}
    failure = audit_entries(idm, summary["_id"], 'status eq "FAILURE"')[0]
    assert "bad first name" in failure["exception"]
    assert failure["sourceObjectId"].startswith("managed/person/")


def test_non_javascript_script_fails_the_entry_clearly(idm):
    put_mappings(idm, mapping(onCreate={"type": "groovy", "source": "target.x = 1"}))
    person(idm, "gus")
    summary = recon(idm, "person_user")
    assert summary["statusSummary"]["FAILURE"] == 1
    assert "groovy" in audit_entries(idm, summary["_id"])[0]["exception"]


def test_recon_by_id_only_touches_that_source(idm):
    put_mappings(idm, mapping())
    one, _two = person(idm, "uma"), person(idm, "vic")
    for param in ("id", "ids"):
        response = idm.request(
            "POST", f"recon?_action=reconById&mapping=person_user&{param}={one['_id']}&waitForCompletion=true"
        )
        assert response.status_code == 200
        summary = idm.get(f"recon/{response.json()['_id']}").json()
        assert summary["progress"]["source"]["existing"]["processed"] == 1
        assert summary["parameters"]["sourceIds"] == [one["_id"]]
    assert [u["userName"] for u in managed(idm, "managed/user")] == ["uma"]
