"""SCIM 1.1 facade of the sandbox SCIM provider, over the SCIM 2.0 store (no second copy of the data).

No SCIM 1.1 server exists on PyPI or npm, so this translates 1.1 requests into 2.0 requests, serves them with the
same scim2-server handler, and translates the answers back:

* paths ``/scim/v1/Users[/{id}]``, ``/scim/v1/Groups[/{id}]``, ``/scim/v1/ServiceProviderConfigs`` (also singular,
  readable without auth), ``/scim/v1/Schemas``, ``/scim/v1/Schemas/{Users,Groups,<urn>}``;
* schema URNs ``urn:scim:schemas:core:1.0`` <-> the 2.0 User/Group core URNs, and
  ``urn:scim:schemas:extension:enterprise:1.0`` <-> the 2.0 enterprise extension (attribute key and ``schemas``);
* list responses ``{"schemas": ["urn:scim:schemas:core:1.0"], "totalResults", "itemsPerPage", "startIndex",
  "Resources"}``; errors ``{"Errors": [{"description", "code"}]}``; ``$ref`` and ``meta.resourceType`` are dropped;
  ``meta.location`` points at ``/scim/v1``;
* GET with ``filter``, ``sortBy``, ``sortOrder``, ``startIndex``, ``count``, ``attributes`` (1.1 and 2.0 filter
  syntax agree; URN-qualified attribute names are mapped);
* POST, PUT (full replace), DELETE, and the 1.1 PATCH form (a partial resource): ``meta.attributes`` lists
  attributes to remove (done first), multi-valued entries with ``"operation": "delete"`` are removed, other
  multi-valued entries are added, complex and simple attributes are replaced. PATCH answers 200 with the resource.

Not imitated: 1.1 Bulk, XML, ``/Me``, password change.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from scim2_models import Context, ScimProvider
from scim2_server.requests import ScimRequest
from scim2_server.responses import ScimResponse
from scim2_server.service import ScimService

from sandbox.scim.auth import Authenticator

V1_CORE = "urn:scim:schemas:core:1.0"
V1_ENTERPRISE = "urn:scim:schemas:extension:enterprise:1.0"
V2_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
V2_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
V2_ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
V2_PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
V2_PREFIX_URNS = (V2_USER, V2_GROUP)
V1_MEDIA_TYPE = "application/json"

_RESOURCE_ENDPOINTS = {"Users": V2_USER, "Groups": V2_GROUP}
_V1_ENTERPRISE_IN_NAMES = re.compile(re.escape(V1_ENTERPRISE) + r"[.:]")
_V1_CORE_IN_NAMES = re.compile(re.escape(V1_CORE) + r"[.:]")


def v1_name_to_v2(name: str) -> str:
    """Map a (possibly URN-qualified) 1.1 attribute name, filter or attribute list to its 2.0 spelling."""
    name = _V1_ENTERPRISE_IN_NAMES.sub(V2_ENTERPRISE + ":", name)
    return _V1_CORE_IN_NAMES.sub("", name)


def _error(status: int, description: str) -> ScimResponse:
    return ScimResponse(status, {"Errors": [{"description": description, "code": str(status)}]})  # type: ignore[arg-type]


class ScimV1Facade:
    """WSGI app serving ``/scim/v1`` by translation to the 2.0 app: ``serve_v2`` answers an authenticated 2.0
    request; ``service`` and ``provider`` give the discovery documents and the 401 challenge."""

    def __init__(
        self,
        authenticator: Authenticator,
        service: ScimService,
        provider: ScimProvider,
        serve_v2: Callable[[ScimRequest], ScimResponse],
    ) -> None:
        self.authenticator = authenticator
        self.service = service
        self.provider = provider
        self.serve_v2 = serve_v2

    # -- WSGI ---------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        response = self.serve(environ)
        body = b"" if response.body is None else json.dumps(response.body).encode()
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-type"}
        if response.body is not None:
            headers["Content-Type"] = V1_MEDIA_TYPE
        headers["Content-Length"] = str(len(body))
        start_response(f"{int(response.status)} {_phrase(int(response.status))}", list(headers.items()))
        return [body]

    def serve(self, environ: dict[str, Any]) -> ScimResponse:
        path = environ.get("PATH_INFO", "")[len("/scim/v1") :].rstrip("/") or "/"
        method = environ["REQUEST_METHOD"].upper()
        host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', '127.0.0.1')}:{environ.get('SERVER_PORT')}"
        root = f"{environ.get('wsgi.url_scheme', 'http')}://{host}{environ.get('SCRIPT_NAME', '')}"
        bases = (f"{root}/scim/v1", f"{root}/scim/v2")
        parts = [p for p in path.split("/") if p]

        if parts and parts[0] in ("ServiceProviderConfigs", "ServiceProviderConfig") and len(parts) == 1:
            if method != "GET":
                return _error(405, "Method not allowed")
            return self._service_provider_config(bases)

        subject = self.authenticator.authenticate(environ.get("HTTP_AUTHORIZATION"))
        if subject is None:
            response = _error(401, "Missing or invalid credentials")
            challenge = self.service.www_authenticate(_Unauthorized())
            if challenge:
                response.headers["WWW-Authenticate"] = challenge
            return response

        if parts and parts[0] == "Schemas":
            if method != "GET" or len(parts) > 2:
                return _error(405 if method != "GET" else 404, "Not supported")
            return self._schemas(parts[1] if len(parts) == 2 else None)
        if not parts or parts[0] not in _RESOURCE_ENDPOINTS or len(parts) > 2:
            return _error(404, "Not found")
        request = self._v2_request(environ, method, parts, bases[1])
        if isinstance(request, ScimResponse):
            return request
        request.subject = subject
        return self._to_v1(self.serve_v2(request), bases)

    @staticmethod
    def _v2_request(environ: dict[str, Any], method: str, parts: list[str], base: str) -> ScimRequest | ScimResponse:
        """The 2.0 request for a 1.1 request on Users/Groups, or the 1.1 error for a body that cannot be read."""
        endpoint = parts[0]
        resource_id = parts[1] if len(parts) == 2 else None
        query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        for key in ("filter", "attributes", "sortBy", "excludedAttributes"):
            if key in query:
                query[key] = v1_name_to_v2(query[key])
        headers = {k[5:].replace("_", "-"): v for k, v in environ.items() if k.startswith("HTTP_")}
        headers.pop("AUTHORIZATION", None)
        body_in = b""
        if method in ("POST", "PUT", "PATCH"):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length > 0 else b""
            try:
                document = json.loads(raw or b"null")
            except ValueError:
                return _error(400, "The body is not valid JSON")
            if not isinstance(document, dict):
                return _error(400, "The body must be a JSON object")
            if method == "PATCH":
                if resource_id is None:
                    return _error(405, "Method not allowed")
                operations = patch_operations(document)
                if not operations:
                    method = "GET"
                else:
                    body_in = json.dumps({"schemas": [V2_PATCH], "Operations": operations}).encode()
            else:
                body_in = json.dumps(resource_to_v2(document, _RESOURCE_ENDPOINTS[endpoint])).encode()
            headers["Content-Type"] = "application/scim+json"
        return ScimRequest(
            method=method,
            base_url=base,
            path=f"/{endpoint}" + (f"/{resource_id}" if resource_id else ""),
            query=query,
            headers=headers,
            body=body_in,
        )

    # -- answers -------------------------------------------------------------

    def _to_v1(self, response: ScimResponse, bases: tuple[str, str]) -> ScimResponse:
        headers = {
            k: v.replace(bases[1], bases[0])
            for k, v in response.headers.items()
            if k in ("Location", "ETag", "Content-Location", "WWW-Authenticate", "Allow")
        }
        body = response.body
        if body is None:
            return ScimResponse(response.status, None, headers)
        if int(response.status) >= 400:
            detail = body.get("detail") or response.status.phrase
            return ScimResponse(response.status, _error(int(response.status), detail).body, headers)
        if "Resources" in body or "totalResults" in body:
            converted = {
                "schemas": [V1_CORE],
                "totalResults": body.get("totalResults", 0),
                "itemsPerPage": body.get("itemsPerPage", len(body.get("Resources", []))),
                "startIndex": body.get("startIndex", 1),
                "Resources": [resource_to_v1(r, bases) for r in body.get("Resources", [])],
            }
            return ScimResponse(response.status, converted, headers)
        return ScimResponse(response.status, resource_to_v1(body, bases), headers)

    def _service_provider_config(self, bases: tuple[str, str]) -> ScimResponse:
        config = self.service.config.model_dump()
        body = {
            "schemas": [V1_CORE],
            "documentationUrl": None,
            "patch": config.get("patch", {"supported": True}),
            "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": config.get("filter", {"supported": True, "maxResults": 1000}),
            "changePassword": {"supported": False},
            "sort": config.get("sort", {"supported": True}),
            "etag": config.get("etag", {"supported": True}),
            "xmlDataFormat": {"supported": False},
            "authenticationSchemes": config.get("authenticationSchemes", []),
            "meta": {"location": f"{bases[0]}/ServiceProviderConfigs"},
        }
        body = {k: v for k, v in body.items() if v is not None}
        return ScimResponse(200, body)  # type: ignore[arg-type]

    def _schemas(self, which: str | None) -> ScimResponse:
        schemas = {s.id: s.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE) for s in self.provider.schemas}
        user = _schema_to_v1("User", "/Users", schemas[V2_USER], schemas.get(V2_ENTERPRISE))
        group = _schema_to_v1("Group", "/Groups", schemas[V2_GROUP], None)
        by_name = {"Users": user, "User": user, user["id"]: user, "Groups": group, "Group": group, group["id"]: group}
        if which is None:
            return ScimResponse(
                200,
                {  # type: ignore[arg-type]
                    "schemas": [V1_CORE],
                    "totalResults": 2,
                    "itemsPerPage": 2,
                    "startIndex": 1,
                    "Resources": [user, group],
                },
            )
        if which not in by_name:
            return _error(404, f"Schema {which!r} not found")
        return ScimResponse(200, by_name[which])  # type: ignore[arg-type]


class _Unauthorized(Exception):
    status = 401


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def resource_to_v1(resource: dict[str, Any], bases: tuple[str, str]) -> dict[str, Any]:
    """Translate a 2.0 User/Group (as the 2.0 app answered it) to 1.1; ``bases`` = (v1 URL, v2 URL)."""
    out: dict[str, Any] = {}
    for key, value in resource.items():
        if key == "schemas":
            mapped = [V1_CORE if s in V2_PREFIX_URNS else V1_ENTERPRISE if s == V2_ENTERPRISE else s for s in value]
            out["schemas"] = list(dict.fromkeys(mapped))
        elif key == V2_ENTERPRISE:
            out[V1_ENTERPRISE] = value
        elif key == "meta" and isinstance(value, dict):
            meta = {k: v for k, v in value.items() if k != "resourceType"}
            if "location" in meta:
                meta["location"] = meta["location"].replace(bases[1], bases[0])
            out["meta"] = meta
        elif key in ("members", "groups") and isinstance(value, list):
            out[key] = [{k: v for k, v in item.items() if k != "$ref"} for item in value]
        else:
            out[key] = value
    return out


def resource_to_v2(document: dict[str, Any], core_urn: str) -> dict[str, Any]:
    """Translate a 1.1 User/Group body (POST/PUT) to 2.0."""
    out: dict[str, Any] = {}
    schemas = [core_urn]
    for key, value in document.items():
        if key == "schemas":
            continue
        if key in (V1_ENTERPRISE, V2_ENTERPRISE):
            out[V2_ENTERPRISE] = value
            continue
        if key == "meta":
            continue
        if isinstance(value, list):
            value = [
                {k: v for k, v in item.items() if k != "operation"} if isinstance(item, dict) else item
                for item in value
                if not (isinstance(item, dict) and item.get("operation") == "delete")
            ]
        out[key] = value
    if V2_ENTERPRISE in out:
        schemas.append(V2_ENTERPRISE)
    return {"schemas": schemas, **out}


def _quote(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(str(value))


def patch_operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Translate a SCIM 1.1 PATCH body into SCIM 2.0 PatchOp operations (removals first, as 1.1 requires)."""
    removals: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    meta = document.get("meta")
    if isinstance(meta, dict):
        for name in meta.get("attributes") or []:
            removals.append({"op": "remove", "path": v1_name_to_v2(str(name))})
    for key, value in document.items():
        if key in ("schemas", "meta", "id", "groups"):
            continue
        if key in (V1_ENTERPRISE, V2_ENTERPRISE) and isinstance(value, dict):
            changes.extend(_set_or_remove(f"{V2_ENTERPRISE}:{sub}", sub_value) for sub, sub_value in value.items())
            continue
        if isinstance(value, list):
            added = []
            for item in value:
                if isinstance(item, dict) and item.get("operation") == "delete":
                    criteria = {k: v for k, v in item.items() if k != "operation" and not isinstance(v, (dict, list))}
                    if "value" in criteria:
                        criteria = {"value": criteria["value"]}
                    if not criteria:
                        removals.append({"op": "remove", "path": key})
                        continue
                    condition = " and ".join(f"{k} eq {_quote(v)}" for k, v in criteria.items())
                    removals.append({"op": "remove", "path": f"{key}[{condition}]"})
                elif isinstance(item, dict):
                    added.append({k: v for k, v in item.items() if k != "operation"})
                else:
                    added.append(item)
            if added:
                changes.append({"op": "add", "path": key, "value": added})
            continue
        if isinstance(value, dict):
            changes.extend(_set_or_remove(f"{key}.{sub}", sub_value) for sub, sub_value in value.items())
            continue
        changes.append(_set_or_remove(key, value))
    return removals + changes


