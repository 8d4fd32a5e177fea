"""The actions of a synchronization entry (contract §5.2): CREATE, UPDATE, DELETE, LINK and UNLINK with their
``onCreate``/``onUpdate``/``onDelete``/``onLink``/``onUnlink`` scripts, as OpenIDM's SyncOperation performs them.
EXCEPTION, IGNORE, REPORT, NOREPORT and ASYNC change nothing.
"""

from __future__ import annotations

import time
from typing import Any

from ..crest import copy_json, strict_equal
from ..errors import IdmError
from .buffers import LinkBook
from .compare import same_target
from .entries import Entry, EntryFailure
from .mapping import ACTIONS, DEFAULT_ACTIONS
from .prefetch import Targets
from .properties import PropertyMapper
from .scope import RunScope
from .scripting import ScriptError


class Actions:
    def __init__(self, scope: RunScope, links: LinkBook, targets: Targets, properties: PropertyMapper) -> None:
        self.scope = scope
        self.mapping = scope.mapping
        self.run = scope.run
        self.links = links
        self.targets = targets
        self.properties = properties

    def choose(self, entry: Entry) -> tuple[str, dict | None]:
        """``(action, policy)`` for the entry's situation: the first policy of the mapping for it whose
        ``condition`` holds (its ``action`` may be a script), else the default action (policy None)."""
        scope, mapping = self.scope, self.mapping
        for policy, condition in mapping.policy_for(entry.situation):
            if condition is not None and not condition.evaluate(
                scope.runner,
                entry.source,
                entry.qualifier,
                f"{mapping.name} policy {entry.situation} condition",
                {"target": entry.target},
            ):
                continue
            action = policy.get("action")
            if isinstance(action, dict):
                action = scope.run_script(
                    action,
                    scope.bindings(
                        source=entry.source,
                        target=entry.target,
                        sourceAction=entry.phase == "source",
                        linkQualifier=entry.qualifier,
                        situation=entry.situation,
                        recon={
                            "actionParam": {
                                "reconId": self.run.id,
                                "mapping": mapping.name,
                                "situation": entry.situation,
                            }
                        },
                    ),
                    f"{mapping.name} policy {entry.situation} action",
                    "activePolicyScript",
                )
            if action not in ACTIONS:
                raise ScriptError(f"{mapping.name}: invalid action {action!r} for {entry.situation}")
            return action, policy
        return DEFAULT_ACTIONS[entry.situation], None

    def post_action(self, entry: Entry, action: str, policy: dict | None) -> None:
        """The policy's ``postAction`` script, after the action (not after IGNORE or ASYNC)."""
        if policy is None or not policy.get("postAction") or action in ("IGNORE", "ASYNC"):
            return
        scope = self.scope
        scope.run_script(
            policy["postAction"],
            scope.bindings(
                source=entry.source,
                target=entry.target,
                linkQualifier=entry.qualifier,
                situation=entry.situation,
                action=action,
                sourceAction=entry.phase == "source",
                reconId=None if scope.implicit else self.run.id,
            ),
            f"{self.mapping.name} policy {entry.situation} postAction",
            "activePolicyPostActionScript",
        )

    def perform(self, entry: Entry, action: str) -> None:
        if action == "CREATE":
            self.create(entry)
        elif action == "UPDATE":
            self.update(entry)
        elif action == "DELETE":
            self.delete(entry)
        elif action == "LINK":
            if entry.target_id is None:
                raise EntryFailure("no target object to link")
            self.link(entry)
        elif action == "UNLINK":
            self.unlink(entry)

    def _script(
        self, event: str, entry: Entry, target: dict | None, modifying: bool = False, old_target: dict | None = None
    ) -> Any:
        """Run the mapping's ``on<Event>`` script, if any (timed as ``on<Event>Script``); a modifying one
        (onCreate/onUpdate) returns the target it changed."""
        script = self.mapping.scripts.get(event)
        if not script:
            return target
        started = time.perf_counter()
        bindings = self.scope.script_bindings(entry, target, old_target=old_target)
        where = f"{self.mapping.name} {event}"
        if modifying:
            target = self.scope.runner.run_modifying(script, bindings, "target", where)
        else:
            self.scope.runner.run(script, bindings, where)
        self.scope.timed(f"{event}Script", started)
        return target

    # --- links ---------------------------------------------------------------------------------------------------
    def link(self, entry: Entry) -> None:
        owner = self.links.source_of(entry.qualifier, entry.target_id)
        if owner is not None and owner != entry.source_id:
            raise EntryFailure(
                f"Target {self.mapping.target}/{entry.target_id} is already linked to source "
                f"{self.mapping.source}/{owner}"
            )
        if not self.links.add(entry.qualifier, entry.source_id, entry.target_id):
            entry.linked = True
            return
        self.run.links_created += 1
        entry.linked = True
        self._script("onLink", entry, entry.target)

    def unlink(self, entry: Entry) -> None:
        qualifier = entry.qualifier
        target_id = self.links.target_of(qualifier, entry.source_id) if entry.source_id else None
        source_id = entry.source_id
        if target_id is None and entry.target_id is not None:
            source_id = self.links.source_of(qualifier, entry.target_id)
            if source_id is not None:
                target_id = entry.target_id
        if target_id is None:
            return
        self._script("onUnlink", entry, entry.target)  # before the link goes (SyncOperation.java L556-563)
        started = time.perf_counter()
        entry.source_id = entry.source_id or source_id
        self.links.remove(qualifier, source_id, target_id)
        entry.linked = False
        self.scope.timed("deleteLinkObject", started)

    def _pending(self, action: str, entry: Entry) -> dict | None:
        """The PendingActionContext a recon or an implicit sync passes with its CREATE/DELETE of a managed object
        (SyncOperation.performAction() does so for every CREATE/DELETE, L455-458, L535-538): IDM's sync service
        performs the LINK/UNLINK first thing in notifyCreate/notifyDelete, before it syncs the other mappings of
        that object, so a mapping that shares these links already sees the new link (PendingAction.java,
        SynchronizationService.java L238-268). None when nothing would pick it up."""
        scope = self.scope
        if scope.readings.implicit_sync != "on" or self.mapping.target.startswith("system/"):
            return None
        pending: dict[str, Any] = {
            "action": action,
            "mapping": self.mapping.name,
            "target": self.mapping.target,
            "performed": False,
        }

        def perform(obj: dict) -> None:
            if action == "LINK":
                entry.target_id, entry.target = obj["_id"], obj
                self.link(entry)
            else:
                self.unlink(entry)
            pending["performed"] = True

        pending["perform"] = perform
        return pending

    # --- target writes -------------------------------------------------------------------------------------------
    def create(self, entry: Entry) -> None:
        if entry.source is None:
            raise EntryFailure("no source object to create target from")
        target = self.properties.apply(entry.source, {}, entry.qualifier, old_source=entry.old_source)
        target = self._script("onCreate", entry, target, modifying=True)
        new_id = target.pop("_id", None)
        pending = self._pending("LINK", entry)
        created = self.scope.router.create(
            self.mapping.target, target, id=new_id, context={"pending": pending} if pending else None
        )
        self.run.target_counts["created"] += 1
        entry.target_id, entry.target = created["_id"], created
        self.targets.put(created["_id"], created)
        self.targets.seen.add(created["_id"])
        if pending and pending["performed"]:
            return
        owner = self.links.source_of(entry.qualifier, created["_id"])
        if owner is None or owner == entry.source_id:
            self.link(entry)

    def update(self, entry: Entry) -> None:
        if entry.target_id is None:
            raise EntryFailure("no target object to link")
        if not entry.linked or self.links.target_of(entry.qualifier, entry.source_id) != entry.target_id:
            self.link(entry)
        if entry.source is None or entry.target is None:
            return  # IDM applies the mappings only with both a source and a target (SyncOperation.java L522)
        old = entry.target
        new = self.properties.apply(
            entry.source, copy_json(old), entry.qualifier, old_source=entry.old_source, old_target=old
        )
        new = self._script("onUpdate", entry, new, modifying=True, old_target=old)
        if same_target(new, old):
            self.run.target_counts["unchanged"] += 1
            return
        changed = {
            key: value
            for key, value in new.items()
            if key not in ("_id", "_rev") and (key not in old or not strict_equal(value, old[key]))
        }
        removed = [key for key in old if key not in new and key not in ("_id", "_rev")]
        started = time.perf_counter()
        updated = self._write_changes(entry.target_id, changed, removed)
        self.scope.timed("updateTargetObject", started)
        self.run.target_counts["updated"] += 1
        merged = dict(old)
        for key in removed:
            merged.pop(key, None)
        merged.update(updated or changed)
        entry.target = merged
        self.targets.put(entry.target_id, merged)

    def _write_changes(self, target_id: str, changed: dict, removed: list[str]) -> dict | None:
        """Write the changed top-level keys (IDM sends the whole object with If-Match; same end state)."""
        router, target = self.scope.router, self.mapping.target
        if target.startswith("system/"):
            changes = dict(changed, **dict.fromkeys(removed))
            return router.update(target, target_id, changes) if changes else None
        operations = [{"operation": "replace", "field": "/" + key, "value": value} for key, value in changed.items()]
        operations += [{"operation": "remove", "field": "/" + key} for key in removed]
        return router.patch(target, target_id, operations) if operations else None

    def delete(self, entry: Entry) -> None:
        pending = None
        if entry.target_id is not None and entry.target is not None:
            self._script("onDelete", entry, entry.target)  # before the delete, as SyncOperation.java L540-545
            started = time.perf_counter()
            pending = self._pending("UNLINK", entry) if entry.linked else None
            try:
                self.scope.router.delete(
                    self.mapping.target, entry.target_id, context={"pending": pending} if pending else None
                )
            except IdmError as exc:
                if exc.code != 404:  # a forgiving delete, as IDM's
                    raise
            self.scope.timed("deleteTargetObject", started)
            self.run.target_counts["deleted"] += 1
            self.targets.put(entry.target_id, None)
        if pending and pending["performed"]:
            return
        if entry.linked or entry.source_id is not None:
            self.unlink(entry)
