"""How the SCIM connector maps IDM system objects to SCIM resources and back, driven by the provisioner's
``objectTypes`` (draft-03 JSON schemas with ``nativeName``/``nativeType``/``flags``), as OpenICF does.

- ``account`` (``__ACCOUNT__``) is ``/Users``, ``group`` (``__GROUP__``) is ``/Groups``; the key name is used when
  ``nativeType`` is absent.
- ``__NAME__`` is ``userName`` for users and ``displayName`` for groups; ``__PASSWORD__`` is ``password``.
- ``_id`` is the SCIM ``id``.
- The flattened enterprise-extension attributes live under the extension schema URN on the SCIM side.
- Only attributes declared in the object type travel; ``NOT_CREATABLE``/``NOT_UPDATEABLE``/``NOT_READABLE``/
  ``NOT_RETURNED_BY_DEFAULT`` flags are honoured.
"""

from __future__ import annotations

CORE_SCHEMA_V2 = {
    "account": "urn:ietf:params:scim:schemas:core:2.0:User",
    "group": "urn:ietf:params:scim:schemas:core:2.0:Group",
}
CORE_SCHEMA_V1 = "urn:scim:schemas:core:1.0"
ENTERPRISE_V2 = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ENTERPRISE_V1 = "urn:scim:schemas:extension:enterprise:1.0"
ENTERPRISE_ATTRIBUTES = frozenset({"employeeNumber", "costCenter", "organization", "division", "department", "manager"})

NATIVE_KINDS = {"__ACCOUNT__": "account", "__GROUP__": "group"}
ENDPOINTS = {"account": "/Users", "group": "/Groups"}
NAME_ATTRIBUTE = {"account": "userName", "group": "displayName"}


class ObjectTypeError(Exception):
    """The object type is not one this connector supports."""


class ObjectType:
    """One entry of ``objectTypes``: knows its SCIM endpoint and converts objects in both directions."""

    def __init__(self, key, schema, scim_version):
        self.key = key
        self.schema = schema or {}
        self.kind = NATIVE_KINDS.get(self.schema.get("nativeType")) or NATIVE_KINDS.get(self.schema.get("id"))
        if self.kind is None and key in ENDPOINTS:
            self.kind = key
        if self.kind is None:
            raise ObjectTypeError(f"Unsupported object type {key!r}: nativeType must be __ACCOUNT__ or __GROUP__")
        self.endpoint = ENDPOINTS[self.kind]
        self.scim_version = scim_version
        self.enterprise_urn = ENTERPRISE_V2 if scim_version == 2 else ENTERPRISE_V1
        # property name -> (native attribute, flags, in enterprise extension)
        self.attributes = {}
        for prop, spec in (self.schema.get("properties") or {}).items():
            if prop == "_id":
                continue
            spec = spec or {}
            native = spec.get("nativeName") or prop
            if native == "__NAME__":
                native = NAME_ATTRIBUTE[self.kind]
            elif native == "__PASSWORD__":
                native = "password"
            flags = frozenset(spec.get("flags") or ())
            enterprise = self.kind == "account" and native in ENTERPRISE_ATTRIBUTES
            self.attributes[prop] = (native, flags, enterprise)
        self._by_native = {native: prop for prop, (native, _f, _e) in self.attributes.items()}

    @property
    def core_schema(self):
        return CORE_SCHEMA_V2[self.kind] if self.scim_version == 2 else CORE_SCHEMA_V1

    def readable(self, prop):
        flags = self.attributes[prop][1]
        return "NOT_READABLE" not in flags and "NOT_RETURNED_BY_DEFAULT" not in flags

    def native_path(self, prop):
        """The SCIM attribute path of an IDM property (for filters and PATCH paths), or None if unknown."""
        if prop in ("_id", "__UID__"):
            return "id"
        if prop == "__NAME__":
            return NAME_ATTRIBUTE[self.kind]
        head, _, rest = prop.strip("/").replace("/", ".").partition(".")
        if head not in self.attributes:
            return None
        native, _flags, enterprise = self.attributes[head]
        path = f"{native}.{rest}" if rest else native
        return f"{self.enterprise_urn}:{path}" if enterprise else path

    def to_idm(self, resource):
        """A SCIM resource as the IDM system object: ``_id`` plus the readable declared attributes present."""
        obj = {"_id": resource.get("id")}
        extension = resource.get(self.enterprise_urn) or {}
        for prop, (native, _flags, enterprise) in self.attributes.items():
            if not self.readable(prop):
                continue
            value = extension.get(native) if enterprise else resource.get(native)
            if value is not None:
                obj[prop] = value
        return obj

    def _writable_items(self, obj, forbidden_flag):
        for prop, value in obj.items():
            spec = self.attributes.get(prop)
            if spec is None or forbidden_flag in spec[1]:
                continue  # undeclared or read-only attributes are dropped, as OpenICF does
            yield prop, spec, value

    def to_scim(self, obj):
        """A full SCIM resource for create (POST) or full replace (PUT)."""
        resource = {"schemas": [self.core_schema]}
        extension = {}
        for _prop, (native, _flags, enterprise), value in self._writable_items(obj, "NOT_CREATABLE"):
            if value is None:
                continue
            (extension if enterprise else resource)[native] = value
        if extension:
            resource[self.enterprise_urn] = extension
            if self.scim_version == 2:
                resource["schemas"].append(self.enterprise_urn)
        return resource

    def patch_v2(self, obj, use_path):
        """SCIM 2.0 PatchOp replacing each given attribute's whole value (the connector never sends add/remove
        for values; a null value removes the attribute)."""
        operations = []
        bulk_value = {}
        for prop, (native, _flags, enterprise), value in self._writable_items(obj, "NOT_UPDATEABLE"):
            path = self.native_path(prop)
            if value is None:
                operations.append({"op": "remove", "path": path})
            elif use_path:
                operations.append({"op": "replace", "path": path, "value": value})
            elif enterprise:
                bulk_value.setdefault(self.enterprise_urn, {})[native] = value
            else:
                bulk_value[native] = value
        if bulk_value:
            operations.insert(0, {"op": "replace", "value": bulk_value})
        return {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations}

    def patch_v1(self, obj):
        """SCIM 1.1 PATCH: a partial resource; attributes to clear (and multi-valued ones being replaced as a
        whole) are listed in ``meta.attributes``."""
        resource = {"schemas": [self.core_schema]}
        extension = {}
        cleared = []
        for prop, (native, _flags, enterprise), value in self._writable_items(obj, "NOT_UPDATEABLE"):
            if value is None or isinstance(value, list):
                cleared.append(self.native_path(prop))
            if value is not None:
                (extension if enterprise else resource)[native] = value
        if extension:
            resource[self.enterprise_urn] = extension
        if cleared:
            resource["meta"] = {"attributes": cleared}
        return resource


