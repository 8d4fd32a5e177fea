"""REST routes of ``/openidm/system`` (the service is ``sandbox.idm.system.SystemService``).

Every POST is an action (``_action`` required): ``system?_action=test|testConfig|availableConnectors|
createCoreConfig|createFullConfig``, ``system/<name>?_action=test``, ``system/<name>/<type>?_action=create``
(201). Other methods need at least ``system/<name>/<type>`` (501 above that): a query on the collection, read,
update, patch and delete on an object.
"""

from __future__ import annotations

import dataclasses

from ..crest import project
from ..errors import IdmError
from ..system import SystemService
from . import params
from .http import Request, Response
from .routing import Route


class SystemRoutes:
    def __init__(self, system: SystemService) -> None:
        self.system = system

    def routes(self) -> list[Route]:
        post = {"POST": self.action}
        return [
            Route("system", post, otherwise=self.not_supported),
            Route("system/{name}", post, otherwise=self.not_supported),
            Route("system/{name}/{object_type}", {"GET": self.query, **post}, otherwise=self.not_allowed),
            Route(
                "system/{name}/{object_type}/{object_id}",
                {"GET": self.read, "PUT": self.update, "PATCH": self.patch, "DELETE": self.delete, **post},
                otherwise=self.not_allowed,
            ),
            Route("system/{deeper+}", post, otherwise=self.not_found),
        ]

    def action(self, request: Request, **_path: object) -> Response:
        action = request.action
        if not action:
            raise IdmError(400, "Missing _action parameter")
        if len(request.path) == 2 and action == "create":
            created = self.system.create(request.resource, request.body)
            return Response(201, created, {"Location": f"/openidm/{request.resource}/{created['_id']}"})
        return Response(200, self.system.action(request.resource, action, dict(request.query), request.body))

    @staticmethod
    def not_supported(request: Request, **_path: object) -> Response:
        raise IdmError(501, f"Operation {request.method} not supported on {request.resource}")

    @staticmethod
    def not_allowed(request: Request, **_path: object) -> Response:
        raise IdmError(405, f"Method {request.method} not allowed on {request.resource}")

    @staticmethod
    def not_found(request: Request, **_path: object) -> Response:
        raise IdmError(404, f"Resource '{request.resource}' not found")

    def query(self, request: Request, name: str, object_type: str) -> Response:
        query = request.query
        if "_queryFilter" not in query and "_queryId" not in query:
            raise IdmError(400, "Query requests must specify _queryFilter or _queryId")
        window = params.paging(request)
        return Response(
            200,
            self.system.query(
                request.resource,
                query.get("_queryFilter", "true"),
                params.fields(request),
                query_id=query.get("_queryId"),
                **dataclasses.asdict(window),
            ),
        )

    def read(self, request: Request, name: str, object_type: str, object_id: str) -> Response:
        return Response(200, self.system.read(f"system/{name}/{object_type}", object_id, params.fields(request)))

    def update(self, request: Request, name: str, object_type: str, object_id: str) -> Response:
        fields = params.fields(request)
        if request.headers.get("if-none-match", "").strip() == "*":
            raise IdmError(404, "Create with client provided ID is not supported.")
        updated = self.system.update(f"system/{name}/{object_type}", object_id, request.body)
        return Response(200, project(updated, fields))

    def patch(self, request: Request, name: str, object_type: str, object_id: str) -> Response:
        fields = params.fields(request)
        return Response(
            200, project(self.system.patch(f"system/{name}/{object_type}", object_id, request.body), fields)
        )

    def delete(self, request: Request, name: str, object_type: str, object_id: str) -> Response:
        return Response(200, self.system.delete(f"system/{name}/{object_type}", object_id))
