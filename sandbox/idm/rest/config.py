"""REST routes of ``/openidm/config`` (the service is ``sandbox.idm.config.ConfigService``).

``waitForCompletion=true`` on a write makes the listeners (e.g. the connector start) finish before the answer,
unless the reading ``config_wait=ignored``. A PUT that creates answers 201 with IDM 7's Location, whose first id
segment is doubled for factory configs (contract §3.2).
"""

from __future__ import annotations

from ..config import ConfigService
from ..crest import project
from ..errors import IdmError
from ..readings import Readings
from . import params
from .http import Request, Response
from .routing import Route, method_not_allowed


class ConfigRoutes:
    def __init__(self, config: ConfigService, readings: Readings) -> None:
        self.config = config
        self.readings = readings

    def routes(self) -> list[Route]:
        other = method_not_allowed("config")
        return [
            Route("config", {"GET": self.list_or_query}, otherwise=other),
            Route(
                "config/{config_id+}",
                {"GET": self.read, "PUT": self.put, "PATCH": self.patch, "DELETE": self.delete, "POST": self.action},
                otherwise=other,
            ),
        ]

    def _wait(self, request: Request) -> bool:
        return request.flag("waitForCompletion") and self.readings.config_wait != "ignored"

    def list_or_query(self, request: Request) -> Response:
        query = request.query
        if "_queryFilter" in query:
            paging = params.paging(request)
            return Response(200, self.config.query_configs(query["_queryFilter"], params.fields(request), paging))
        if "_queryId" in query:
            raise IdmError(400, f"Unsupported _queryId {query['_queryId']} on config")
        return Response(200, self.config.list())

    def read(self, request: Request, config_id: list[str]) -> Response:
        return Response(200, project(self.config.get("/".join(config_id)), params.fields(request)))

    def put(self, request: Request, config_id: list[str]) -> Response:
        wait, config_id = self._wait(request), "/".join(config_id)
        if request.headers.get("if-none-match", "").strip() == "*" and self.config.exists(config_id):
            raise IdmError(412, "Precondition Failed")
        created, stored = self.config.put(config_id, request.body, wait)
        if not created:
            return Response(200, stored)
        first = config_id.split("/", 1)[0]
        location = f"/openidm/config/{first}/{config_id}" if "/" in config_id else f"/openidm/config/{config_id}"
        return Response(201, stored, {"Location": location})

    def patch(self, request: Request, config_id: list[str]) -> Response:
        return Response(200, self.config.patch_config("/".join(config_id), request.body, self._wait(request)))

    def delete(self, request: Request, config_id: list[str]) -> Response:
        return Response(200, self.config.remove("/".join(config_id), self._wait(request)))

    def action(self, request: Request, config_id: list[str]) -> Response:
        raise IdmError(400, f"Action {request.action} not supported on config")
