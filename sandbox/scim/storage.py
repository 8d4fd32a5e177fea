"""The store of the sandbox SCIM provider: scim2-server's ``InMemoryStorage`` with the gaps closed.

scim2-server 0.8.3 is a conformant SCIM 2.0 server, but its in-memory storage lacks what an IDM sync test relies on.
``ProviderStorage`` subclasses it (and leans on a few of its private helpers, hence the exact pin) to add:

* ``User.groups`` is computed from the groups' ``members`` (``value``, ``$ref``, ``display``, ``type: direct``). It is
  kept on the stored user, so ``groups.value eq "..."`` filters work too.
* Group ``members`` get ``$ref`` and ``type`` (``User``/``Group``) from the stored member, and a ``display`` when the
  client sent none (a client-sent display is kept). Duplicate member values are merged.
* A member id that does not exist is refused with 400 ``invalidValue`` (``strict_members=False`` accepts it as is).
* Deleting a user or a group removes it from every group it was a member of; such a group gets a new version and
  ``lastModified``.
* Paging without ``sortBy`` walks the resources in creation order and slices: no sort of the whole collection per
  page (the stock storage sorts everything on every request). With ``sortBy`` or a cursor, the stock code runs.
  Such a search returns the stored objects rather than deep copies (see ``search``).
* Resources keep their position on update, so index paging stays stable while objects change.
* Quirks (``sandbox.scim.quirks``) that change what is stored: ``compute_name_formatted`` sets ``name.formatted`` on
  every user write, ``bare_members`` keeps only the ``value`` of group members, ``omit_unassigned`` stores an empty
  string as unassigned.
* ``export_state_json()``/``load_state()`` give a JSON document for persistence; the version counter is part of it so
  ETags never go back after a restart. ``on_change`` is called after every write (the debounced state writer).
"""

from __future__ import annotations

import datetime
import itertools
import json
import typing
from collections.abc import Callable, Iterable
from typing import Any, Union, cast

from scim2_models import (
    InvalidValueException,
    Meta,
    Resource,
    ResourceType,
    ScimFilter,
    SearchRequest,
)
from scim2_server.memory import InMemoryStorage, _key, utcnow
from scim2_server.storage import SearchPage
from scim2_server.utils import parametrize

from sandbox.scim.quirks import (
    BARE_MEMBERS,
    COMPUTE_NAME_FORMATTED,
    OMIT_UNASSIGNED,
    formatted_name,
    without_unassigned,
)
from sandbox.scim.trusted import load_trusted

USER = "User"
GROUP = "Group"
ENDPOINTS = {USER: "Users", GROUP: "Groups"}
STATE_FORMAT = 1


def _item_model(model: type, field: str) -> type:
    """Return the model of the items of a multi-valued attribute, e.g. the class of ``User.groups`` entries."""
    annotation = model.model_fields[field].annotation
    for arg in typing.get_args(annotation):
        inner = typing.get_args(arg)
        if inner:
            return cast(type, inner[0])
    raise TypeError(f"{model.__name__}.{field} is not a multi-valued complex attribute")


