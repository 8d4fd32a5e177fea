"""Implicit synchronization: a change to a managed object is pushed through every mapping whose source is that
managed object, as IDM does (reading ``implicit_sync=on``, the default; ``off`` = the old sandbox, no push).

What IDM does, from the Java source (OpenIDM, same in WrenIDM), and what this module copies:

* ``ManagedObjectSet`` create/update/patch/delete call ``performSyncAction()`` after the repository write
  (ManagedObjectSet.java L601, L839-841, L1069-1071) with ``notifyCreate``/``notifyUpdate``/``notifyDelete``.
  An update that changes nothing is not written and not synchronized (L556, ObjectMapping.notifyUpdate L492-509).
  That holds for every writer: REST, scripts, and reconciliations (SyncOperation's SyncContext never disables
  sync). The value synchronized is the written object with its virtual properties and the relationship fields
  the request carried.
* ``SynchronizationService.syncAllMappings()`` (L177-235) runs the mappings in configuration order whose source
  is that object set and whose ``enableSync`` is not false; after the first failing mapping the others are
  SKIPPED. Each mapping runs ``ObjectMapping.doSourceSync()`` per link qualifier: situation, policy action, action,
  one ``audit/sync`` event each; a failure, or an EXCEPTION action, stops the other qualifiers.
* A failure is not returned to the REST caller: ``performSyncAction()`` catches it (L1761-1772), only an ``onSync``
  script hook of the managed object would see it (not modelled). The change to the managed object stands.
* No echo: a reconciliation or an implicit sync that CREATEs a managed object passes a PendingActionContext
  (LINK; SyncOperation.performAction() L455-458); the sync service performs that link first thing in
  ``notifyCreate`` (``PendingAction.handlePendingActions()``, L238-247), so a mapping that shares the links
  (``links`` = the creating mapping, exact reverse direction) assesses the new object as CONFIRMED against the
  very object the creating mapping read, and UPDATE writes nothing when the mapping round-trips. Same with UNLINK
  for a DELETE. An inbound recon's UPDATE of a managed object is pushed out the same way (CONFIRMED, written only
  if the outbound mapping produces a different target).

Not imitated: the ``onSync`` hook, queued synchronization (7.x), notifications through relationships
(``notifySelf``/``notify`` on relationship fields). The sandbox stops a chain of implicit syncs deeper than
``MAX_DEPTH`` (managed→managed mappings feeding each other) with a logged error; IDM would recurse until it fails.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

from ..errors import IdmError
from .engine import ReconEngine
from .entries import Entry
from .mapping import MappingRegistry
from .runstate import RunState
from .scope import SyncServices
from .scripting import ScriptError

log = logging.getLogger("sandbox.idm.sync")

MAX_DEPTH = 8


class ImplicitSync:
    def __init__(self, services: SyncServices, mappings: MappingRegistry) -> None:
        self.services = services
        self.mappings = mappings
        self.readings = services.readings
        self._local = threading.local()

    def syncs(self, resource: str) -> bool:
        """Whether a change to ``resource`` goes through any mapping (the managed service builds the values to
        synchronize, and notifies, only then; a pending LINK/UNLINK nobody would see is done by the action)."""
        if self.readings.implicit_sync != "on" or not self.mappings.available:
            return False
        return any(mapping.source == resource and mapping.enable_sync for mapping in self.mappings.mappings())

    def notify(
        self, event: str, resource: str, object_id: str, old: Any, new: Any, context: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """``event``: create/update/delete of ``resource/object_id``; ``old``/``new`` its values (None when not
        applicable). Returns the per-mapping results (``{"mapping", "result", "entries"}``); never raises."""
        if self.readings.implicit_sync != "on" or not self.mappings.available:
            return []
        pending = (context or {}).get("pending")
        if pending and pending.get("target") == resource and not pending.get("performed"):
            wanted = {"create": "LINK", "delete": "UNLINK"}.get(event)
            if pending.get("action") == wanted:
                try:
                    pending["perform"](new if event == "create" else old)
                except Exception:
                    log.exception(
                        "pending %s of %s for %s/%s failed", wanted, pending.get("mapping"), resource, object_id
                    )
        depth = getattr(self._local, "depth", 0)
        if depth >= MAX_DEPTH:
            log.error(
                "implicit sync of %s/%s not done: %d nested implicit syncs (mappings feed each other)",
                resource,
                object_id,
                depth,
            )
            return []
        self._local.depth = depth + 1
        try:
            return self._sync_all(event, resource, object_id, old, new, context)
        finally:
            self._local.depth = depth

    def _sync_all(self, event, resource, object_id, old, new, context):
        results = []
        failed = None
        initiator = (context or {}).get("initiator") or "openidm-admin"
        for mapping in self.mappings.mappings():
            if mapping.source != resource or not mapping.enable_sync:
                continue
            if failed is not None:
                results.append({"mapping": mapping.name, "result": "SKIPPED", "entries": []})
                continue
            run = RunState(f"{uuid.uuid4()}", mapping.name, action="sync", initiator=initiator)
            engine = ReconEngine(self.services, mapping, run, implicit=True)
            try:
                entries = sync_source(engine, object_id, new, old, deleted=event == "delete")
            except Exception as exc:
                log.exception("implicit sync of %s/%s through %s failed", resource, object_id, mapping.name)
                failed = str(exc)
                results.append({"mapping": mapping.name, "result": "FAILED", "entries": []})
                continue
            bad = next((e for e in entries if e.status == "FAILURE" or e.action == "EXCEPTION"), None)
            if bad is not None:
                failed = (bad.failure or {}).get("message") or f"{bad.situation} {bad.action}"
                log.warning(
                    "implicit sync of %s/%s through %s failed (%s %s): %s; the change to %s/%s stands",
                    resource,
                    object_id,
                    mapping.name,
                    bad.situation,
                    bad.action,
                    failed,
                    resource,
                    object_id,
                )
            results.append(
                {
                    "mapping": mapping.name,
                    "result": "FAILED" if bad is not None else "SUCCESSFUL",
                    "entries": [
                        {"situation": e.situation, "action": e.action, "status": e.status, "targetId": e.target_id}
                        for e in entries
                    ],
                }
            )
        return results


def sync_source(
    engine: ReconEngine, source_id: str, source: dict | None, old_source: dict | None = None, deleted: bool = False
) -> list[Entry]:
    """Push one change of a source object through the engine's mapping: ``ObjectMapping.doSourceSync()`` (OpenIDM
    ObjectMapping.java L399-440). One entry per link qualifier; the first entry that fails (or whose action is
    EXCEPTION, which doSourceSync rethrows) stops the others. Links are read one at a time (IDM's
    Link.getLinkForSource). Returns the entries."""
    entries = []
    scope = engine.scope
    for qualifier in engine.qualifiers(old_source if deleted else source):
        entry = Entry("source", qualifier)
        entry.source_id, entry.old_source = source_id, old_source
        entry.source = None if deleted else source
        entries.append(entry)
        try:
            engine.links.load_one(qualifier, source_id=source_id)
            target_id = engine.links.target_of(qualifier, source_id)
            if target_id is not None:
                entry.linked, entry.target_id = True, target_id
                entry.target = scope.read_or_none(scope.mapping.target, target_id, scope.fields("target"))
            engine.assess_source(entry)
        except (ScriptError, IdmError) as exc:
            engine.record_failure(entry, exc)
            break
        engine.handle(entry)
        if entry.status == "FAILURE" or entry.action == "EXCEPTION":
            break
    engine.flush()
    return entries
