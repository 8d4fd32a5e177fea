"""The WSGI application of the sandbox SCIM provider.

``build_app(...)`` returns a ``ProviderApp``: one WSGI callable that routes

* ``/scim/v2/...``       scim2-server's ``WSGIApplication`` (SCIM 2.0), with auth in ``check_auth`` and
                          ``ServiceProviderConfig`` readable without auth;
* ``/scim/v1/...``       the SCIM 1.1 facade (``sandbox.scim.v1``) over the same store;
* ``/oauth2/token``      the client_credentials token endpoint (``sandbox.scim.auth``);
* ``/__sandbox/faults``  the fault hook (``sandbox.scim.faults``); faults hit ``/scim`` and ``/oauth2`` only.

It also writes the optional access log (``<iso> <method> <path> <status> <ms>``: no query, no header, no body) and
owns the debounced state file. What is changed in scim2-server's behaviour: PATCH always answers 200 with the
resource (``ProviderService.patch_response``); the storage gaps are closed in ``sandbox.scim.storage``. Quirks
(``sandbox.scim.quirks``) make it behave like other providers: ``no_enterprise`` shapes the discovery documents
(``build_provider``) and refuses writes (``ProviderService.read_*``), ``ignore_count`` changes the search
(``ProviderService.read_search``); the others act in the storage.
"""

from __future__ import annotations

import datetime
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

from scim2_models import (
    Context,
    Resource,
    ResourceType,
    ResponseParameters,
    ScimProvider,
    SearchRequest,
    UnauthorizedException,
)
from scim2_server.applications.wsgi import WSGIApplication, send_response
from scim2_server.requests import ScimRequest
from scim2_server.responses import ScimResponse
from scim2_server.service import ScimService
from scim2_server.storage import SearchPage
from scim2_server.utils import load_default_resource_types, load_default_schemas, load_default_service_provider_config

from sandbox.scim import seed as seed_module
from sandbox.scim.auth import Authenticator, TokenEndpoint
from sandbox.scim.faults import FAULT_PATH, FaultInjector
from sandbox.scim.persistence import StateWriter, read_state, write_atomically
from sandbox.scim.quirks import (
    ENTERPRISE_URN,
    IGNORE_COUNT,
    NO_ENTERPRISE,
    adjust_seed,
    adjust_state,
    refuse_enterprise,
)
from sandbox.scim.storage import GROUP, USER, ProviderStorage
from sandbox.scim.v1 import ScimV1Facade

SCIM_PREFIX = "/scim"
V2_PREFIX = "/scim/v2"
V1_PREFIX = "/scim/v1"
TOKEN_PATH = "/oauth2/token"


LIST_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
LISTED_CACHE_SIZE = 25_000


class ProviderService(ScimService):
    """scim2-server's service with two changes.

    * PATCH answers 200 with the resource (RFC 7644 allows 204; IDM's connector expects the resource).
    * Index-paged list responses reuse the serialized form of resources that did not change. Publishing and dumping
      a resource through scim2-models costs about 1 ms, which dominates paging through thousands of users; the
      store replaces (never mutates) a stored object on every change, so the object's identity is a safe cache
      key. The list body is assembled as a dict instead of being validated again through ``ListResponse``.
    """

    def __init__(
        self, provider: ScimProvider, storage: ProviderStorage | None = None, quirks: frozenset[str] = frozenset()
    ) -> None:
        super().__init__(provider)
        self.storage = storage
        self.quirks = quirks
        self._listed: OrderedDict[tuple[Any, ...], tuple[Resource[Any], dict[str, Any]]] = OrderedDict()
        self._listed_lock = threading.Lock()

    # -- quirks -------------------------------------------------------------

    def _refuse_enterprise(self, body: bytes, *, patch: bool) -> None:
        """``no_enterprise``: 400 invalidPath before anything is validated or applied (so PATCH stays atomic)."""
        if NO_ENTERPRISE not in self.quirks:
            return
        try:
            document = json.loads(body or b"null")
        except ValueError:
            return  # scim2-server answers invalidSyntax
        refuse_enterprise(document, patch=patch)

    def read_creation(self, resource_type: ResourceType, body: bytes, content_type: str | None) -> Resource[Any]:
        self._refuse_enterprise(body, patch=False)
        return super().read_creation(resource_type, body, content_type)

    def read_replacement(self, resource_type: ResourceType, body: bytes, content_type: str | None) -> Resource[Any]:
        self._refuse_enterprise(body, patch=False)
        return super().read_replacement(resource_type, body, content_type)

    def read_patch(self, resource_type: ResourceType, body: bytes, content_type: str | None) -> Any:
        self._refuse_enterprise(body, patch=True)
        return super().read_patch(resource_type, body, content_type)

    def read_search(self, resource_types: list[ResourceType], payload: Any) -> tuple[SearchRequest[Any], Any]:
        search_request, position = super().read_search(resource_types, payload)
        if IGNORE_COUNT in self.quirks and search_request.cursor is None:
            search_request.count = None  # every match from startIndex on, in one page
        return search_request, position

    # -- answers -------------------------------------------------------------

    def search_response(
        self, base_url: str, resource_types: list[ResourceType], page: SearchPage, search_request: SearchRequest[Any]
    ) -> ScimResponse:
        if search_request.cursor is not None or self.storage is None or page.total is None:
            return super().search_response(base_url, resource_types, page, search_request)
        resources = [self._listed_form(base_url, resource, search_request) for resource in page.resources]
        body = {
            "schemas": [LIST_RESPONSE_SCHEMA],
            "totalResults": page.total,
            "startIndex": search_request.start_index,
            "itemsPerPage": len(resources),
            "Resources": resources,
        }
        return ScimResponse(HTTPStatus.OK, body)

    def _listed_form(
        self, base_url: str, resource: Resource[Any], search_request: SearchRequest[Any]
    ) -> dict[str, Any]:
        key = (
            resource.meta.resource_type if resource.meta else None,
            resource.id,
            base_url,
            str(search_request.attributes),
            str(search_request.excluded_attributes),
        )
        with self._listed_lock:
            hit = self._listed.get(key)
            if hit is not None and hit[0] is resource:
                self._listed.move_to_end(key)
                return hit[1]
        dumped = self.publish(base_url, resource).model_dump(
            scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=search_request
        )
        assert self.storage is not None
        if self.storage.is_stored(resource):  # copies (e.g. from a sorted search) would never hit again
            with self._listed_lock:
                self._listed[key] = (resource, dumped)
                self._listed.move_to_end(key)
                while len(self._listed) > LISTED_CACHE_SIZE:
                    self._listed.popitem(last=False)
        return dumped

    def patch_response(
        self, base_url: str, resource: Resource[Any], response_parameters: ResponseParameters[Any]
    ) -> ScimResponse:
        return self.resource_response(
            self.publish(base_url, resource), Context.RESOURCE_PATCH_RESPONSE, response_parameters
        )


