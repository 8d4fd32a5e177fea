"""One situation assessment of a run (``Entry``) and the failures an entry can end in: IDM's
SynchronizationException as ``sync_failure()`` records it, ``EntryFailure`` raised by an action.
"""

from __future__ import annotations

from typing import Any

from ..errors import html_escape


class EntryFailure(Exception):
    """One entry failed (status FAILURE); the run goes on."""


class Canceled(Exception):
    pass


class Entry:
    """One situation assessment: a source and/or target object with a link qualifier."""

    __slots__ = (
        "action",
        "ambiguous",
        "failure",
        "linked",
        "old_source",
        "phase",
        "qualifier",
        "situation",
        "source",
        "source_id",
        "status",
        "target",
        "target_id",
    )

    def __init__(self, phase: str, qualifier: str) -> None:
        self.phase = phase
        self.qualifier = qualifier
        self.source = self.source_id = self.target = self.target_id = None
        self.old_source = None  # implicit sync of an update/delete: the source before the change
        self.linked = False
        self.situation = None
        self.ambiguous = None
        self.action = None
        self.status = None  # SUCCESS / FAILURE once recorded
        self.failure = None  # {"message", "messageDetail", "exception"} of the SynchronizationException


SYNC_EXCEPTION = "org.forgerock.openidm.sync.SynchronizationException"


def sync_failure(message: str, wrapped: bool = True) -> dict[str, Any]:
    """What IDM's ``ObjectMapping.setLogEntryMessage()`` records for a SynchronizationException.

    Failures raised while an action is performed (a refused write, an EXCEPTION policy, "no target object to
    link") are wrapped twice by ``SyncOperation.performAction()`` (``new SynchronizationException(e)`` around the
    thrown one), so the audit ``message`` is ``"<m>. Root cause: <root m>"`` and ``messageDetail`` is the inner
    exception's JSON (``{"code": 409, "reason": "Conflict", "message": <m>}``; OpenIDM ObjectMapping.java
    L884-905, SyncOperation.java L426-572). The sandbox has no deeper root cause than the message itself.
    """
    if not wrapped:
        return {"message": message, "messageDetail": None, "exception": f"{SYNC_EXCEPTION}: {message}"}
    return {
        "message": f"{message}. Root cause: {message}",
        "messageDetail": {"code": 409, "reason": "Conflict", "message": html_escape(message)},
        "exception": f"{SYNC_EXCEPTION}: {message}\nCaused by: {SYNC_EXCEPTION}: {message}",
    }
