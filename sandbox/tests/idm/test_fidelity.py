"""The sandbox IDM behaves like IDM on the points of the fidelity audit (shared/reference/idm-fidelity-audit.md),
and each reading's alternative behaves as documented. Each test names its point; the Java evidence is in the
docstrings of the sandbox modules and in sandbox/README.md."""

from __future__ import annotations

from sandbox.tests.idm.sync_helpers import (
    PERSON_USER,
    RECON_ONLY,
    USER_PERSON,
    audit_entries,
    correlate_on,
    create,
    js,
    managed,
    minimal_policy,
    put_mappings,
    recon,
    situations,
)

# ---- A2: EXCEPTION is SUCCESS, failures carry what IDM records ----------------------------------------------------


def _exception_and_failure_run(idm):
    put_mappings(
        idm,
        dict(
            PERSON_USER,
            policies=[
                {
                    "situation": "ABSENT",
                    "action": js("(source.userName || '').indexOf('flag') === 0 ? 'EXCEPTION' : 'CREATE'"),
                }
            ],
        ),
    )
    for name in ("flag1", "flag2", "ok1"):
        create(idm, "managed/person", {"userName": name})
    create(idm, "managed/person", {"mail": "no-user-name@example.com"})  # the user policy refuses it
    return recon(idm, "person_user")


def test_exception_entries_are_success_with_the_exception_message(idm):
    summary = _exception_and_failure_run(idm)
    assert situations(summary) == {"ABSENT": 4}
    assert summary["statusSummary"] == {"SUCCESS": 3, "FAILURE": 1}
    flagged = audit_entries(idm, summary["_id"], 'action eq "EXCEPTION"')
    assert len(flagged) == 2
    entry = flagged[0]
    assert entry["status"] == "SUCCESS" and entry["situation"] == "ABSENT" and entry["reconId"] == summary["_id"]
    assert entry["message"] == "Situation ABSENT marked as EXCEPTION. Root cause: Situation ABSENT marked as EXCEPTION"
    assert entry["messageDetail"] == {
        "code": 409,
        "reason": "Conflict",
        "message": "Situation ABSENT marked as EXCEPTION",
    }
    assert entry["exception"].startswith("org.forgerock.openidm.sync.SynchronizationException: Situation ABSENT")
    assert entry["sourceObjectId"].startswith("managed/person/") and entry["targetObjectId"] is None


def test_real_failures_stay_failure_and_are_queryable_with_paging(idm):
    summary = _exception_and_failure_run(idm)
    for name in ("broken1", "broken2"):
        create(idm, "managed/person", {"mail": f"{name}@example.com"})
    summary = recon(idm, "person_user")
    assert summary["statusSummary"]["FAILURE"] == 3
    query = f'reconId eq "{summary["_id"]}" and status eq "FAILURE"'
    first = idm.get("audit/recon", params={"_queryFilter": query, "_pageSize": 2}).json()
    assert first["resultCount"] == 2 and first["pagedResultsCookie"]
    rest = idm.get(
        "audit/recon",
        params={"_queryFilter": query, "_pageSize": 2, "_pagedResultsCookie": first["pagedResultsCookie"]},
    ).json()
    failures = first["result"] + rest["result"]
    assert len(failures) == 3 and rest["pagedResultsCookie"] is None
    failure = failures[0]
    assert failure["status"] == "FAILURE" and failure["action"] == "CREATE" and failure["situation"] == "ABSENT"
    assert failure["message"] == "Failed policy validation. Root cause: Failed policy validation"
    assert failure["messageDetail"]["message"] == "Failed policy validation"
    assert failure["exception"] and failure["reconId"] == summary["_id"]
    assert failure["sourceObjectId"].startswith("managed/person/")


def test_exception_status_failure_reading_counts_them_as_failures(idm_server_factory):
    idm = minimal_policy(idm_server_factory(readings=dict(RECON_ONLY, exception_status="failure")))
    summary = _exception_and_failure_run(idm)
    assert summary["statusSummary"] == {"SUCCESS": 1, "FAILURE": 3}
    assert {e["status"] for e in audit_entries(idm, summary["_id"], 'action eq "EXCEPTION"')} == {"FAILURE"}


# ---- A5: links is validated as IDM's LinkType does ----------------------------------------------------------------


def test_links_naming_no_mapping_is_stored_but_not_in_force(idm):
    put_mappings(idm, PERSON_USER)
    create(idm, "managed/person", {"userName": "anna"})
    reverse = dict(USER_PERSON, links="nope")
    stored = idm.request("PUT", "config/sync", json={"mappings": [PERSON_USER, reverse]})
    assert stored.status_code == 200  # the config service accepts it
    assert idm.get("config/sync").json()["mappings"][1]["links"] == "nope"
    refused = idm.request("POST", "recon?_action=recon&mapping=user_person&waitForCompletion=true")
    assert refused.status_code == 409 and refused.json()["message"] == "No such mapping: user_person"
    # the mappings in force are the previous set: person_user still runs
    assert recon(idm, "person_user")["progress"]["target"]["created"] == 1