class ProviderScimApplication(WSGIApplication):
    """scim2-server's WSGI app with the provider's authentication."""

    def __init__(
        self, storage: ProviderStorage, provider: ScimProvider, service: ScimService, authenticator: Authenticator
    ):
        super().__init__(storage, provider, service)
        self.authenticator = authenticator

    def check_auth(self, request: ScimRequest) -> None:
        subject = self.authenticator.authenticate(request.header("Authorization"))
        if subject is None:
            raise UnauthorizedException(detail="Missing or invalid credentials")
        request.subject = subject

    def get_subject(self, request: ScimRequest) -> Any:
        return request.subject

    def serve_internal(self, request: ScimRequest) -> ScimResponse:
        """Serve an already authenticated request (used by the SCIM 1.1 facade)."""
        try:
            response = self.handler.handle(request)
        except Exception as exception:
            response = self.handle_exception(request, exception)
        return self.finalize_response(request, response)


class AccessLog:
    """Appends ``<iso-time> <method> <path> <status> <ms>`` lines; never a query string, header or body."""

    def __init__(self, path: str | os.PathLike[str]):
        self._handle = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - closed in close()
        self._lock = threading.Lock()

    def write(self, method: str, path: str, status: str, millis: float) -> None:
        stamp = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
        line = f"{stamp} {method} {path} {status.split(' ', 1)[0]} {millis:.1f}\n"
        with self._lock:
            self._handle.write(line)

    def close(self) -> None:
        with self._lock:
            self._handle.close()


def build_provider(authenticator: Authenticator, quirks: frozenset[str] = frozenset()) -> ScimProvider:
    config = load_default_service_provider_config()
    config.authentication_schemes = authenticator.schemes() or None
    config.documentation_uri = None
    schemas = load_default_schemas()
    resource_types = load_default_resource_types()
    if NO_ENTERPRISE in quirks:
        # Neither /Schemas nor /ResourceTypes advertise the extension, and the User model does not have it.
        schemas.pop(ENTERPRISE_URN, None)
        for resource_type in resource_types.values():
            resource_type.schema_extensions = [
                ext for ext in resource_type.schema_extensions or [] if str(ext.schema_) != ENTERPRISE_URN
            ] or None
    return ScimProvider.from_discovery(schemas.values(), resource_types.values(), config=config)


