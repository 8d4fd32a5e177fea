"""REST route of ``POST /openidm/script?_action=eval|compile`` (idm-rest-contract.md §3.6).

``eval`` returns the script's result as the JSON body (``null`` when it yields nothing); ``compile`` returns
``true`` or 400 with the syntax error. The no-script user is refused with 403 before this handler runs.
"""

from __future__ import annotations

from ..errors import IdmError
from ..scripts import ScriptEngine
from .http import Request, Response
from .routing import Route, method_not_allowed


class ScriptRoutes:
    def __init__(self, scripts: ScriptEngine) -> None:
        self.scripts = scripts

    def routes(self) -> list[Route]:
        return [
            Route("script", {"POST": self.action}, otherwise=method_not_allowed("script")),
            Route("script/{deeper+}", otherwise=self.not_found),
        ]

    def action(self, request: Request) -> Response:
        body = request.body
        if not isinstance(body, dict):
            raise IdmError(400, "The request body must be a script object with 'type' and 'source'")
        if request.action == "eval":
            return Response(200, self.scripts.evaluate(body))
        if request.action == "compile":
            return Response(200, self.scripts.compile(body))
        raise IdmError(400, f"Action {request.action} not supported on script")

    @staticmethod
    def not_found(request: Request, deeper: list[str]) -> Response:
        raise IdmError(404, f"Resource 'script/{'/'.join(deeper)}' not found")
