"""``POST /openidm/script?_action=eval|compile`` (idm-rest-contract.md §3.6).

``eval`` returns the script's result as the JSON body (``null`` when it yields nothing); ``compile`` returns
``true`` or 400 with the syntax error. The no-script user is refused with 403 before this handler runs.
"""

from .errors import IdmError
from .http import Response


def make_script_handler(server):
    def handle(request):
        if request.path:
            raise IdmError(404, f"Resource 'script/{'/'.join(request.path)}' not found")
        if request.method != "POST":
            raise IdmError(405, f"Method {request.method} not allowed on script")
        body = request.body
        if not isinstance(body, dict):
            raise IdmError(400, "The request body must be a script object with 'type' and 'source'")
        if request.action == "eval":
            return Response(200, server.scripts.evaluate(body))
        if request.action == "compile":
            return Response(200, server.scripts.compile(body))
        raise IdmError(400, f"Action {request.action} not supported on script")
    return handle