def test_links_must_be_same_or_exact_reverse_direction(idm):
    wrong = {
        "name": "person_role",
        "source": "managed/person",
        "target": "managed/role",
        "links": "person_user",
        "properties": [{"source": "userName", "target": "name"}],
    }
    put_mappings(idm, PERSON_USER)
    assert idm.request("PUT", "config/sync", json={"mappings": [PERSON_USER, wrong]}).status_code == 200
    assert idm.request("POST", "recon?_action=recon&mapping=person_role").status_code == 409
    reverse = dict(wrong, name="user_person", source="managed/user", target="managed/person")
    put_mappings(idm, PERSON_USER, reverse)
    create(idm, "managed/person", {"userName": "ben"})
    recon(idm, "person_user")
    assert situations(recon(idm, "user_person")) == {"CONFIRMED": 1}  # exact reverse: the same links


def test_invalid_mapping_set_at_start_leaves_no_mapping_service(idm_server_factory, tmp_path):
    idm = idm_server_factory(state_dir=tmp_path / "state", readings=RECON_ONLY)
    bad = dict(PERSON_USER, name="p2", links="ghost")
    assert idm.request("PUT", "config/sync", json={"mappings": [PERSON_USER, bad]}).status_code == 201
    idm.restart()
    answer = idm.request("POST", "recon?_action=recon&mapping=person_user")
    assert answer.status_code == 500


# ---- A6: script bindings as SyncOperation.execScript ---------------------------------------------------------------

NAMES = (
    "sourceId",
    "targetId",
    "mappingConfig",
    "oldSource",
    "source",
    "target",
    "oldTarget",
    "situation",
    "linkQualifier",
)
# the bound names whose value is not undefined/null, as a JS array expression
BINDINGS = (
    "["
    + ", ".join(f"(typeof {n} === 'undefined' || {n} === null) ? null : '{n}'" for n in NAMES)
    + "].filter(function (k) { return k !== null; })"
)


def test_on_create_update_link_delete_bindings(idm):
    record = (
        "openidm.create('managed/log', null, {'hook': '%s', 'bound': " + BINDINGS + ".join(','),"
        " 'sourceId': typeof sourceId === 'undefined' ? null : sourceId,"
        " 'mapping': mappingConfig.name, 'reconContext': context.recon.mapping,"
        " 'reconIdInContext': typeof context.recon.reconId});"
    )
    put_mappings(
        idm,
        dict(
            PERSON_USER,
            onCreate=js(record % "onCreate"),
            onUpdate=js(record % "onUpdate"),
            onLink=js(record % "onLink"),
            onDelete=js(record % "onDelete"),
            policies=[{"situation": "SOURCE_MISSING", "action": "DELETE"}],
        ),
    )
    person = create(idm, "managed/person", {"userName": "cleo"})
    create(idm, "managed/person", {"userName": "stays"})
    recon(idm, "person_user")
    idm.request(
        "PATCH",
        f"managed/person/{person['_id']}",
        json=[{"operation": "replace", "field": "/mail", "value": "c@example.com"}],
    )
    recon(idm, "person_user")
    idm.request("DELETE", f"managed/person/{person['_id']}")
    recon(idm, "person_user")
    logs = {log["hook"]: log for log in managed(idm, "managed/log") if log["sourceId"] == person["_id"]}

    def bound(hook):
        return set(logs[hook]["bound"].split(","))

    assert bound("onCreate") == {"sourceId", "mappingConfig", "source", "target", "situation", "linkQualifier"}
    assert bound("onLink") >= {"sourceId", "targetId", "source", "target", "mappingConfig"}
    assert bound("onUpdate") == {
        "sourceId",
        "targetId",
        "mappingConfig",
        "source",
        "target",
        "oldTarget",
        "situation",
        "linkQualifier",
    }
    assert bound("onDelete") == {"targetId", "sourceId", "mappingConfig", "target", "situation", "linkQualifier"}
    assert logs["onCreate"]["sourceId"] == person["_id"] and logs["onCreate"]["mapping"] == "person_user"
    assert logs["onCreate"]["reconContext"] == "person_user" and logs["onCreate"]["reconIdInContext"] == "undefined"