class ProviderStorage(InMemoryStorage):
    """In-memory SCIM storage with computed group memberships, member checks, cheap paging and a state export."""

    def __init__(
        self,
        *,
        strict_members: bool = True,
        on_change: Callable[[], None] | None = None,
        clock: Callable[[], datetime.datetime] = utcnow,
        quirks: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(clock)
        self.strict_members = strict_members
        self.quirks = quirks
        self.on_change = on_change
        self._last_version = 0
        self._sequence: dict[tuple[str | None, str], int] = {}
        self._sequence_counter = itertools.count()
        # member id -> ordered set (dict) of the ids of the groups listing it
        self._member_of: dict[str, dict[str, None]] = {}
        self._dump_cache: dict[tuple[str | None, str], tuple[Resource[Any], str]] = {}

    # -- versions and change notification -------------------------------

    def next_version(self) -> str:
        with self.lock:
            self._last_version += 1
            return f'W/"{self._last_version}"'

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    # -- writes -----------------------------------------------------------

    def create(self, resource_type: ResourceType, resource: Resource[Any]) -> Resource[Any]:
        with self.lock:
            resource = self._prepare(resource_type, resource)
            created = super().create(resource_type, resource)
        self._changed()
        return created

    def update(
        self, resource_type: ResourceType, resource: Resource[Any], *, expected_version: str | None = None
    ) -> Resource[Any]:
        with self.lock:
            resource = self._prepare(resource_type, resource)
            updated = super().update(resource_type, resource, expected_version=expected_version)
        self._changed()
        return updated

    def delete(self, resource_type: ResourceType, resource_id: str, *, expected_version: str | None = None) -> None:
        with self.lock:
            super().delete(resource_type, resource_id, expected_version=expected_version)
            self._drop_member_everywhere(resource_id)
        self._changed()

    def _prepare(self, resource_type: ResourceType, resource: Resource[Any]) -> Resource[Any]:
        """Return a copy of an incoming resource with server-computed attributes filled and members checked."""
        resource = resource.model_copy(deep=True)
        if OMIT_UNASSIGNED in self.quirks:
            # An empty string is unassigned for this provider, like null and [] (RFC 7643 §2.5).
            resource = type(resource).model_validate(without_unassigned(resource.model_dump()))
        if resource_type.name == GROUP:
            resource.members = self._enriched_members(resource.members or [])
        elif COMPUTE_NAME_FORMATTED in self.quirks and resource.name is not None:
            # The server owns name.formatted: whatever the client sent is replaced.
            resource.name.formatted = formatted_name(resource.name.model_dump(by_alias=True))
        return resource

    def _enriched_members(self, members: list[Any]) -> list[Any] | None:
        enriched = []
        seen: set[str] = set()
        for member in members:
            if not member.value:
                raise InvalidValueException(detail="A group member needs a value")
            if member.value in seen:
                continue
            seen.add(member.value)
            found = self._find_member(member.value)
            if found is None:
                if self.strict_members:
                    raise InvalidValueException(detail=f"Group member {member.value!r} does not exist")
                enriched.append(member)
                continue
            if BARE_MEMBERS in self.quirks:
                enriched.append(type(member)(value=member.value))
                continue
            kind, target = found
            member.type = kind
            member.ref = f"{ENDPOINTS[kind]}/{member.value}"
            if not member.display:
                member.display = (
                    getattr(target, "display_name", None) or getattr(target, "user_name", None) or member.value
                )
            enriched.append(member)
        return enriched or None

    def _find_member(self, member_id: str) -> tuple[str, Resource[Any]] | None:
        for kind in (USER, GROUP):
            target = self._resources.get(kind, {}).get(member_id)
            if target is not None:
                return kind, target
        return None

    def _drop_member_everywhere(self, member_id: str) -> None:
        """Remove a deleted resource from every group listing it; each such group gets a new version."""
        for group_id in list(self._member_of.get(member_id, {})):
            group = self._resources.get(GROUP, {}).get(group_id)
            if group is None:
                continue
            changed = group.model_copy(deep=True)
            changed.members = [m for m in changed.members or [] if m.value != member_id] or None
            assert group.meta is not None
            changed.meta = group.meta.model_copy(update={"last_modified": self.clock(), "version": self.next_version()})
            self._store(changed, self._values_of(changed))
        self._member_of.pop(member_id, None)

    # -- the index behind User.groups ------------------------------------

    def _store(self, resource: Resource[Any], values: dict[str, Any]) -> None:
        """Keep a resource (at its old position when it already exists) and maintain the membership index.

        A copy of the stock ``_store`` without the pop, so updates keep the creation order used for paging.
        """
        key = _key(resource)
        kind, resource_id = key
        bucket = self._resources.setdefault(kind, {})
        previous = bucket.get(resource_id)
        if kind == USER:
            resource.groups = self._memberships_of(resource_id)
        self._unindex(key)
        if resource_id not in bucket:
            self._sequence[key] = next(self._sequence_counter)
        bucket[resource_id] = resource
        self._unique_values[key] = values
        for urn, value in values.items():
            self._owners.setdefault(urn, {})[value] = key
        for binding in self._equalities.get(kind, {}):
            self._index_equality(resource, binding)
        if kind == GROUP:
            self._reindex_group(previous, resource)

    def _unindex(self, key: tuple[str | None, str]) -> None:
        for urn, value in self._unique_values.pop(key, {}).items():
            del self._owners[urn][value]
        for binding, value in self._equal_values.pop(key, {}).items():
            self._equalities[key[0]][binding][value].discard(key[1])

    def _remove(self, key: tuple[str | None, str]) -> None:
        previous = self._resources.get(key[0], {}).get(key[1])
        super()._remove(key)
        self._sequence.pop(key, None)
        if key[0] == GROUP and previous is not None:
            self._reindex_group(previous, None)

    @staticmethod
    def _member_ids(group: Resource[Any] | None) -> list[str]:
        return [m.value for m in (group.members or []) if m.value] if group is not None else []

    def _reindex_group(self, previous: Resource[Any] | None, current: Resource[Any] | None) -> None:
        group_id = cast(str, (current or previous).id)  # type: ignore[union-attr]
        old_ids = set(self._member_ids(previous))
        new_ids = set(self._member_ids(current))
        for member_id in old_ids - new_ids:
            groups = self._member_of.get(member_id)
            if groups is not None:
                groups.pop(group_id, None)
                if not groups:
                    del self._member_of[member_id]
        for member_id in new_ids - old_ids:
            self._member_of.setdefault(member_id, {})[group_id] = None
        renamed = previous is not None and current is not None and previous.display_name != current.display_name
        affected = (old_ids ^ new_ids) | (new_ids if renamed else set())
        users = self._resources.get(USER, {})
        for member_id in affected:
            user = users.get(member_id)
            if user is not None:
                # No new version: the user itself did not change, only a derived, read-only attribute.
                refreshed = user.model_copy()
                refreshed.groups = self._memberships_of(member_id)
                users[member_id] = refreshed

    def _memberships_of(self, user_id: str) -> list[Any] | None:
        group_ids = self._member_of.get(user_id)
        if not group_ids:
            return None
        user_model = self._user_model
        if user_model is None:
            return None
        membership = _item_model(user_model, "groups")
        groups = self._resources.get(GROUP, {})
        return [
            membership(value=gid, ref=f"Groups/{gid}", display=groups[gid].display_name, type="direct")
            for gid in group_ids
            if gid in groups
        ] or None

    _user_model: type | None = None

    def bind_models(self, user_model: type, group_model: type) -> None:
        """Tell the storage the models of the provider (needed to build ``User.groups`` entries and load state)."""
        self._user_model = user_model
        self._group_model = group_model

    # -- search -------------------------------------------------------------

    def search(
        self, resource_types: list[ResourceType], search_request: SearchRequest[Any], *, position: Any = None
    ) -> SearchPage:
        if search_request.sort_by is not None or search_request.cursor is not None:
            return super().search(resource_types, search_request, position=position)
        with self.lock:
            names = list(dict.fromkeys(rt.name for rt in resource_types))
            start = search_request.start_index_0 or 0
            stop = None if search_request.count is None else start + search_request.count
            scim_filter = search_request.filter
            if scim_filter is None:
                buckets = [self._resources.get(name, {}) for name in names]
                total = sum(len(bucket) for bucket in buckets)
                chosen = list(itertools.islice(itertools.chain.from_iterable(b.values() for b in buckets), start, stop))
            else:
                # Same filtering as the stock search; only its sort of every match on every page is skipped.
                candidates = self._candidates(names, scim_filter)
                if not scim_filter.models and candidates:
                    models = tuple(dict.fromkeys(type(r) for r in candidates))
                    scim_filter = parametrize(ScimFilter, Union[models])(str(scim_filter))  # noqa: UP007
                found = [r for r in candidates if scim_filter.match(r)]
                if len(found) > 1:
                    found.sort(key=lambda r: self._sequence.get(_key(r), 0))
                total = len(found)
                chosen = found[start:stop]
            # The stored objects themselves, not copies: they are never mutated (a write replaces them), and the
            # service only publishes copies of them. Their identity lets the service reuse serialized forms.
            return SearchPage(total, chosen)

    # -- persistence --------------------------------------------------------

    def export_state_json(self) -> str:
        """Return the whole store as JSON text. Unchanged resources reuse their serialized text, so a write of a
        big store costs a string join instead of a pydantic dump and a JSON encoding of every resource."""
        with self.lock:
            items = [
                ((kind, resource_id), resource)
                for kind in (USER, GROUP)
                for resource_id, resource in self._resources.get(kind, {}).items()
            ]
            last_version = self._last_version
        cache: dict[tuple[str | None, str], tuple[Resource[Any], str]] = {}
        parts = []
        for key, resource in items:
            hit = self._dump_cache.get(key)
            if hit is None or hit[0] is not resource:
                hit = (resource, json.dumps(resource.model_dump(), separators=(",", ":")))
            cache[key] = hit
            parts.append(hit[1])
        self._dump_cache = cache
        return f'{{"format":{STATE_FORMAT},"lastVersion":{last_version},"resources":[{",".join(parts)}]}}'

    def export_state(self) -> dict[str, Any]:
        """The state as a dict (see ``export_state_json``)."""
        return cast(dict[str, Any], json.loads(self.export_state_json()))

    def load_state(self, state: dict[str, Any]) -> None:
        """Replace the store with an exported state."""
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"unsupported state format {state.get('format')!r}")
        models = {USER: self._user_model, GROUP: self._group_model}
        pairs = []
        for data in state.get("resources", []):
            kind = (data.get("meta") or {}).get("resourceType")
            if kind not in models:
                raise ValueError(f"state holds a resource of unknown type {kind!r}")
            pairs.append((models[kind], data))
        resources = load_trusted(pairs)
        # Groups first: users then get their computed groups as they are stored (the stable sort keeps the order
        # within each type, which is the paging order).
        loaded = sorted(
            zip(resources, (data for _, data in pairs), strict=True),
            key=lambda pair: pair[0].meta.resource_type != GROUP,
        )
        with self.lock:
            self._reset()
            self._store_loaded(loaded)
            self._last_version = max(int(state.get("lastVersion", 0)), self._last_version)

    def load_resources(self, users: Iterable[dict[str, Any]], groups: Iterable[dict[str, Any]]) -> None:
        """Add resources that carry their ids (seed data); meta is filled here. Members are trusted as given."""
        now = self.clock()
        stamp = now.isoformat().replace("+00:00", "Z")  # the spelling scim2-models dumps
        pairs = [(self._group_model, data) for data in groups] + [(self._user_model, data) for data in users]
        resources = load_trusted(pairs)
        loaded = []
        with self.lock:
            for resource, (model, data) in zip(resources, pairs, strict=True):
                kind = GROUP if model is self._group_model else USER
                version = self.next_version()
                resource.meta = Meta(resource_type=kind, created=now, last_modified=now, version=version)
                meta = {"resourceType": kind, "created": stamp, "lastModified": stamp, "version": version}
                loaded.append((resource, {**data, "meta": meta}))
            self._store_loaded(loaded)
        self._changed()

    def _store_loaded(self, loaded: list[tuple[Resource[Any], dict[str, Any]]]) -> None:
        """Store loaded resources and prime the state-file cache with the text they came from.

        A user's saved ``groups`` are ignored on load (they are recomputed), so the source text is a faithful
        serialized form even where it lacks them.
        """
        for resource, _data in loaded:
            self._store(resource, self._values_of(resource))
        for resource, data in loaded:
            key = _key(resource)
            if self._resources.get(key[0], {}).get(key[1]) is resource:
                self._dump_cache[key] = (resource, json.dumps(data, separators=(",", ":")))

    def _reset(self) -> None:
        self._resources = {}
        self._owners = {}
        self._unique_values = {}
        self._equalities = {}
        self._equal_values = {}
        self._sequence = {}
        self._member_of = {}
        self._dump_cache = {}

    def is_stored(self, resource: Resource[Any]) -> bool:
        """Whether this very object is the current stored version (not a copy, not an older version)."""
        kind = resource.meta.resource_type if resource.meta else None
        return self._resources.get(kind, {}).get(cast(str, resource.id)) is resource

    def count(self, kind: str) -> int:
        with self.lock:
            return len(self._resources.get(kind, {}))
