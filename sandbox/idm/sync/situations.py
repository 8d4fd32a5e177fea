"""Situation assessment (contract §5.1) as pure functions of the facts the engine gathered: whether the source
qualifies (``validSource``, ``sourceCondition``), whether a link exists and its target still does, what
correlation found, and whether a target is valid (``validTarget``). The engine gathers only the facts a decision
needs, in IDM's order (so scripts run as often as in IDM); these functions make the decision.

Sources: SourceSyncOperation.java L197-250 (a gone source) and L280-360, TargetSyncOperation (target phase).
"""

from __future__ import annotations

from collections.abc import Sequence


def linked_source(qualifies: bool, target_exists: bool) -> str:
    """A source with a link: CONFIRMED, MISSING (the linked target is gone) or UNQUALIFIED."""
    if not qualifies:
        return "UNQUALIFIED"
    return "CONFIRMED" if target_exists else "MISSING"


def unlinked_source(qualifies: bool, candidates: Sequence[str], owner: str | None, source_id: str | None) -> str:
    """A source without a link, after correlation found ``candidates``. ``owner``: the source a single candidate
    is already linked to (None when unlinked). A source that does not qualify is UNQUALIFIED when correlation
    finds targets, else SOURCE_IGNORED, as the contract's table says."""
    if not qualifies:
        return "UNQUALIFIED" if candidates else "SOURCE_IGNORED"
    if not candidates:
        return "ABSENT"
    if len(candidates) > 1:
        return "AMBIGUOUS"
    return "FOUND_ALREADY_LINKED" if owner not in (None, source_id) else "FOUND"


def gone_linked_source(target_exists: bool, target_valid: bool) -> str:
    """No source (reconById of a gone source, implicit sync of a delete) but a link: SOURCE_MISSING
    (TARGET_IGNORED when the target is not ``validTarget``), or LINK_ONLY when the target is gone too."""
    if not target_exists:
        return "LINK_ONLY"
    return "SOURCE_MISSING" if target_valid else "TARGET_IGNORED"


def gone_unlinked_source(candidates: Sequence[str], old_valid: bool) -> str:
    """No source and no link: the old value, when known, was correlated. None found: ALL_GONE; one: UNASSIGNED;
    several: AMBIGUOUS (TARGET_IGNORED / UNQUALIFIED when the old value is not ``validSource``)."""
    if not candidates:
        return "ALL_GONE"
    if len(candidates) == 1:
        return "UNASSIGNED" if old_valid else "TARGET_IGNORED"
    return "AMBIGUOUS" if old_valid else "UNQUALIFIED"


def target(target_valid: bool, linked: bool, source_exists: bool, source_qualifies: bool) -> str:
    """A target the source phase did not see: TARGET_IGNORED (not ``validTarget``), UNASSIGNED (no link),
    SOURCE_MISSING (linked, source gone), CONFIRMED or UNQUALIFIED (linked source does not qualify)."""
    if not target_valid:
        return "TARGET_IGNORED"
    if not linked:
        return "UNASSIGNED"
    if not source_exists:
        return "SOURCE_MISSING"
    return "CONFIRMED" if source_qualifies else "UNQUALIFIED"
