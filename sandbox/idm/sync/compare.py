"""Whether an UPDATE would write: IDM compares the old target with the new one strictly
(``oldTarget.isEqualTo(target)``, SyncOperation.java L527); ``IDM_SANDBOX_LENIENT_UNCHANGED=1`` switches to "new
covers old" for diagnosis (see the engine's docstring).
"""

from __future__ import annotations

import os
from typing import Any

from ..crest import strict_equal

LENIENT_UNCHANGED = os.environ.get("IDM_SANDBOX_LENIENT_UNCHANGED") == "1"


def same_target(new: dict, old: dict) -> bool:
    """True when an UPDATE would not write: ``oldTarget.isEqualTo(target)`` (SyncOperation.java L527), or the
    lenient "new covers old" comparison with ``IDM_SANDBOX_LENIENT_UNCHANGED=1`` (see the module docstring)."""
    if LENIENT_UNCHANGED:
        return covers({k: v for k, v in new.items() if k not in ("_id", "_rev")}, old)
    return strict_equal(new, old)


def covers(new: Any, old: Any) -> bool:
    """Lenient comparison: ``new`` equals ``old`` when every key it sets has the same value in ``old``."""
    if new is None:
        return old is None
    if isinstance(new, dict):
        if not isinstance(old, dict):
            return False
        return all(
            covers(value, old.get(key)) if value is not None else old.get(key) is None for key, value in new.items()
        )
    if isinstance(new, list):
        if not isinstance(old, list) or len(new) != len(old):
            return False
        if all(isinstance(item, dict) for item in new):
            remaining = list(old)
            for item in new:
                match = next((i for i, candidate in enumerate(remaining) if covers(item, candidate)), None)
                if match is None:
                    return False
                remaining.pop(match)
            return True
        return all(covers(a, b) for a, b in zip(new, old, strict=True))
    if isinstance(new, bool) or isinstance(old, bool):
        return new is old or (new == old and type(new) is type(old))
    return new == old