_READONLY = ["NOT_CREATABLE", "NOT_UPDATEABLE"]


def _strings(*names):
    return {n: {"type": "string", "nativeName": n, "nativeType": "string"} for n in names}


def _account_properties():
    readonly = _READONLY
    account = {"userName": {"type": "string", "nativeName": "__NAME__", "nativeType": "string", "required": True}}
    account.update(
        _strings(
            "displayName",
            "nickName",
            "profileUrl",
            "title",
            "userType",
            "preferredLanguage",
            "locale",
            "timezone",
            "externalId",
            "employeeNumber",
            "costCenter",
            "organization",
            "division",
            "department",
        )
    )
    account["active"] = {"type": "boolean", "nativeName": "active", "nativeType": "boolean"}
    for name in ("name", "manager"):
        account[name] = {"type": "object", "nativeName": name, "nativeType": "object"}
    account["meta"] = {"type": "object", "nativeName": "meta", "nativeType": "object", "flags": readonly}
    for name in ("emails", "phoneNumbers", "ims", "photos", "addresses", "entitlements", "roles", "x509Certificates"):
        account[name] = {
            "type": "array",
            "items": {"type": "object", "nativeType": "object"},
            "nativeName": name,
            "nativeType": "object",
        }
    account["groups"] = {
        "type": "array",
        "items": {"type": "object", "nativeType": "object"},
        "nativeName": "groups",
        "nativeType": "object",
        "flags": readonly,
    }
    account["__PASSWORD__"] = {
        "type": "string",
        "nativeName": "__PASSWORD__",
        "nativeType": "JAVA_TYPE_GUARDEDSTRING",
        "flags": ["NOT_READABLE", "NOT_RETURNED_BY_DEFAULT"],
    }
    return account


def default_object_types():
    """The objectTypes of the sample's provisioner.openicf-scim.json (used by createFullConfig)."""
    readonly = _READONLY
    account = _account_properties()
    group = {
        "displayName": {"type": "string", "nativeName": "__NAME__", "nativeType": "string", "required": True},
        "members": {
            "type": "array",
            "items": {"type": "object", "nativeType": "object"},
            "nativeName": "members",
            "nativeType": "object",
        },
        "externalId": {"type": "string", "nativeName": "externalId", "nativeType": "string"},
        "meta": {"type": "object", "nativeName": "meta", "nativeType": "object", "flags": readonly},
    }
    return {
        "account": {
            "$schema": "http://json-schema.org/draft-03/schema",
            "id": "__ACCOUNT__",
            "type": "object",
            "nativeType": "__ACCOUNT__",
            "properties": account,
        },
        "group": {
            "$schema": "http://json-schema.org/draft-03/schema",
            "id": "__GROUP__",
            "type": "object",
            "nativeType": "__GROUP__",
            "properties": group,
        },
    }
