"""The managed-object service as the internal router sees it: ``managed/<name>`` (objects) and
``managed/<name>/<id>/<relationship field>`` (relationship collections), for ``openidm.*`` in scripts and the sync
engine."""

from __future__ import annotations

from ..crest import Paging, parse_fields
from ..router import ResourceProvider
from .service import ManagedService


class ManagedProvider(ResourceProvider):
    def __init__(self, managed: ManagedService) -> None:
        self.managed = managed

    @staticmethod
    def _split_rel(resource: str) -> tuple[str, str, str] | None:
        parts = resource.strip("/").split("/")
        if len(parts) == 4:
            return "/".join(parts[:2]), parts[2], parts[3]
        return None

    def create(self, resource, obj, id=None, context=None):
        rel = self._split_rel(resource)
        if rel:
            return self.managed.rel_create(*rel, obj)
        return self.managed.create_object(resource, obj, id, context=context)

    def read(self, resource, id, fields=None, context=None):
        rel = self._split_rel(resource)
        if rel:
            return self.managed.rel_read(*rel, id)
        return self.managed.read_object(resource, id, fields)

    def update(self, resource, id, obj, rev=None, context=None):
        return self.managed.update_object(resource, id, obj, rev, context=context)

    def patch(self, resource, id, ops, rev=None, context=None):
        return self.managed.patch_object(resource, id, ops, rev, context=context)

    def delete(self, resource, id, rev=None, context=None):
        rel = self._split_rel(resource)
        if rel:
            return self.managed.rel_delete(*rel, id)
        return self.managed.delete_object(resource, id, rev, context=context)

    def query(self, resource, query_filter="true", fields=None, page_size=None, cookie=None, context=None):
        if isinstance(fields, str):
            fields = parse_fields(fields)
        rel = self._split_rel(resource)
        if rel:
            return self.managed.rel_query(*rel, query_filter, fields, Paging(page_size, cookie))
        return self.managed.query_objects(resource, query_filter, fields=fields, paging=Paging(page_size, cookie))
