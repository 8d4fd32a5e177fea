# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import copy

import pytest

from ansible_collections.idmops.pingidm.plugins.modules import mapping


def make(name, source="system/scim/account", target="managed/user", **extra):
    m = {
        "name": name,
        "source": source,
        "target": target,
        "properties": [{"source": "userName", "target": "userName"}],
        "policies": [{"situation": "ABSENT", "action": "CREATE"}],
    }
    m.update(extra)
    return m


A = make("scimAccount_managedUser")
B = make("managedUser_scimAccount", source="managed/user", target="system/scim/account")
C = make("scimGroup_managedRole", source="system/scim/group", target="managed/role")


def sync_names(fake_idm):
    return [m["name"] for m in fake_idm.configs["sync"]["mappings"]]


def test_create_sync_then_unchanged(fake_idm, run_module, idm_args):
    result = run_module(mapping, dict(idm_args, mappings=[A, B]), diff=True)
    assert result["changed"] is True and result["created"] == [A["name"], B["name"]]
    assert fake_idm.configs["sync"] == {"mappings": [A, B]}
    assert [d["after_header"] for d in result["diff"]] == ["mapping " + A["name"], "mapping " + B["name"]]
    assert result["diff"][0]["before"] == {}
    reordered_keys = [dict(reversed(list(m.items()))) for m in (A, B)]
    result = run_module(mapping, dict(idm_args, mappings=reordered_keys), diff=True)
    assert result["changed"] is False and result["mappings"] == [] and result["diff"] == []
    assert len(fake_idm.calls_to("PUT", "config/sync")) == 1


def test_one_mapping_by_name_replaces_in_place_and_keeps_others(fake_idm, run_module, idm_args):
    fake_idm.configs["sync"] = {"mappings": [A, B, C]}
    changed_b = dict(B, properties=[{"source": "mail", "target": "mail"}])
    body = {k: v for k, v in changed_b.items() if k != "name"}
    checked = run_module(mapping, dict(idm_args, name=B["name"], mapping=body), check_mode=True, diff=True)
    assert checked["changed"] is True and checked["updated"] == [B["name"]] and fake_idm.writes() == []
    real = run_module(mapping, dict(idm_args, name=B["name"], mapping=body), diff=True)
    assert real["changed"] is True and real["diff"] == checked["diff"]
    assert fake_idm.configs["sync"]["mappings"] == [A, changed_b, C]
    assert real["diff"][0]["before"]["properties"] == B["properties"]
    assert real["diff"][0]["after"]["properties"] == changed_b["properties"]


def test_new_mapping_is_appended(fake_idm, run_module, idm_args):
    fake_idm.configs["sync"] = {"mappings": [A, B]}
    result = run_module(mapping, dict(idm_args, mapping=C))
    assert result["created"] == [C["name"]] and sync_names(fake_idm) == [A["name"], B["name"], C["name"]]


def test_server_ids_on_entries_are_ignored_and_other_sync_keys_kept(fake_idm, run_module, idm_args):
    fake_idm.configs["sync"] = {"mappings": [dict(A, _id="sync/" + A["name"])], "onSync": {"x": 1}}
    assert run_module(mapping, dict(idm_args, mapping=A))["changed"] is False
    run_module(mapping, dict(idm_args, mapping=dict(A, enableSync=False)))
    assert fake_idm.configs["sync"]["onSync"] == {"x": 1}


def test_prune_removes_others_and_reports_them_in_check_mode(fake_idm, run_module, idm_args):
    fake_idm.configs["sync"] = {"mappings": [A, B, C]}
    checked = run_module(mapping, dict(idm_args, mappings=[A, C], prune=True), check_mode=True, diff=True)
    assert checked["changed"] is True and checked["removed"] == [B["name"]] and fake_idm.writes() == []
    assert checked["diff"][0]["after"] == {} and checked["diff"][0]["before_header"] == "mapping " + B["name"]
    real = run_module(mapping, dict(idm_args, mappings=[A, C], prune=True))
    assert real["removed"] == [B["name"]] and sync_names(fake_idm) == [A["name"], C["name"]]
    assert run_module(mapping, dict(idm_args, mappings=[A, C], prune=True))["changed"] is False