class ProviderApp:
    """The whole provider as one WSGI callable. Create it with ``build_app``; call ``close()`` when done."""

    def __init__(
        self,
        *,
        authenticator: Authenticator,
        strict_members: bool,
        state_path: str | os.PathLike[str] | None,
        access_log: str | os.PathLike[str] | None,
        state_interval: float,
        quirks: frozenset[str] = frozenset(),
    ) -> None:
        self.authenticator = authenticator
        self.quirks = quirks
        self.provider = build_provider(authenticator, quirks)
        self.storage = ProviderStorage(strict_members=strict_members, quirks=quirks)
        self.service = ProviderService(self.provider, self.storage, quirks)
        self.resource_types = {rt.name: rt for rt in self.provider.resource_types}
        self.storage.bind_models(
            self.service.get_model(self.resource_types[USER]), self.service.get_model(self.resource_types[GROUP])
        )
        self.scim = ProviderScimApplication(self.storage, self.provider, self.service, authenticator)
        self.token_endpoint = TokenEndpoint(authenticator)
        self.faults = FaultInjector()
        self.access_log = AccessLog(access_log) if access_log else None
        self.state_writer = (
            StateWriter(state_path, self.storage.export_state_json, state_interval) if state_path else None
        )
        self.v1 = ScimV1Facade(authenticator, self.service, self.provider, self.scim.serve_internal)

    # -- lifecycle ----------------------------------------------------------

    def load_or_seed(self, seed: tuple[int, int, str] | None) -> str:
        """Load the state file; seed only when it does not exist. Returns 'loaded', 'seeded' or 'empty'."""
        state = read_state(self.state_writer.path) if self.state_writer else None
        if state is not None:
            self.storage.load_state(adjust_state(state, self.quirks))
            outcome = "loaded"
        elif seed is not None and (seed[0] or seed[1]):
            data = adjust_seed(seed_module.generate(*seed), self.quirks)
            self.storage.load_resources(data["Users"], data["Groups"])
            if self.state_writer:
                write_atomically(self.state_writer.path, self.storage.export_state_json())
            outcome = "seeded"
        else:
            outcome = "empty"
        if self.state_writer:
            self.storage.on_change = self.state_writer.mark_dirty
            self.state_writer.start()
        return outcome

    def close(self) -> None:
        """Flush the state file and close the access log."""
        if self.state_writer:
            self.state_writer.close()
        if self.access_log:
            self.access_log.close()

    # -- WSGI -----------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        started = time.perf_counter()
        pending: dict[str, Any] = {}

        def deferred_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            pending.update(status=status, headers=headers)
            return lambda data: None  # every route returns its body; nobody uses write()

        # Every route answers with a list of bytes, so the length is known: send Content-Length instead of
        # letting cheroot fall back to chunked encoding.
        body = list(self._route(environ, deferred_start_response))
        headers = [(k, v) for k, v in pending["headers"] if k.lower() != "content-length"]
        headers.append(("Content-Length", str(sum(len(chunk) for chunk in body))))
        start_response(pending["status"], headers)
        if self.access_log is not None:
            self.access_log.write(
                environ.get("REQUEST_METHOD", "-"),
                environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""),
                pending["status"],
                (time.perf_counter() - started) * 1000,
            )
        return body

    def _route(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        if path == FAULT_PATH:
            return self.faults.admin(environ, start_response)
        faulted = path == SCIM_PREFIX or path.startswith(SCIM_PREFIX + "/") or path.startswith("/oauth2/")
        if faulted:
            delay, failure = self.faults.decide()
            if delay:
                time.sleep(delay)
            if failure is not None:
                return self._fault_response(failure, start_response)
        if path == TOKEN_PATH:
            return self.token_endpoint(environ, start_response)
        if path == V2_PREFIX or path.startswith(V2_PREFIX + "/"):
            # scim2-server builds its URLs from SCRIPT_NAME and expects PATH_INFO to start with /v2.
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + SCIM_PREFIX
            environ["PATH_INFO"] = path[len(SCIM_PREFIX) :]
            return self.scim(environ, start_response)
        if path == V1_PREFIX or path.startswith(V1_PREFIX + "/"):
            return self.v1(environ, start_response)
        return self._not_found(start_response)

    @staticmethod
    def _fault_response(status: int, start_response: Any) -> Iterable[bytes]:
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
        body = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
            "status": str(status),
            "detail": f"Injected fault ({phrase})",
        }
        headers = {"Retry-After": "1"} if status == 503 else {}
        return send_response(ScimResponse(HTTPStatus(status), body, headers), start_response)

    @staticmethod
    def _not_found(start_response: Any) -> Iterable[bytes]:
        body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "404", "detail": "Not found"}
        return send_response(ScimResponse(HTTPStatus.NOT_FOUND, body), start_response)


def build_app(
    *,
    clients: Mapping[str, str] | None = None,
    static_tokens: Iterable[str] = (),
    basic_users: Mapping[str, str] | None = None,
    token_ttl: float = 3600,
    strict_members: bool = True,
    state_path: str | os.PathLike[str] | None = None,
    seed: tuple[int, int, str] | None = None,
    access_log: str | os.PathLike[str] | None = None,
    state_interval: float = 1.0,
    quirks: Iterable[str] = (),
) -> ProviderApp:
    """Build the provider WSGI app, load its state (or seed it) and start the state writer.

    ``seed`` is ``(n_users, n_groups, salt)`` and is used only when ``state_path`` does not exist yet. ``quirks``
    are names from ``sandbox.scim.quirks.QUIRKS`` (validated by the caller).
    """
    app = ProviderApp(
        quirks=frozenset(quirks),
        authenticator=Authenticator(clients, static_tokens, basic_users, token_ttl),
        strict_members=strict_members,
        state_path=state_path,
        access_log=access_log,
        state_interval=state_interval,
    )
    app.load_outcome = app.load_or_seed(seed)
    return app
