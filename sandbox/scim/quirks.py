"""Provider quirks: switches that make the sandbox SCIM provider behave like other real SCIM 2.0 providers.

IDM is pointed at Okta, Entra ID, Salesforce, Slack and home-grown gateways, not at scim2-server. Each quirk is one
behaviour such a provider has, so the collection's templates and role can be tested against it
(``python -m sandbox.scim --quirk NAME``, repeatable, or ``SCIM_SANDBOX_QUIRKS="a,b"``).

What the provider does without any quirk (scim2-server 0.8.3 plus ``sandbox.scim.storage``), and what each quirk
changes:

``omit_unassigned``
    RFC 7643 §2.5: unassigned attributes, ``null`` and ``[]`` are the same state, and "MAY be omitted" from a
    representation. *Default*: scim2-server already leaves out every attribute that is ``null``, ``[]`` or ``{}``
    (also inside complex and multi-valued attributes, and an extension object that ends up empty), but it keeps the
    empty string ``""`` as a value. *Quirk*: an empty string is unassigned too (as in Entra ID and Okta, where an
    empty string clears an attribute): a write that sets ``""`` leaves the attribute unassigned, and no answer ever
    carries ``null``, ``""``, ``[]`` or ``{}``. Because a switch about unassigned attributes proves nothing when
    every attribute has a value, the seed of such a provider leaves ``title`` and ``phoneNumbers`` unassigned on
    every third user.
``compute_name_formatted``
    RFC 7643 §4.1.1 (``name.formatted`` is "the full name ... formatted for display") and RFC 7644 §3.3/§3.5.1
    ("the server is free to alter and/or ignore POSTed content"; the answer carries the resource as stored).
    *Default*: ``name.formatted`` is stored exactly as the client sent it, and is absent when the client sent none.
    *Quirk*: every write of a user sets ``name.formatted`` to ``"<givenName> <familyName>"`` (the parts present,
    joined by one space; unassigned when both are missing), whatever the client sent.
``no_enterprise``
    RFC 7643 §3/§6/§7: a provider advertises the extensions it supports in ``/ResourceTypes``
    (``schemaExtensions``) and ``/Schemas``, and may support none. *Default*: the User resource type has the
    enterprise extension (``required: false``) and ``/Schemas`` lists it. *Quirk*: neither ``/Schemas`` nor
    ``/ResourceTypes`` advertise it, and every write that uses it (an extension attribute, the extension object or
    its URN in ``schemas`` on POST/PUT, a PATCH ``path`` in the extension, including a ``remove``, or a PATCH value
    key in it) is refused with 400 ``scimType: invalidPath`` (RFC 7644 §3.5.2, §3.12). PATCH is atomic (RFC 7644
    §3.5.2: "if an error occurs, the resource is not modified"): nothing of a refused PATCH is applied. A filter on
    an extension attribute gets 400 ``invalidFilter`` from scim2-server itself. The seed and a state file written
    without the quirk lose their enterprise data on load.
``bare_members``
    RFC 7643 §4.2 and §8.7.1: of a group member only ``value`` matters; ``$ref`` and ``type`` are optional and
    ``display`` is not even in the standard schema of ``members``. *Default*: the provider answers every member with
    ``value``, ``$ref``, ``type`` and ``display`` (a client-sent display is kept, otherwise computed). *Quirk*:
    members are stored and answered as ``{"value": id}`` only (client-sent ``display``/``$ref``/``type`` are
    dropped); ``User.groups`` is unchanged.
``ignore_count``
    RFC 7644 §3.4.2.4 says the provider "MUST NOT return more results than specified" by ``count``; providers that
    do not implement paging return everything anyway, so this is a non-conformance a client meets in the field and
    must survive (its paging loop has to end on ``totalResults``/``itemsPerPage``). *Default*: ``count`` is honoured
    (capped at ``filter.maxResults`` = 1000, ``count=0`` gives the total only). *Quirk*: list and ``.search``
    answers ignore ``count``: every matching resource from ``startIndex`` on, in one page, ``itemsPerPage`` = their
    number.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable
from typing import Any

from scim2_models import InvalidPathException

OMIT_UNASSIGNED = "omit_unassigned"
COMPUTE_NAME_FORMATTED = "compute_name_formatted"
NO_ENTERPRISE = "no_enterprise"
BARE_MEMBERS = "bare_members"
IGNORE_COUNT = "ignore_count"
QUIRKS = (OMIT_UNASSIGNED, COMPUTE_NAME_FORMATTED, NO_ENTERPRISE, BARE_MEMBERS, IGNORE_COUNT)
ENV_VAR = "SCIM_SANDBOX_QUIRKS"

ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
# Attributes the omit_unassigned seed leaves unassigned on every third user (the ones issue 14 saw sent as null).
SPARSE_ATTRIBUTES = ("title", "phoneNumbers")


def parse_quirks(values: Iterable[str]) -> frozenset[str]:
    """Validate quirk names (comma-separated items allowed); raise ValueError naming the unknown ones."""
    names = {item.strip() for value in values for item in value.split(",") if item.strip()}
    unknown = sorted(names - set(QUIRKS))
    if unknown:
        raise ValueError(f"unknown quirk(s) {', '.join(unknown)}; known: {', '.join(QUIRKS)}")
    return frozenset(names)


def quirks_from_env() -> list[str]:
    return [os.environ.get(ENV_VAR, "")]


def is_unassigned(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def without_unassigned(value: Any) -> Any:
    """A copy of a JSON value with every null, "", [] and {} left out, at every depth (RFC 7643 §2.5)."""
    if isinstance(value, dict):
        cleaned = {key: without_unassigned(item) for key, item in value.items()}
        return {key: item for key, item in cleaned.items() if not is_unassigned(item)}
    if isinstance(value, list):
        cleaned_items = [without_unassigned(item) for item in value]
        return [item for item in cleaned_items if not is_unassigned(item)]
    return value


def formatted_name(name: dict[str, Any] | None) -> str | None:
    """``"<givenName> <familyName>"`` from the parts that have a value, or None."""
    parts = [(name or {}).get(key) for key in ("givenName", "familyName")]
    text = " ".join(part.strip() for part in parts if isinstance(part, str) and part.strip())
    return text or None


def _uses_enterprise(key: str) -> bool:
    folded = key.casefold()
    return folded == ENTERPRISE_URN.casefold() or folded.startswith(ENTERPRISE_URN.casefold() + ":")


def enterprise_reference(document: Any, *, patch: bool) -> str | None:
    """The first place where a request body uses the enterprise extension, or None.

    For a resource (POST/PUT): a top-level key in the extension or its URN in ``schemas``. For a PatchOp: an
    operation ``path`` in the extension, or a key of an operation's object ``value`` in it.
    """
    if not isinstance(document, dict):
        return None
    if patch:
        for index, operation in enumerate(document.get("Operations") or []):
            if not isinstance(operation, dict):
                continue
            path = operation.get("path")
            if isinstance(path, str) and _uses_enterprise(path.strip()):
                return f"Operations[{index}].path {path}"
            value = operation.get("value")
            if isinstance(value, dict):
                for key in value:
                    if _uses_enterprise(key):
                        return f"Operations[{index}].value key {key}"
        return None
    for key in document:
        if _uses_enterprise(key):
            return f"attribute {key}"
    for schema in document.get("schemas") or []:
        if isinstance(schema, str) and _uses_enterprise(schema):
            return f"schemas entry {schema}"
    return None


def refuse_enterprise(document: Any, *, patch: bool) -> None:
    """Raise 400 invalidPath when a write uses the enterprise extension the provider does not support."""
    where = enterprise_reference(document, patch=patch)
    if where is not None:
        raise InvalidPathException(
            detail=f"The enterprise extension {ENTERPRISE_URN} is not supported by this provider ({where})"
        )


def strip_enterprise(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource dict without the enterprise extension (its object and its URN in ``schemas``)."""
    out = {key: value for key, value in resource.items() if not _uses_enterprise(key)}
    if "schemas" in out:
        out["schemas"] = [s for s in out["schemas"] if not (isinstance(s, str) and _uses_enterprise(s))]
    return out


