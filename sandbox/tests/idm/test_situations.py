"""The situation decisions (contract §5.1) as the pure functions the engine calls, one row per branch; the
end-to-end tests (test_sync_situations.py) show that the engine gathers the facts as IDM does."""

from __future__ import annotations

import pytest

from sandbox.idm.sync import situations


@pytest.mark.parametrize(
    ("qualifies", "target_exists", "expected"),
    [
        (True, True, "CONFIRMED"),
        (True, False, "MISSING"),
        (False, True, "UNQUALIFIED"),
        (False, False, "UNQUALIFIED"),
    ],
)
def test_linked_source(qualifies, target_exists, expected):
    assert situations.linked_source(qualifies, target_exists) == expected


@pytest.mark.parametrize(
    ("qualifies", "candidates", "owner", "expected"),
    [
        (True, [], None, "ABSENT"),
        (True, ["t1"], None, "FOUND"),
        (True, ["t1"], "s1", "FOUND"),  # linked to this very source
        (True, ["t1"], "s2", "FOUND_ALREADY_LINKED"),
        (True, ["t1", "t2"], None, "AMBIGUOUS"),
        (False, [], None, "SOURCE_IGNORED"),
        (False, ["t1"], None, "UNQUALIFIED"),
        (False, ["t1", "t2"], None, "UNQUALIFIED"),
    ],
)
def test_unlinked_source(qualifies, candidates, owner, expected):
    assert situations.unlinked_source(qualifies, candidates, owner, "s1") == expected


@pytest.mark.parametrize(
    ("target_exists", "target_valid", "expected"),
    [
        (True, True, "SOURCE_MISSING"),
        (True, False, "TARGET_IGNORED"),
        (False, False, "LINK_ONLY"),
    ],
)
def test_gone_linked_source(target_exists, target_valid, expected):
    assert situations.gone_linked_source(target_exists, target_valid) == expected


@pytest.mark.parametrize(
    ("candidates", "old_valid", "expected"),
    [
        ([], False, "ALL_GONE"),
        (["t1"], True, "UNASSIGNED"),
        (["t1"], False, "TARGET_IGNORED"),
        (["t1", "t2"], True, "AMBIGUOUS"),
        (["t1", "t2"], False, "UNQUALIFIED"),
    ],
)
def test_gone_unlinked_source(candidates, old_valid, expected):
    assert situations.gone_unlinked_source(candidates, old_valid) == expected


@pytest.mark.parametrize(
    ("valid", "linked", "source_exists", "qualifies", "expected"),
    [
        (False, True, True, True, "TARGET_IGNORED"),
        (True, False, False, False, "UNASSIGNED"),
        (True, True, False, False, "SOURCE_MISSING"),
        (True, True, True, True, "CONFIRMED"),
        (True, True, True, False, "UNQUALIFIED"),
    ],
)
def test_target_phase(valid, linked, source_exists, qualifies, expected):
    assert situations.target(valid, linked, source_exists, qualifies) == expected
