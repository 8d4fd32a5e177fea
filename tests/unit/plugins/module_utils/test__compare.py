# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.idmops.pingidm.plugins.module_utils import _compare as c

CRYPTO_A = {"$crypto": {"type": "x-simple-encryption", "value": {"data": "AAA", "iv": "1"}}}
CRYPTO_B = {"$crypto": {"type": "x-simple-encryption", "value": {"data": "BBB", "iv": "2"}}}


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ({"x": 1, "y": [1, 2]}, {"y": [1, 2], "x": 1}, True),  # key order
        ([1, 2], [2, 1], False),  # list order counts
        (True, 1, False),
        (1, 1.0, True),
        ("10", 10, False),
        (None, {}, False),
        ({"a": {"b": [{"c": False}]}}, {"a": {"b": [{"c": False}]}}, True),
        ({"a": 1}, {"a": 1, "b": None}, False),
    ],
)
def test_same_is_strict(a, b, expected):
    assert c.same(a, b) is expected


def test_normalise_drops_bookkeeping_and_paths():
    doc = {"_id": "sync", "_rev": "3", "mappings": [{"_id": "sync/a", "name": "a"}, {"name": "b"}]}
    assert c.normalise(doc, drop=[("mappings", "*", "_id")]) == {"mappings": [{"name": "a"}, {"name": "b"}]}
    assert doc["_id"] == "sync"  # input untouched
    assert c.normalise(None) is None


def test_drop_server_added_only_when_user_did_not_set_it():
    before = {"name": "x", "serverDefault": 5}
    assert c.drop_server_added(before, {"name": "x"}, [("serverDefault",)]) == {"name": "x"}
    assert c.drop_server_added(before, {"name": "x", "serverDefault": 6}, [("serverDefault",)]) == before


def test_compare_equal_and_differences():
    assert c.compare({"a": 1, "b": [1]}, {"b": [1], "a": 1}).equal
    result = c.compare({"a": 1, "b": {"c": 2}}, {"a": 1, "b": {"c": 3}, "d": 0})
    assert not result.equal
    assert result.differences == ["b.c", "d"]


def test_compare_lists_of_different_length_differ():
    assert not c.compare({"l": [1, 2]}, {"l": [1, 2, 3]}).equal


def test_crypto_identical_is_equal_without_policy():
    result = c.compare({"p": {"password": CRYPTO_A}}, {"p": {"password": CRYPTO_A}})
    assert result.equal and result.equal_secrets == [("p", "password")]


def test_crypto_vs_clear_differs_without_policy_and_uses_policy_when_given():
    stored = {"configurationProperties": {"clientSecret": CRYPTO_A, "user": "u"}}
    desired = {"configurationProperties": {"clientSecret": "s3cret", "user": "u"}}
    result = c.compare(stored, desired)
    assert not result.equal
    assert result.changed_secrets == [("configurationProperties", "clientSecret")]
    seen = []

    def policy(path, stored_value, desired_value):
        seen.append((path, stored_value, desired_value))
        return True

    result = c.compare(stored, desired, secret_equal=policy)
    assert result.equal and result.changed_secrets == []
    assert seen == [(("configurationProperties", "clientSecret"), CRYPTO_A, "s3cret")]


def test_new_and_removed_secrets():
    result = c.compare({"p": {}}, {"p": {"password": "x"}})
    assert result.changed_secrets == [("p", "password")] and not result.equal
    result = c.compare({"p": {"password": CRYPTO_A}}, {"p": {}})
    assert result.changed_secrets == [] and not result.equal


def test_clear_secret_keys_compared_plainly():
    assert c.compare({"password": "a"}, {"password": "a"}).equal_secrets == [("password",)]
    result = c.compare({"password": "a"}, {"password": "b"})
    assert result.changed_secrets == [("password",)]


def test_mask_hides_crypto_and_secret_values_but_not_structure():
    doc = {
        "configurationProperties": {
            "clientSecret": "s3cret-value",
            "password": CRYPTO_B,
            "user": "bob",
            "credentials": ["c1", "c2"],
            "keyPassword": 314159,  # a number, as unquoted YAML gives it
        },
        "objectTypes": {"account": {"properties": {"password": {"type": "string"}}}},
        "enabled": True,
    }
    masked = c.mask(doc)
    text = json.dumps(masked)
    assert "s3cret-value" not in text and "BBB" not in text and "c1" not in text
    assert masked["configurationProperties"] == {
        "clientSecret": "********",
        "password": {"$crypto": "********"},
        "user": "bob",
        "credentials": ["********", "********"],
        "keyPassword": "********",
    }
    assert masked["objectTypes"]["account"]["properties"]["password"] == {"type": "string"}
    assert masked["enabled"] is True
    assert doc["configurationProperties"]["clientSecret"] == "s3cret-value"  # input untouched


def test_diff_marks_changed_secret_and_handles_absent():
    before = {"p": {"password": CRYPTO_A}}
    after = {"p": {"password": "new"}}
    d = c.diff(before, after, changed_secrets=[("p", "password")])
    assert d == {
        "before": {"p": {"password": {"$crypto": "********"}}},
        "after": {"p": {"password": "******** (changed)"}},
    }
    assert c.diff(None, {"a": 1}) == {"before": {}, "after": {"a": 1}}
    assert c.diff({"a": 1}, None) == {"before": {"a": 1}, "after": {}}


def test_secret_values_collects_clear_secrets_only():
    doc = {"a": {"password": "pw1", "clientSecret": CRYPTO_A, "user": "u"}, "l": [{"authToken": "t1"}]}
    assert c.secret_values(doc) == {"pw1", "t1"}


def test_get_and_set_path():
    doc = {"a": [{"b": 1}]}
    c.set_path(doc, ("a", 0, "b"), 2)
    assert c.get_path(doc, ("a", 0, "b")) == 2


def test_merge_is_a_json_merge_patch_with_named_lists():
    stored = {
        "a": {"x": 1, "y": 2},
        "list": [1, 2],
        "named": [{"name": "n1", "v": 1, "w": 1}, {"name": "n2"}],
        "secret": {"$crypto": {"value": {"data": "d", "iv": "i"}}},
        "gone": True,
    }
    patch = {
        "a": {"y": 3},
        "list": [3],
        "named": [{"name": "n1", "v": 2}, {"name": "n3"}],
        "secret": {"$crypto": {"value": {"data": "e"}}},
        "gone": None,
        "new": {"k": None, "j": 1},
    }
    before = copy.deepcopy((stored, patch))
    assert c.merge(stored, patch) == {
        "a": {"x": 1, "y": 3},
        "list": [3],
        "named": [{"name": "n1", "v": 2, "w": 1}, {"name": "n2"}, {"name": "n3"}],
        "secret": {"$crypto": {"value": {"data": "e"}}},  # a secret is replaced, never merged
        "new": {"j": 1},
    }
    assert (stored, patch) == before
    assert c.merge({"l": [{"name": "a"}]}, {"l": [{"x": 1}]}) == {"l": [{"x": 1}]}  # not all named: replaced
    assert c.merge({"l": ["a"]}, {"l": [{"name": "a"}]}) == {"l": [{"name": "a"}]}
    assert c.merge(None, {"a": None, "b": 1}) == {"b": 1}