def bare(members: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    if members is None:
        return None
    return [{"value": member["value"]} for member in members if isinstance(member, dict) and member.get("value")]


def adjust_user_dict(user: dict[str, Any], quirks: frozenset[str]) -> dict[str, Any]:
    """A user dict (seed, state file) as a provider with these quirks would hold it."""
    if NO_ENTERPRISE in quirks:
        user = strip_enterprise(user)
    if COMPUTE_NAME_FORMATTED in quirks and isinstance(user.get("name"), dict):
        name = dict(user["name"])
        name["formatted"] = formatted_name(name)
        user = {**user, "name": {k: v for k, v in name.items() if v is not None}}
    if OMIT_UNASSIGNED in quirks:
        user = without_unassigned(user)
    return user


def adjust_group_dict(group: dict[str, Any], quirks: frozenset[str]) -> dict[str, Any]:
    if BARE_MEMBERS in quirks and group.get("members") is not None:
        group = {**group, "members": bare(group["members"])}
    if OMIT_UNASSIGNED in quirks:
        group = without_unassigned(group)
    return group


def adjust_seed(data: dict[str, list[dict[str, Any]]], quirks: frozenset[str]) -> dict[str, list[dict[str, Any]]]:
    """The deterministic seed as a provider with these quirks would hold it (see the module docstring)."""
    if not quirks:
        return data
    users = []
    for index, user in enumerate(data["Users"]):
        user = copy.deepcopy(user)
        if OMIT_UNASSIGNED in quirks and index % 3 == 1:
            for name in SPARSE_ATTRIBUTES:
                user.pop(name, None)
        users.append(adjust_user_dict(user, quirks))
    groups = [adjust_group_dict(copy.deepcopy(group), quirks) for group in data["Groups"]]
    return {"Users": users, "Groups": groups}


def adjust_state(state: dict[str, Any], quirks: frozenset[str]) -> dict[str, Any]:
    """A saved state (possibly written without these quirks) as this provider holds it."""
    if not quirks & {NO_ENTERPRISE, COMPUTE_NAME_FORMATTED, OMIT_UNASSIGNED, BARE_MEMBERS}:
        return state
    resources = []
    for resource in state.get("resources", []):
        kind = (resource.get("meta") or {}).get("resourceType")
        if kind == "User":
            resource = adjust_user_dict(resource, quirks)
        elif kind == "Group":
            resource = adjust_group_dict(resource, quirks)
        resources.append(resource)
    return {**state, "resources": resources}
