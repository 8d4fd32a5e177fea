"""The system service as the internal router sees it (``system``, ``system/<name>``, ``system/<name>/<type>``):
the actions of ``/openidm/system`` and create, read, update, patch, delete and query of system objects through the
running connector. The connectors themselves live in ``connectors.ConnectorRegistry``.
"""

from __future__ import annotations

from .. import queryfilter
from ..crest import apply_patch, copy_json, project, sort_results
from ..errors import IdmError
from ..provisioner import AVAILABLE_CONNECTORS
from ..provisioner.query import query as connector_query
from ..provisioner.scim import ConnectorError
from ..router import ResourceProvider
from .connectors import ConnectorRegistry
from .templates import core_config


def idm_error(exc):
    """The IDM answer for a connector failure during an object operation."""
    if exc.kind == "not_found":
        return IdmError(404, str(exc))
    if exc.kind == "conflict":
        return IdmError(412, str(exc))
    if exc.kind == "bad_request" or exc.status == 400:
        return IdmError(400, str(exc))
    if exc.kind in ("connection", "credentials"):
        return IdmError(503, str(exc))
    return IdmError(500, str(exc))


def local_filter(query_filter):
    node = queryfilter.parse(query_filter)
    # SCIM attributes are caseExact=false by default, so local evaluation folds case like the provider does.
    return lambda obj: queryfilter.matches(node, obj, case_insensitive=True)


class SystemService(ResourceProvider):
    def __init__(self, config_service, decrypt, start_delay, readings, load_until=0.0):
        self.connectors = ConnectorRegistry(config_service, decrypt, start_delay, readings, load_until)

    def check_metadata(self, config_id, body, verb="create"):
        """The config service's gate for ``provisioner.openicf/<name>`` writes (see ``ConnectorRegistry``)."""
        self.connectors.check_metadata(config_id, body, verb)

    def close(self):
        self.connectors.close()

    # ---- objects (InternalRouter provider for "system/<name>/<type>") ---------------------------------------
    def _target(self, resource):
        parts = resource.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "system":
            raise IdmError(404, f"Resource '{resource}' not found")
        connector = self.connectors.connector(parts[1], resource.strip("/"))
        if parts[2] not in connector.object_types:
            raise IdmError(404, f"Object type {parts[2]} is not defined for system {parts[1]}")
        return connector, parts[2]

    def create(self, resource, obj, id=None, context=None):
        if id is not None:
            raise IdmError(404, "Create with client provided ID is not supported.")
        connector, type_key = self._target(resource)
        try:
            return connector.create(type_key, obj or {})
        except ConnectorError as exc:
            raise idm_error(exc) from None

    def read(self, resource, id, fields=None, context=None):
        connector, type_key = self._target(resource)
        try:
            return project(connector.read(type_key, id), fields)
        except ConnectorError as exc:
            raise idm_error(exc) from None

    def update(self, resource, id, obj, rev=None, context=None):
        connector, type_key = self._target(resource)
        changes = {k: v for k, v in (obj or {}).items() if k not in ("_id", "_rev")}
        try:
            return connector.update(type_key, id, changes)
        except ConnectorError as exc:
            raise idm_error(exc) from None

    def patch(self, resource, id, ops, rev=None, context=None):
        connector, type_key = self._target(resource)
        try:
            current = connector.read(type_key, id)
            patched = apply_patch(copy_json(current), ops)
            changes = {
                k: patched.get(k)
                for k in set(current) | set(patched)
                if k != "_id" and patched.get(k) != current.get(k)
            }
            return connector.update(type_key, id, changes) if changes else current
        except ConnectorError as exc:
            raise idm_error(exc) from None

    def delete(self, resource, id, rev=None, context=None):
        connector, type_key = self._target(resource)
        try:
            last = connector.read(type_key, id)
            connector.delete(type_key, id)
            return last
        except ConnectorError as exc:
            raise idm_error(exc) from None

    def query(
        self,
        resource,
        query_filter="true",
        fields=None,
        page_size=None,
        cookie=None,
        context=None,
        offset=None,
        sort_keys=None,
        total_policy=None,
        query_id=None,
    ):
        connector, type_key = self._target(resource)
        if query_id is not None:
            if query_id != "query-all-ids":
                raise IdmError(400, f"Unsupported _queryId {query_id}: system objects support query-all-ids")
            query_filter, fields = "true", ["_id"]
        queryfilter.parse(query_filter)  # 400 on a malformed filter, before any provider call
        try:
            objects, next_cookie, total = connector_query(
                connector, type_key, query_filter, page_size, cookie, offset, local_filter
            )
        except ConnectorError as exc:
            raise idm_error(exc) from None
        objects = sort_results(objects, sort_keys, case_insensitive=True)
        objects = [project(obj, fields) for obj in objects]
        policy = (total_policy or "NONE").upper()
        return {
            "result": objects,
            "resultCount": len(objects),
            "pagedResultsCookie": next_cookie,
            "totalPagedResultsPolicy": policy,
            "totalPagedResults": total if policy in ("EXACT", "ESTIMATE") else -1,
            "remainingPagedResults": -1,
        }

    def action(self, resource, action, params=None, body=None, context=None):
        parts = resource.strip("/").split("/")
        if len(parts) == 1:
            return self.system_action(action, body)
        if len(parts) == 2:
            if action == "test":
                return self.connectors.status(parts[1])
            raise IdmError(400, f"Action {action} not supported on {resource}")
        if action == "create":
            return self.create(resource, body)
        raise IdmError(400, f"Action {action} not supported on {resource}")

    def system_action(self, action, body):
        if action == "test":
            return self.connectors.status_all(body.get("id") if isinstance(body, dict) else None)
        if action == "testConfig":
            return self.connectors.test_config(body)
        if action == "availableConnectors":
            return {"connectorRef": [dict(info) for info in AVAILABLE_CONNECTORS]}
        if action == "createCoreConfig":
            return core_config(body, full=False)
        if action == "createFullConfig":
            return core_config(body, full=True)
        raise IdmError(400, f"Action {action} not supported on system")