def _set_or_remove(path: str, value: Any) -> dict[str, Any]:
    """The 2.0 operation for a 1.1 PATCH value: null removes the attribute, anything else replaces it."""
    return {"op": "remove", "path": path} if value is None else {"op": "replace", "path": path, "value": value}


def _attribute_to_v1(attribute: dict[str, Any], schema_urn: str) -> dict[str, Any]:
    converted = {
        "name": attribute.get("name"),
        "type": attribute.get("type"),
        "multiValued": bool(attribute.get("multiValued", False)),
        "description": attribute.get("description", ""),
        "schema": schema_urn,
        "readOnly": attribute.get("mutability") == "readOnly",
        "required": bool(attribute.get("required", False)),
        "caseExact": bool(attribute.get("caseExact", False)),
    }
    if attribute.get("subAttributes"):
        converted["subAttributes"] = [_attribute_to_v1(sub, schema_urn) for sub in attribute["subAttributes"]]
    return converted


def _schema_to_v1(name: str, endpoint: str, core: dict[str, Any], extension: dict[str, Any] | None) -> dict[str, Any]:
    attributes = [_attribute_to_v1(a, V1_CORE) for a in core.get("attributes", [])]
    for common in ("id", "externalId"):
        attributes.insert(
            0,
            {
                "name": common,
                "type": "string",
                "multiValued": False,
                "description": common,
                "schema": V1_CORE,
                "readOnly": common == "id",
                "required": common == "id",
                "caseExact": True,
            },
        )
    if extension:
        attributes += [_attribute_to_v1(a, V1_ENTERPRISE) for a in extension.get("attributes", [])]
    return {
        "id": f"{V1_CORE}:{name}",
        "name": name,
        "description": core.get("description") or name,
        "schema": V1_CORE,
        "endpoint": endpoint,
        "attributes": attributes,
    }
