"""The request and response shapes every REST endpoint of the sandbox IDM handles.

An endpoint is a callable ``handler(request) -> Response`` registered for the first path segment after the
context path (``config``, ``managed``, ``system``, ``recon``, ...). It raises ``IdmError`` for failures.
"""

from dataclasses import dataclass, field


@dataclass
class Request:
    method: str                 # GET, PUT, POST, PATCH, DELETE
    endpoint: str               # first segment after /openidm, e.g. "recon"
    path: list                  # the remaining segments, URL-decoded, e.g. ["<reconId>"]
    query: dict                 # query string, one value per key (last wins)
    headers: dict               # lower-cased header names
    body: object = None         # parsed JSON body, or None
    principal: str = "anonymous"

    @property
    def action(self):
        return self.query.get("_action")

    def flag(self, name, default=False):
        """A boolean query parameter as IDM reads it (``true`` in any case)."""
        value = self.query.get(name)
        if value is None:
            return default
        return value.lower() == "true"


@dataclass
class Response:
    status: int = 200
    body: object = None
    headers: dict = field(default_factory=dict)
