"""IDM's internal router: the ``openidm.create/read/update/patch/delete/query/action`` calls that the sync engine
and scripts use, dispatched by resource prefix to a provider (``managed``, ``config``, ``system``, ...).

A provider implements the methods below with ``resource`` being the full resource path without the id, e.g.
``managed/user`` or ``system/scim/account``. Missing methods raise 501, as IDM does for unsupported operations.
"""

from __future__ import annotations

from typing import Any

from .errors import IdmError

# ``context`` of an internal call: who initiated it, and a pending link action of a recon (see sync/actions.py).
Context = dict[str, Any] | None
Fields = list[str] | str | None


class ResourceProvider:
    """Base class: every operation is unsupported until a provider implements it."""

    def create(self, resource: str, obj: Any, id: str | None = None, context: Context = None) -> Any:
        raise IdmError(501, f"Create not supported on {resource}")

    def read(self, resource: str, id: str | None, fields: Fields = None, context: Context = None) -> Any:
        raise IdmError(501, f"Read not supported on {resource}")

    def update(self, resource: str, id: str | None, obj: Any, rev: str | None = None, context: Context = None) -> Any:
        raise IdmError(501, f"Update not supported on {resource}")

    def patch(self, resource: str, id: str | None, ops: Any, rev: str | None = None, context: Context = None) -> Any:
        raise IdmError(501, f"Patch not supported on {resource}")

    def delete(self, resource: str, id: str | None, rev: str | None = None, context: Context = None) -> Any:
        raise IdmError(501, f"Delete not supported on {resource}")

    def query(
        self,
        resource: str,
        query_filter: str = "true",
        fields: Fields = None,
        page_size: int | None = None,
        cookie: str | None = None,
        context: Context = None,
    ) -> dict[str, Any]:
        raise IdmError(501, f"Query not supported on {resource}")

    def action(
        self,
        resource: str,
        action: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        context: Context = None,
    ) -> Any:
        raise IdmError(400, f"Action {action} not supported on {resource}")


class InternalRouter:
    """Routes ``<prefix>/...`` resource paths to the provider registered for ``prefix``."""

    def __init__(self) -> None:
        self._providers: dict[str, ResourceProvider] = {}

    def register(self, prefix: str, provider: ResourceProvider) -> None:
        self._providers[prefix] = provider

    def provider(self, resource: str) -> ResourceProvider:
        prefix = resource.strip("/").split("/", 1)[0]
        try:
            return self._providers[prefix]
        except KeyError:
            raise IdmError(404, f"Resource '{resource}' not found") from None

    @staticmethod
    def _split(resource: str, id: str | None) -> tuple[str, str | None]:
        """Accept both ``("managed/user", "abc")`` and ``("managed/user/abc", None)``."""
        resource = resource.strip("/")
        if id is None and resource.count("/") >= 2:
            resource, id = resource.rsplit("/", 1)
        return resource, id

    def create(self, resource: str, obj: Any, id: str | None = None, context: Context = None) -> Any:
        return self.provider(resource).create(resource.strip("/"), obj, id=id, context=context)

    def read(self, resource: str, id: str | None = None, fields: Fields = None, context: Context = None) -> Any:
        resource, id = self._split(resource, id)
        return self.provider(resource).read(resource, id, fields=fields, context=context)

    def update(self, resource: str, id: str | None, obj: Any, rev: str | None = None, context: Context = None) -> Any:
        resource, id = self._split(resource, id)
        return self.provider(resource).update(resource, id, obj, rev=rev, context=context)

    def patch(self, resource: str, id: str | None, ops: Any, rev: str | None = None, context: Context = None) -> Any:
        resource, id = self._split(resource, id)
        return self.provider(resource).patch(resource, id, ops, rev=rev, context=context)

    def delete(self, resource: str, id: str | None = None, rev: str | None = None, context: Context = None) -> Any:
        resource, id = self._split(resource, id)
        return self.provider(resource).delete(resource, id, rev=rev, context=context)

    def query(
        self,
        resource: str,
        query_filter: str = "true",
        fields: Fields = None,
        page_size: int | None = None,
        cookie: str | None = None,
        context: Context = None,
    ) -> dict[str, Any]:
        return self.provider(resource).query(
            resource.strip("/"),
            query_filter=query_filter,
            fields=fields,
            page_size=page_size,
            cookie=cookie,
            context=context,
        )

    def action(
        self,
        resource: str,
        action: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        context: Context = None,
    ) -> Any:
        return self.provider(resource).action(
            resource.strip("/"), action, params=params or {}, body=body, context=context
        )
