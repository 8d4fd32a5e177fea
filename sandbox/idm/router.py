"""IDM's internal router: the ``openidm.create/read/update/patch/delete/query/action`` calls that the sync engine
and scripts use, dispatched by resource prefix to a provider (``managed``, ``config``, ``system``, ...).

A provider implements the methods below with ``resource`` being the full resource path without the id, e.g.
``managed/user`` or ``system/scim/account``. Missing methods raise 501, as IDM does for unsupported operations.
"""

from __future__ import annotations

from .errors import IdmError


class ResourceProvider:
    """Base class: every operation is unsupported until a provider implements it."""

    def create(self, resource, obj, id=None, context=None):
        raise IdmError(501, f"Create not supported on {resource}")

    def read(self, resource, id, fields=None, context=None):
        raise IdmError(501, f"Read not supported on {resource}")

    def update(self, resource, id, obj, rev=None, context=None):
        raise IdmError(501, f"Update not supported on {resource}")

    def patch(self, resource, id, ops, rev=None, context=None):
        raise IdmError(501, f"Patch not supported on {resource}")

    def delete(self, resource, id, rev=None, context=None):
        raise IdmError(501, f"Delete not supported on {resource}")

    def query(self, resource, query_filter="true", fields=None, page_size=None, cookie=None, context=None):
        raise IdmError(501, f"Query not supported on {resource}")

    def action(self, resource, action, params=None, body=None, context=None):
        raise IdmError(400, f"Action {action} not supported on {resource}")


class InternalRouter:
    """Routes ``<prefix>/...`` resource paths to the provider registered for ``prefix``."""

    def __init__(self):
        self._providers = {}

    def register(self, prefix, provider):
        self._providers[prefix] = provider

    def provider(self, resource):
        prefix = resource.strip("/").split("/", 1)[0]
        try:
            return self._providers[prefix]
        except KeyError:
            raise IdmError(404, f"Resource '{resource}' not found") from None

    @staticmethod
    def _split(resource, id):
        """Accept both ``("managed/user", "abc")`` and ``("managed/user/abc", None)``."""
        resource = resource.strip("/")
        if id is None and resource.count("/") >= 2:
            resource, id = resource.rsplit("/", 1)
        return resource, id

    def create(self, resource, obj, id=None, context=None):
        return self.provider(resource).create(resource.strip("/"), obj, id=id, context=context)

    def read(self, resource, id=None, fields=None, context=None):
        resource, id = self._split(resource, id)
        return self.provider(resource).read(resource, id, fields=fields, context=context)

    def update(self, resource, id, obj, rev=None, context=None):
        resource, id = self._split(resource, id)
        return self.provider(resource).update(resource, id, obj, rev=rev, context=context)

    def patch(self, resource, id, ops, rev=None, context=None):
        resource, id = self._split(resource, id)
        return self.provider(resource).patch(resource, id, ops, rev=rev, context=context)

    def delete(self, resource, id=None, rev=None, context=None):
        resource, id = self._split(resource, id)
        return self.provider(resource).delete(resource, id, rev=rev, context=context)

    def query(self, resource, query_filter="true", fields=None, page_size=None, cookie=None, context=None):
        return self.provider(resource).query(
            resource.strip("/"),
            query_filter=query_filter,
            fields=fields,
            page_size=page_size,
            cookie=cookie,
            context=context,
        )

    def action(self, resource, action, params=None, body=None, context=None):
        return self.provider(resource).action(
            resource.strip("/"), action, params=params or {}, body=body, context=context
        )