@pytest.mark.parametrize("storage", ["sync", "mapping"])
def test_server_only_mappings_are_reported_and_kept_without_prune(fake_idm, run_module, idm_args, storage):
    if storage == "sync":
        fake_idm.configs["sync"] = {"mappings": [A, B, C]}
    else:
        for m in (A, B, C):
            fake_idm.configs["mapping/" + m["name"]] = m
    result = run_module(mapping, dict(idm_args, mappings=[A, C], storage=storage))
    assert result["changed"] is False and result["unmanaged"] == [B["name"]] and fake_idm.writes() == []
    assert B["name"] in str(result.get("warnings")) and "prune=true" in str(result.get("warnings"))
    single = run_module(mapping, dict(idm_args, mapping=A, storage=storage))
    assert single["unmanaged"] == [B["name"], C["name"]] and not single.get("warnings")


def test_prune_makes_order_authoritative(fake_idm, run_module, idm_args):
    fake_idm.configs["sync"] = {"mappings": [A, B]}
    assert run_module(mapping, dict(idm_args, mappings=[B, A]))["changed"] is False  # without prune: order kept
    result = run_module(mapping, dict(idm_args, mappings=[B, A], prune=True), diff=True)
    assert result["changed"] is True and result["order_changed"] is True and result["mappings"] == []
    assert sync_names(fake_idm) == [B["name"], A["name"]]
    assert result["diff"][-1]["after"] == {"order": [B["name"], A["name"]]}


def test_absent_removes_named_only(fake_idm, run_module, idm_args):
    fake_idm.configs["sync"] = {"mappings": [A, B, C]}
    result = run_module(mapping, dict(idm_args, name=B["name"], state="absent"))
    assert result["removed"] == [B["name"]] and sync_names(fake_idm) == [A["name"], C["name"]]
    result = run_module(mapping, dict(idm_args, name=B["name"], state="absent"))
    assert result["changed"] is False and len(fake_idm.calls_to("PUT", "config/sync")) == 1


def test_sync_config_missing_is_created(fake_idm, run_module, idm_args):
    result = run_module(mapping, dict(idm_args, mapping=A))
    assert result["changed"] and fake_idm.configs["sync"] == {"mappings": [A]}
    assert run_module(mapping, dict(idm_args, name="nothing", state="absent"))["changed"] is False


SCRIPT = {"type": "text/javascript", "source": "'CREATE'"}


@pytest.mark.parametrize(
    "mappings, expected",
    [
        ([{"source": "a", "target": "b"}], "mappings[0]: name is missing"),
        ([dict(A, source=None)], "mapping scimAccount_managedUser: source is required"),
        ([dict(A, target="")], "mapping scimAccount_managedUser: target is required"),
        ([A, dict(A)], "mapping name scimAccount_managedUser is used more than once (mappings[0] and mappings[1])"),
        ([dict(A, properties=[{"source": "x"}])], "mapping scimAccount_managedUser: property #1 has no target"),
        ([dict(A, properties={"a": 1})], "'properties' must be a list"),
        ([dict(A, policies=[{"action": "CREATE"}])], "policies[0] needs a 'situation'"),
        ([dict(A, name="a/b")], "the name must not contain '/'"),
        # what IDM refuses when it loads the mappings: situation and action names (case-sensitive), resource shapes
        (
            [dict(A, policies=[{"situation": "ABSENT", "action": "CRATE"}])],
            "mapping scimAccount_managedUser: unknown action CRATE for ABSENT (known: CREATE, UPDATE,",
        ),
        (
            [dict(A, policies=[{"situation": "ABSENT", "action": "create"}])],
            "unknown action create for ABSENT (names are upper case: CREATE)",
        ),
        (
            [dict(A, policies=[{"situation": "ABSENCE", "action": "CREATE"}])],
            "mapping scimAccount_managedUser: unknown situation ABSENCE",
        ),
        (
            [dict(A, policies=[{"situation": "found", "action": "UPDATE"}])],
            "unknown situation found (names are upper case: FOUND)",
        ),
        ([dict(A, policies=[{"situation": "ABSENT"}])], "policies[0] (ABSENT) needs an 'action'"),
        (
            [dict(A, policies=[{"situation": "ABSENT", "action": {"source": "'CREATE'"}}])],
            "the action for ABSENT is a script without 'type'",
        ),
        ([dict(A, source="system/scim")], "source 'system/scim' must be system/<connector>/<object type>"),
        ([dict(A, target="managed/user/x")], "target 'managed/user/x' must be managed/<object>"),
        ([dict(A, target="/managed/user")], "target '/managed/user' is not a resource path"),
        ([dict(A, target="user")], "target 'user' is not a resource path such as managed/user"),
    ],
)
def test_validation_before_any_request(fake_idm, run_module, idm_args, mappings, expected):
    result = run_module(mapping, dict(idm_args, mappings=mappings))
    assert result["failed"] and expected in result["msg"] and "nothing was written" in result["msg"]
    assert result["changed"] is False and expected in " ".join(result["problems"])
    assert fake_idm.calls == []


