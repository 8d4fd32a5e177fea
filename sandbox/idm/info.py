"""``info/ping``, ``info/version``, ``info/login`` and ``health/{live,ready}``.

``health/*`` bodies are UNCONFIRMED in the contract; the sandbox answers with the same shape as ``info/ping``
(200 when ready, 503 while starting). During ``--startup-delay`` ``info/ping`` answers 200 with state
``STARTING`` (as IDM's HealthService reports its state rather than failing) and every other endpoint 503.
"""

from .errors import IdmError
from .http import Response

PRODUCT_VERSION = "8.1.0-sandbox"
BUILD_DATE = "20250601000000"
REVISION = "sandbox"


def ping_body(ready):
    if ready:
        return {"_id": "", "state": "ACTIVE_READY", "shortDesc": "OpenIDM ready"}
    return {"_id": "", "state": "STARTING", "shortDesc": "OpenIDM starting"}


def make_info_handler(server):
    def handle(request):
        if request.method != "GET":
            raise IdmError(405, f"Method {request.method} not allowed on info")
        name = "/".join(request.path)
        if name == "ping":
            return Response(200, ping_body(server.ready))
        if name == "version":
            return Response(200, {"_id": "version", "productVersion": PRODUCT_VERSION,
                                  "productBuildDate": BUILD_DATE, "productRevision": REVISION})
        if name == "login":
            return Response(200, {"_id": "login", "authenticationId": request.principal,
                                  "authorization": {"id": request.principal, "roles": server.roles_of(request.principal),
                                                    "component": "internal/user"}})
        raise IdmError(404, f"Resource 'info/{name}' not found")
    return handle


def make_health_handler(server):
    def handle(request):
        if request.method != "GET":
            raise IdmError(405, f"Method {request.method} not allowed on health")
        name = "/".join(request.path)
        if name not in ("", "live", "ready"):
            raise IdmError(404, f"Resource 'health/{name}' not found")
        if not server.ready and name != "":
            raise IdmError(503, "OpenIDM starting")
        return Response(200, ping_body(server.ready))
    return handle