def test_property_condition_sees_old_target(idm):
    put_mappings(
        idm,
        dict(
            PERSON_USER,
            properties=PERSON_USER["properties"]
            + [
                {
                    "target": "firstSeen",
                    "source": "userName",
                    "condition": js("typeof oldTarget === 'undefined' || oldTarget.firstSeen === undefined"),
                }
            ],
        ),
    )
    person = create(idm, "managed/person", {"userName": "dora"})
    recon(idm, "person_user")
    idm.request(
        "PATCH",
        f"managed/person/{person['_id']}",
        json=[{"operation": "replace", "field": "/userName", "value": "dora2"}],
    )
    recon(idm, "person_user")
    user = managed(idm, "managed/user")[0]
    assert user["userName"] == "dora2" and user["firstSeen"] == "dora"  # the condition kept the first value


# ---- A11: strict JSON equality ---------------------------------------------------------------------------------------


def test_update_compares_strictly(idm):
    put_mappings(
        idm, dict(PERSON_USER, properties=PERSON_USER["properties"] + [{"source": "level", "target": "level"}])
    )
    create(idm, "managed/person", {"userName": "eve", "level": 1})
    recon(idm, "person_user")
    assert recon(idm, "person_user")["progress"]["target"]["unchanged"] == 1
    user = managed(idm, "managed/user")[0]
    idm.request("PUT", f"managed/user/{user['_id']}", json=dict(user, level=1.0))
    assert recon(idm, "person_user")["progress"]["target"]["updated"] == 1  # 1.0 is not 1
    put_mappings(
        idm,
        dict(
            PERSON_USER,
            properties=PERSON_USER["properties"] + [{"source": "level", "target": "level"}],
            onUpdate=js("delete target.extra;"),
        ),
    )
    idm.request("PATCH", f"managed/user/{user['_id']}", json=[{"operation": "add", "field": "/extra", "value": 1}])
    assert recon(idm, "person_user")["progress"]["target"]["updated"] == 1  # a removed key is a change
    assert "extra" not in managed(idm, "managed/user")[0]
    assert recon(idm, "person_user")["progress"]["target"]["unchanged"] == 1


# ---- A10.8: correlateEmptyTargetSet ----------------------------------------------------------------------------------


def test_no_correlation_against_a_target_set_that_was_empty(idm):
    by_mail = dict(
        PERSON_USER,
        correlationQuery=correlate_on("mail"),
        properties=[{"source": "userName", "target": "userName"}, {"source": "mail", "target": "mail"}],
    )
    put_mappings(idm, by_mail)
    create(idm, "managed/person", {"userName": "f1", "mail": "same@example.com"})
    create(idm, "managed/person", {"userName": "f2", "mail": "same@example.com"})
    summary = recon(idm, "person_user")
    assert situations(summary) == {"ABSENT": 2} and summary["progress"]["target"]["created"] == 2


def test_correlate_empty_target_set_true_correlates_from_the_start(idm):
    by_mail = dict(
        PERSON_USER,
        correlationQuery=correlate_on("mail"),
        correlateEmptyTargetSet=True,
        properties=[{"source": "userName", "target": "userName"}, {"source": "mail", "target": "mail"}],
    )
    put_mappings(idm, by_mail)
    create(idm, "managed/person", {"userName": "g1", "mail": "same@example.com"})
    create(idm, "managed/person", {"userName": "g2", "mail": "same@example.com"})
    summary = recon(idm, "person_user")
    assert situations(summary) == {"ABSENT": 1, "FOUND_ALREADY_LINKED": 1}


# ---- UPDATE/LINK without a target ---------------------------------------------------------------------------------


def test_update_of_a_missing_target_only_links_and_link_without_target_fails(idm):
    put_mappings(idm, PERSON_USER)
    create(idm, "managed/person", {"userName": "ida"})
    recon(idm, "person_user")
    user = managed(idm, "managed/user")[0]
    idm.request("DELETE", f"managed/user/{user['_id']}")
    put_mappings(idm, dict(PERSON_USER, policies=[{"situation": "MISSING", "action": "UPDATE"}]))
    summary = recon(idm, "person_user")  # IDM maps only when source and target exist (SyncOperation L522)
    assert situations(summary) == {"MISSING": 1} and summary["statusSummary"] == {"SUCCESS": 1, "FAILURE": 0}
    put_mappings(idm, dict(PERSON_USER, policies=[{"situation": "ABSENT", "action": "LINK"}]))
    create(idm, "managed/person", {"userName": "jo"})
    summary = recon(idm, "person_user")
    failed = audit_entries(idm, summary["_id"], 'status eq "FAILURE"')
    assert [(e["situation"], e["action"]) for e in failed] == [("ABSENT", "LINK")]
    assert failed[0]["message"] == "no target object to link. Root cause: no target object to link"