def test_valid_script_actions_and_cloud_names_pass(fake_idm, run_module, idm_args):
    policies = [
        {"situation": "MISSING", "action": SCRIPT, "postAction": SCRIPT},
        {"situation": "TARGET_CHANGED", "action": "INCORPORATE_CHANGES"},
    ]
    result = run_module(mapping, dict(idm_args, mappings=[dict(A, policies=policies)]))
    assert not result["failed"] and result["created"] == [A["name"]]


# --- links: IDM's LinkType/Match rule, against the given set and the server -----------------------------------

REVERSE = make(
    "managedUser_scimAccount", source="managed/user", target="system/scim/account", links="scimAccount_managedUser"
)


@pytest.mark.parametrize("storage", ["sync", "mapping"])
def test_links_to_the_reverse_mapping_in_the_set_or_on_the_server_pass(fake_idm, run_module, idm_args, storage):
    assert not run_module(mapping, dict(idm_args, mappings=[A, REVERSE], storage=storage))["failed"]
    other = "mapping" if storage == "sync" else "sync"  # A only in the other storage: still found
    fake_idm.configs.clear()
    run_module(mapping, dict(idm_args, mapping=A, storage=other))
    result = run_module(mapping, dict(idm_args, mapping=REVERSE, storage=storage))
    assert not result["failed"] and result["created"] == [REVERSE["name"]]


@pytest.mark.parametrize(
    "links, expected",
    [
        (
            "noSuchMapping",
            "mapping managedUser_scimAccount: links names unknown mapping noSuchMapping (neither given "
            "nor on the server); IDM refuses to load the mappings then",
        ),
        (
            "scimGroup_managedRole",
            "mapping managedUser_scimAccount: links names mapping scimGroup_managedRole, which "
            "goes from system/scim/group to managed/role; it must go the same way (managed/user "
            "to system/scim/account) or exactly the reverse way (system/scim/account to "
            "managed/user)",
        ),
    ],
)
def test_bad_links_are_refused_before_any_write(fake_idm, run_module, idm_args, links, expected):
    fake_idm.configs["sync"] = {"mappings": [A, C]}
    for check_mode in (True, False):
        result = run_module(mapping, dict(idm_args, mapping=dict(REVERSE, links=links)), check_mode=check_mode)
        assert result["failed"] and result["changed"] is False and result["problems"] == [expected]
        assert result["msg"] == "Invalid mapping input, nothing was written: " + expected
    assert fake_idm.writes() == []


def test_removing_or_moving_a_linked_mapping_is_refused(fake_idm, run_module, idm_args):
    fake_idm.configs["sync"] = {"mappings": [A, REVERSE]}
    removed = run_module(mapping, dict(idm_args, name=A["name"], state="absent"))
    assert removed["failed"] and removed["problems"] == [
        "mapping managedUser_scimAccount: links names mapping scimAccount_managedUser, which this task removes"
    ]
    pruned = run_module(mapping, dict(idm_args, mappings=[REVERSE], prune=True))
    assert pruned["failed"] and "which this task removes" in pruned["msg"]
    moved = run_module(mapping, dict(idm_args, mapping=dict(A, target="managed/role")))
    assert (
        moved["failed"]
        and "links names mapping scimAccount_managedUser, which goes from system/scim/account to managed/role"
        in moved["msg"]
    )
    assert fake_idm.writes() == []
    both = run_module(mapping, dict(idm_args, mappings=[REVERSE, A], state="absent"))
    assert not both["failed"] and sorted(both["removed"]) == sorted([A["name"], REVERSE["name"]])


