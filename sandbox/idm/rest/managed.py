"""REST routes of ``/openidm/managed``: objects, queries and relationship collections
(``managed/role/<id>/members[/<relationship id>]``). The behaviour is the service's (``sandbox.idm.managed``).

Every request under ``managed/<type>`` reads ``_fields`` and the paging parameters first, so a non-numeric
``_pageSize`` or ``_pagedResultsOffset`` is a 400 whatever the method.
"""

from __future__ import annotations

from typing import Any

from ..errors import IdmError
from ..managed import ManagedService
from . import params
from .http import Request, Response
from .routing import Route, fail


class _Call:
    """What every managed handler reads from the request."""

    def __init__(self, request: Request, object_type: str) -> None:
        self.resource = f"managed/{object_type}"
        self.fields = params.fields(request)
        self.paging = params.paging(request)
        self.context = {"initiator": request.principal}
        self.if_match = request.headers.get("if-match")


class ManagedRoutes:
    def __init__(self, managed: ManagedService) -> None:
        self.managed = managed

    def routes(self) -> list[Route]:
        return [
            Route("managed", otherwise=fail(404, "Resource 'managed' not found")),
            Route(
                "managed/{object_type}",
                {"GET": self.query, "POST": self.create},
                otherwise=self.not_allowed_on_collection,
            ),
            Route(
                "managed/{object_type}/{object_id}",
                {
                    "GET": self.read,
                    "PUT": self.put,
                    "PATCH": self.patch,
                    "DELETE": self.delete,
                    "POST": self.object_action,
                },
                otherwise=self.not_allowed,
            ),
            Route(
                "managed/{object_type}/{object_id}/{prop}",
                {"GET": self.relationship_query, "POST": self.relationship_create},
                otherwise=self.not_allowed_on_relationships,
            ),
            Route(
                "managed/{object_type}/{object_id}/{prop}/{rel_id}",
                {"GET": self.relationship_read, "DELETE": self.relationship_delete},
                otherwise=self.not_allowed_on_relationship,
            ),
            Route("managed/{object_type}/{deeper+}", otherwise=self.not_found),
        ]

    # --- managed/<type> ----------------------------------------------------------------------------------------
    def query(self, request: Request, object_type: str) -> Response:
        call = _Call(request, object_type)
        query = request.query
        if "_queryFilter" not in query and "_queryId" not in query:
            raise IdmError(400, "Query request needs _queryFilter or _queryId")
        return Response(
            200,
            self.managed.query_objects(
                call.resource, query.get("_queryFilter"), query.get("_queryId"), call.fields, call.paging
            ),
        )

    def create(self, request: Request, object_type: str) -> Response:
        call = _Call(request, object_type)
        if request.action != "create":
            raise IdmError(400, f"Action {request.action} not supported on {call.resource}")
        created = self.managed.create_object(call.resource, request.body, None, call.fields, context=call.context)
        return Response(201, created, {"Location": f"/openidm/{call.resource}/{created['_id']}"})

    def not_allowed_on_collection(self, request: Request, object_type: str) -> Response:
        call = _Call(request, object_type)
        raise IdmError(405, f"Method {request.method} not allowed on {call.resource}")

    # --- managed/<type>/<id> -----------------------------------------------------------------------------------
    def read(self, request: Request, object_type: str, object_id: str) -> Response:
        call = _Call(request, object_type)
        return Response(200, self.managed.read_object(call.resource, object_id, call.fields))

    def put(self, request: Request, object_type: str, object_id: str) -> Response:
        """``If-None-Match: *`` creates; otherwise an upsert (a missing object is created unless ``If-Match``
        names a revision)."""
        call = _Call(request, object_type)
        if_none_match = request.headers.get("if-none-match")
        if if_none_match is not None:
            if if_none_match.strip() != "*":
                raise IdmError(400, "If-None-Match must be * on PUT")
            created = self.managed.create_object(
                call.resource, request.body, object_id, call.fields, context=call.context
            )
            return Response(201, created, {"Location": f"/openidm/{call.resource}/{object_id}"})
        created, view = self.managed.put_object(
            call.resource, object_id, request.body, call.if_match, call.fields, context=call.context
        )
        if created:
            return Response(201, view, {"Location": f"/openidm/{call.resource}/{object_id}"})
        return Response(200, view)

    def patch(self, request: Request, object_type: str, object_id: str) -> Response:
        call = _Call(request, object_type)
        return Response(
            200,
            self.managed.patch_object(
                call.resource, object_id, request.body, call.if_match, call.fields, context=call.context
            ),
        )

    def delete(self, request: Request, object_type: str, object_id: str) -> Response:
        call = _Call(request, object_type)
        return Response(
            200, self.managed.delete_object(call.resource, object_id, call.if_match, call.fields, context=call.context)
        )

    def object_action(self, request: Request, object_type: str, object_id: str) -> Response:
        call = _Call(request, object_type)
        raise IdmError(400, f"Action {request.action} not supported on {call.resource}/{object_id}")

    def not_allowed(self, request: Request, object_type: str, **_ids: Any) -> Response:
        _Call(request, object_type)
        raise IdmError(405, f"Method {request.method} not allowed")

    # --- managed/<type>/<id>/<relationship field>[/<relationship id>] ------------------------------------------
    def relationship_query(self, request: Request, object_type: str, object_id: str, prop: str) -> Response:
        call = _Call(request, object_type)
        if "_queryFilter" not in request.query:
            raise IdmError(400, "Query request needs _queryFilter")
        return Response(
            200,
            self.managed.rel_query(
                call.resource, object_id, prop, request.query["_queryFilter"], call.fields, call.paging
            ),
        )

    def relationship_create(self, request: Request, object_type: str, object_id: str, prop: str) -> Response:
        call = _Call(request, object_type)
        if request.action != "create":
            return self.not_allowed_on_relationships(request, object_type, object_id, prop)
        element = self.managed.rel_create(call.resource, object_id, prop, request.body)
        return Response(201, element, {"Location": f"/openidm/{call.resource}/{object_id}/{prop}/{element['_id']}"})

    def not_allowed_on_relationships(self, request: Request, object_type: str, object_id: str, prop: str) -> Response:
        call = _Call(request, object_type)
        raise IdmError(405, f"Method {request.method} not allowed on {call.resource}/{object_id}/{prop}")

    def relationship_read(self, request: Request, object_type: str, object_id: str, prop: str, rel_id: str) -> Response:
        call = _Call(request, object_type)
        return Response(200, self.managed.rel_read(call.resource, object_id, prop, rel_id))

    def relationship_delete(
        self, request: Request, object_type: str, object_id: str, prop: str, rel_id: str
    ) -> Response:
        call = _Call(request, object_type)
        return Response(200, self.managed.rel_delete(call.resource, object_id, prop, rel_id))

    def not_allowed_on_relationship(self, request: Request, object_type: str, **_ids: Any) -> Response:
        _Call(request, object_type)
        raise IdmError(405, f"Method {request.method} not allowed on a relationship")

    def not_found(self, request: Request, object_type: str, deeper: list[str]) -> Response:
        _Call(request, object_type)
        raise IdmError(404, f"Resource '{request.resource}' not found")
