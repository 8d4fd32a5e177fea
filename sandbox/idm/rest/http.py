"""The request and response shapes of the REST layer.

The WSGI layer (``sandbox.idm.web``) turns an HTTP request under the context path into a ``Request``; a route
handler (``sandbox.idm.rest.routing``) answers it with a ``Response`` or raises ``IdmError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Request:
    method: str  # GET (also for HEAD), PUT, POST, PATCH, DELETE
    endpoint: str  # first segment after /openidm, e.g. "recon"
    path: list[str]  # the remaining segments, URL-decoded, e.g. ["<reconId>"]
    query: dict[str, str]  # query string, one value per key (last wins)
    headers: dict[str, str]  # lower-cased header names
    body: Any = None  # parsed JSON body, or None
    principal: str = "anonymous"

    @property
    def action(self) -> str | None:
        return self.query.get("_action")

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean query parameter as IDM reads it (``true`` in any case)."""
        value = self.query.get(name)
        if value is None:
            return default
        return value.lower() == "true"

    @property
    def resource(self) -> str:
        """``<endpoint>/<path...>``, e.g. ``managed/user/<id>``."""
        return "/".join([self.endpoint, *self.path])


@dataclass
class Response:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
