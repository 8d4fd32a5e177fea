"""REST routes of ``/openidm/__sandbox``, the sandbox's own test hooks (not IDM): ``GET readings`` (the readings
in force) and ``faults`` (GET shows, POST/PUT merge, DELETE resets the fault switches of ``sandbox.idm.web.faults``).
"""

from __future__ import annotations

from ..readings import Readings
from ..web.faults import Faults
from .http import Request, Response
from .routing import Route, fail


class AdminRoutes:
    def __init__(self, readings: Readings, faults: Faults) -> None:
        self.readings = readings
        self.faults = faults

    def routes(self) -> list[Route]:
        return [
            Route("__sandbox/readings", {"GET": self.show_readings}, otherwise=fail(404, "Not Found")),
            Route(
                "__sandbox/faults",
                {"GET": self.show_faults, "POST": self.set_faults, "PUT": self.set_faults, "DELETE": self.reset_faults},
            ),
            Route("__sandbox/{deeper*}", otherwise=fail(404, "Not Found")),
        ]

    def show_readings(self, request: Request) -> Response:
        return Response(200, self.readings.as_dict())

    def show_faults(self, request: Request) -> Response:
        return Response(200, self.faults.snapshot())

    def set_faults(self, request: Request) -> Response:
        return Response(200, self.faults.update(request.body or {}))

    def reset_faults(self, request: Request) -> Response:
        self.faults.reset()
        return Response(200, self.faults.snapshot())
