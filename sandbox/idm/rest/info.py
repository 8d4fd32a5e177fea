"""REST routes of ``info/ping``, ``info/version``, ``info/login`` and ``health[/live|/ready]``.

``health/*`` bodies are UNCONFIRMED in the contract; the sandbox answers with the same shape as ``info/ping``
(200 when ready, 503 while starting). During ``--startup-delay`` ``info/ping`` answers 200 with state
``STARTING`` (as IDM's HealthService reports its state rather than failing) and every other endpoint 503.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import IdmError
from .http import Request, Response
from .routing import Route, method_not_allowed

PRODUCT_VERSION = "8.1.0-sandbox"
BUILD_DATE = "20250601000000"
REVISION = "sandbox"


def ping_body(ready: bool) -> dict[str, str]:
    if ready:
        return {"_id": "", "state": "ACTIVE_READY", "shortDesc": "OpenIDM ready"}
    return {"_id": "", "state": "STARTING", "shortDesc": "OpenIDM starting"}


class InfoRoutes:
    """``ready()`` tells whether the startup delay is over; ``roles_of(principal)`` gives a user's roles."""

    def __init__(self, ready: Callable[[], bool], roles_of: Callable[[str], list[str]]) -> None:
        self.ready = ready
        self.roles_of = roles_of

    def routes(self) -> list[Route]:
        info_get_only = method_not_allowed("info")
        health_get_only = method_not_allowed("health")
        return [
            Route("info/ping", {"GET": self.ping}, otherwise=info_get_only),
            Route("info/version", {"GET": self.version}, otherwise=info_get_only),
            Route("info/login", {"GET": self.login}, otherwise=info_get_only),
            Route("info/{name*}", {"GET": self.unknown_info}, otherwise=info_get_only),
            Route("health", {"GET": self.health}, otherwise=health_get_only),
            Route("health/live", {"GET": self.health_probe}, otherwise=health_get_only),
            Route("health/ready", {"GET": self.health_probe}, otherwise=health_get_only),
            Route("health/{name*}", {"GET": self.unknown_health}, otherwise=health_get_only),
        ]

    def ping(self, request: Request) -> Response:
        return Response(200, ping_body(self.ready()))

    @staticmethod
    def version(request: Request) -> Response:
        return Response(
            200,
            {
                "_id": "version",
                "productVersion": PRODUCT_VERSION,
                "productBuildDate": BUILD_DATE,
                "productRevision": REVISION,
            },
        )

    def login(self, request: Request) -> Response:
        return Response(
            200,
            {
                "_id": "login",
                "authenticationId": request.principal,
                "authorization": {
                    "id": request.principal,
                    "roles": self.roles_of(request.principal),
                    "component": "internal/user",
                },
            },
        )

    @staticmethod
    def unknown_info(request: Request, name: list[str]) -> Response:
        raise IdmError(404, f"Resource 'info/{'/'.join(name)}' not found")

    def health(self, request: Request) -> Response:
        return Response(200, ping_body(self.ready()))

    def health_probe(self, request: Request) -> Response:
        if not self.ready():
            raise IdmError(503, "OpenIDM starting")
        return Response(200, ping_body(True))

    @staticmethod
    def unknown_health(request: Request, name: list[str]) -> Response:
        raise IdmError(404, f"Resource 'health/{'/'.join(name)}' not found")
