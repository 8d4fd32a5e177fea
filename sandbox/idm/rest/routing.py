"""Route tables of the REST layer, in the manner of scim2-server's URL map and moto's ``urls.py``: each service's
REST module lists its routes (a path pattern, a handler per method, and what any other method gets), and
``RouteTable`` finds the route of a request. Handlers are thin: they read the request, call the service, and wrap
the result in a ``Response``; the services know nothing of HTTP.

Patterns are ``/``-separated segments after the context path, starting with the endpoint: a literal, ``{name}``
(one segment), or, last, ``{name*}`` (zero or more segments) / ``{name+}`` (one or more), passed as a list. The
first route that matches wins, so specific routes come before catch-alls. A handler is called as
``handler(request, **path_parameters)``. IDM's answers for unsupported methods and paths differ per endpoint, so
each route says what the other methods get (``otherwise``); the default is 405 ``Method <m> not allowed``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import IdmError
from .http import Request, Response

Handler = Callable[..., Response]


def method_not_allowed(where: str = "") -> Handler:
    """A handler answering 405 ``Method <m> not allowed[ on <where>]``."""
    suffix = f" on {where}" if where else ""

    def handler(request: Request, **_params: Any) -> Response:
        raise IdmError(405, f"Method {request.method} not allowed{suffix}")

    return handler


def fail(code: int, message: str) -> Handler:
    """A handler that always raises ``IdmError(code, message)``."""

    def handler(_request: Request, **_params: Any) -> Response:
        raise IdmError(code, message)

    return handler


class Route:
    """One path pattern with its handlers: ``methods`` by HTTP method, ``otherwise`` for every other method."""

    def __init__(
        self, pattern: str, methods: Mapping[str, Handler] | None = None, otherwise: Handler | None = None
    ) -> None:
        self.pattern = pattern
        self.methods = dict(methods or {})
        self.otherwise = otherwise or method_not_allowed()
        self._segments = pattern.split("/")

    @property
    def endpoint(self) -> str:
        return self._segments[0]

    def match(self, segments: list[str]) -> dict[str, Any] | None:
        """The path parameters when ``segments`` (endpoint first) match this route, else None."""
        params: dict[str, Any] = {}
        for index, part in enumerate(self._segments):
            if part.startswith("{") and part[-2:] in ("*}", "+}"):
                rest = segments[index:]
                if part[-2] == "+" and not rest:
                    return None
                params[part[1:-2]] = rest
                return params
            if index >= len(segments):
                return None
            if part.startswith("{"):
                params[part[1:-1]] = segments[index]
            elif part != segments[index]:
                return None
        return params if len(segments) == len(self._segments) else None

    def handler(self, method: str) -> Handler:
        return self.methods.get(method, self.otherwise)

    def __repr__(self) -> str:
        return f"Route({self.pattern!r}, {sorted(self.methods)})"


class RouteTable:
    """The routes of every endpoint. ``dispatch(request)`` answers a request of a known endpoint."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._by_endpoint: dict[str, list[Route]] = {}
        for route in routes:
            self._by_endpoint.setdefault(route.endpoint, []).append(route)

    def __contains__(self, endpoint: str) -> bool:
        return endpoint in self._by_endpoint

    def dispatch(self, request: Request) -> Response:
        segments = [request.endpoint, *request.path]
        for route in self._by_endpoint.get(request.endpoint, ()):
            params = route.match(segments)
            if params is not None:
                return route.handler(request.method)(request, **params)
        raise IdmError(404, f"Resource '{'/'.join(segments)}' not found")
