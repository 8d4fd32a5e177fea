"""REST routes of ``/openidm/audit/<topic>`` (the service is ``sandbox.idm.sync.audit.AuditService``): GET only,
a query (``_queryFilter`` required) or one event by id. An unknown topic is 404 whatever the method.
"""

from __future__ import annotations

from typing import Any

from ..crest import project
from ..errors import IdmError
from ..sync.audit import AuditService
from . import params
from .http import Request, Response
from .routing import Route, fail


class AuditRoutes:
    def __init__(self, audit: AuditService) -> None:
        self.audit = audit

    def routes(self) -> list[Route]:
        return [
            Route("audit", otherwise=fail(404, "Audit topic (none) not found")),
            Route("audit/{topic}", {"GET": self.query}, otherwise=self.not_allowed),
            Route("audit/{topic}/{event_id}", {"GET": self.read}, otherwise=self.not_allowed),
            Route("audit/{topic}/{deeper+}", {"GET": self.not_found}, otherwise=self.not_allowed),
        ]

    def _topic(self, topic: str) -> str:
        """The topic, or 404 ``Audit topic <topic> not found`` (checked before anything else)."""
        return self.audit.topic(f"audit/{topic}")

    def not_allowed(self, request: Request, topic: str, **_path: Any) -> Response:
        self._topic(topic)
        raise IdmError(405, f"Method {request.method} not allowed on audit/{topic}")

    def not_found(self, request: Request, topic: str, deeper: list[str]) -> Response:
        self._topic(topic)
        raise IdmError(404, "Not Found")

    def read(self, request: Request, topic: str, event_id: str) -> Response:
        self._topic(topic)
        return Response(200, self.audit.read(f"audit/{topic}", event_id, params.fields(request)))

    def query(self, request: Request, topic: str) -> Response:
        topic = self._topic(topic)
        fields = params.fields(request)
        query = request.query
        if "_queryFilter" not in query:
            if "_queryId" in query:
                raise IdmError(400, f"Unsupported _queryId {query['_queryId']} on audit/{topic}")
            raise IdmError(400, "Query requests must specify _queryFilter")
        envelope = params.paging(request).apply(self.audit.search(query["_queryFilter"], topic), case_insensitive=False)
        envelope["result"] = [project(event, fields) for event in envelope["result"]]
        return Response(200, envelope)