def test_a_name_in_both_storages_is_reported(fake_idm, run_module, idm_args):
    fake_idm.configs["sync"] = {"mappings": [A]}
    fake_idm.configs["mapping/" + A["name"]] = dict(A, enableSync=False)
    result = run_module(mapping, dict(idm_args, mapping=B))
    assert not result["failed"] and result["shadowed"] == [A["name"]]
    assert result.warning_texts == [
        "Mapping scimAccount_managedUser is defined both in config/sync and as config/mapping/<name>; IDM runs only "
        "one of the two definitions: remove the other."
    ]
    fake_idm.configs.pop("mapping/" + A["name"])
    result = run_module(mapping, dict(idm_args, mapping=B))
    assert result["shadowed"] == [] and not result.warning_texts


def test_name_conflict_and_input_rules(fake_idm, run_module, idm_args):
    result = run_module(mapping, dict(idm_args, name="other", mapping=A))
    assert result["failed"] and "give one name" in result["msg"]
    result = run_module(mapping, dict(idm_args, name="x"))
    assert result["failed"] and "needs the mapping itself" in result["msg"]
    result = run_module(mapping, dict(idm_args, name="x", state="absent", prune=True))
    assert result["failed"] and "prune=true needs state=present" in result["msg"]
    result = run_module(mapping, dict(idm_args, template="sync.json.j2"))
    assert result["failed"] and "action plugin" in result["msg"]
    assert fake_idm.calls == []


@pytest.mark.parametrize("query_supported", [True, False])
def test_storage_mapping_per_config(fake_idm, run_module, idm_args, query_supported):
    fake_idm.config_query_supported = query_supported
    args = dict(idm_args, storage="mapping")
    result = run_module(mapping, dict(args, mappings=[A, B]))
    assert result["created"] == [A["name"], B["name"]]
    assert fake_idm.configs["mapping/" + A["name"]] == A and "sync" not in fake_idm.configs
    # one query; a server that refuses it is not asked again but listed and read one by one
    assert len([c for c in fake_idm.calls if c[0] == "GET" and "_queryFilter" in c[2]]) == 1
    assert run_module(mapping, dict(args, mappings=[A, B]))["changed"] is False
    changed_a = dict(A, enableSync=False)
    writes_so_far = len(fake_idm.writes())
    checked = run_module(mapping, dict(args, mappings=[changed_a], prune=True), check_mode=True, diff=True)
    assert checked["updated"] == [A["name"]] and checked["removed"] == [B["name"]]
    assert len(fake_idm.writes()) == writes_so_far
    real = run_module(mapping, dict(args, mappings=[changed_a], prune=True), diff=True)
    assert real["diff"] == checked["diff"] and real["changed"]
    assert fake_idm.configs == {"mapping/" + A["name"]: changed_a}  # the update written, B pruned
    assert run_module(mapping, dict(args, name=A["name"], state="absent"))["removed"] == [A["name"]]
    assert fake_idm.configs == {}


def test_api_error_names_the_request(fake_idm, run_module, idm_args):
    fake_idm.fail("PUT", r"config/sync", 403, "Access denied")
    result = run_module(mapping, dict(idm_args, mapping=A))
    assert result["failed"] and result["msg"].startswith("PUT config/sync on http://idm.test:8080/openidm failed")


def test_input_not_modified_between_runs(fake_idm, run_module, idm_args):
    original = copy.deepcopy(A)
    run_module(mapping, dict(idm_args, mapping=A))
    assert original == A


def test_shadowed_is_the_state_after_the_task(fake_idm, run_module, idm_args):
    fake_idm.configs["mapping/" + A["name"]] = A
    for check_mode in (True, False):
        result = run_module(mapping, dict(idm_args, mapping=A), check_mode=check_mode)
        assert result["changed"] is True and result["shadowed"] == [A["name"]] and len(result.warning_texts) == 1
    removed = run_module(mapping, dict(idm_args, name=A["name"], state="absent"))
    assert removed["removed"] == [A["name"]] and removed["shadowed"] == [] and not removed.warning_texts
