# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a SCIM provider's discovery answers say: versions, core schemas, extensions, attributes.

PRIVATE to the collection: names here can change without notice. Pure functions of /ServiceProviderConfig,
/Schemas and /ResourceTypes answers (SCIM 2.0, RFC 7643 sections 5-7; SCIM 1.1 where it differs).
"""

from __future__ import annotations

V2_SPC_URN = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
V2_USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
V2_GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
V2_ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
V1_CORE_URN = "urn:scim:schemas:core:1.0"
V1_ENTERPRISE_URN = "urn:scim:schemas:extension:enterprise:1.0"


def list_resources(body):
    """Resources of a SCIM ListResponse; providers also answer a bare list."""
    if isinstance(body, list):
        return [item for item in body if isinstance(item, dict)]
    if isinstance(body, dict) and isinstance(body.get("Resources"), list):
        return [item for item in body["Resources"] if isinstance(item, dict)]
    return []


def answered_version(body):
    """2 or 1 from the ``schemas`` of a ServiceProviderConfig answer; None when it does not say."""
    schemas = body.get("schemas") if isinstance(body, dict) else None
    schemas = schemas if isinstance(schemas, list) else []
    if any(isinstance(urn, str) and urn.startswith("urn:ietf:params:scim:") for urn in schemas):
        return 2
    if any(isinstance(urn, str) and urn.startswith("urn:scim:schemas:") for urn in schemas):
        return 1
    return None


def _find_core_schema(schemas, version, resource):
    """The core schema of ``resource`` ("User" or "Group"): by its standard URN, else the schema named like it
    (SCIM 1.1 providers and providers with their own core URN)."""
    v2_urn = V2_USER_URN if resource == "User" else V2_GROUP_URN
    v1_ids = (V1_CORE_URN + ":" + resource, V1_CORE_URN + ":" + resource + "s")
    names = (resource.lower(), resource.lower() + "s")
    for schema in schemas:
        schema_id = schema.get("id") or ""
        if (version == 2 and schema_id == v2_urn) or (version == 1 and schema_id in v1_ids):
            return schema
    for schema in schemas:
        if (schema.get("name") or "").lower() in names:
            return schema
    return None


def find_user_schemas(schemas, version):
    """(core, enterprise extension) schema documents of the User resource; either may be None."""
    core = _find_core_schema(schemas, version, "User")
    extension = None
    if version == 2:
        extension = next((schema for schema in schemas if schema.get("id") == V2_ENTERPRISE_URN), None)
    return core, extension


def find_group_schema(schemas, version):
    return _find_core_schema(schemas, version, "Group")


def schema_extensions(resource_types):
    """``{resource type name: [{"schema": urn, "required": bool}, ...]}`` from a /ResourceTypes answer."""
    extensions = {}
    for resource_type in resource_types:
        name = resource_type.get("name") or resource_type.get("id")
        if not name:
            continue
        extensions[name] = [
            {"schema": item.get("schema"), "required": bool(item.get("required", False))}
            for item in resource_type.get("schemaExtensions") or []
            if isinstance(item, dict) and item.get("schema")]
    return extensions


def _user_resource_type_name(resource_types):
    """The name of the resource type whose core schema is the User schema (usually "User")."""
    for resource_type in resource_types:
        if resource_type.get("schema") == V2_USER_URN or (resource_type.get("endpoint") or "").rstrip("/") == "/Users":
            return resource_type.get("name") or resource_type.get("id")
    return None


def _attribute_entry(attribute, schema_urn, extension):
    mutability = attribute.get("mutability")
    if mutability is None:  # SCIM 1.1 has readOnly instead
        mutability = "readOnly" if attribute.get("readOnly") else "readWrite"
    entry = {
        "name": attribute["name"],
        "type": attribute.get("type"),
        "multi_valued": bool(attribute.get("multiValued", False)),
        "required": bool(attribute.get("required", False)),
        "mutability": mutability,
        "returned": attribute.get("returned"),
        "case_exact": bool(attribute.get("caseExact", False)),
        "schema": schema_urn,
        "extension": extension,
    }
    subs = [sub.get("name") for sub in attribute.get("subAttributes") or [] if isinstance(sub, dict)]
    if subs:
        entry["sub_attributes"] = [name for name in subs if name]
    return entry


def attribute_details(core, extension, default_urn):
    """The attributes of a core schema, then of its extension, one entry per top-level attribute.

    Names are top-level and unqualified (``name``, ``emails``, ``employeeNumber``), as IDM's SCIM connector names
    the account properties (the enterprise extension flattened in); complex ones list their ``sub_attributes``.
    SCIM 1.1 schemas mix core and extension attributes in one list; each attribute's ``schema`` tells them apart.
    """
    details = []
    sources = []
    if core:
        sources.append((core, core.get("id") or default_urn))
    if extension:
        sources.append((extension, extension.get("id") or V2_ENTERPRISE_URN))
    seen = set()
    for schema, schema_urn in sources:
        for attribute in schema.get("attributes") or []:
            if not isinstance(attribute, dict) or not attribute.get("name") or attribute["name"] in seen:
                continue
            seen.add(attribute["name"])
            urn = attribute.get("schema") or schema_urn
            details.append(_attribute_entry(attribute, urn, "extension" in urn))
    return details


def user_attribute_details(core, extension, version):
    """The User attributes, core then enterprise extension (see attribute_details)."""
    return attribute_details(core, extension, V2_USER_URN if version == 2 else V1_CORE_URN)


def schema_summary(schema):
    return {"id": schema.get("id"), "name": schema.get("name"), "description": schema.get("description"),
            "attribute_count": len(schema.get("attributes") or [])}
