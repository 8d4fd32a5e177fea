"""Policy of managed objects: required properties, unique ``userName``, and (reading
``undeclared_properties=refused``) properties the schema does not declare.

Defaults are IDM's stock ``managed.json`` required lists (OpenIDM/WrenIDM ``conf/managed.json`` for 5.x; ForgeRock
forgeops IDM 7 cdk profile: users the same four, roles ``["name"]``; reading ``role_required=name+description`` =
the 5.x list). If ``config/managed`` defines an object type, its ``schema.required`` list and
``schema.properties`` replace the defaults for that type. Failures are 403 "Failed policy validation"; an
undeclared property is 400 "Unmapped fields [...] for type managed/<name>" (OpenIDM MappedTableHandler.java
L345-352).
"""

from __future__ import annotations

from collections.abc import Callable

from ..config import ConfigService
from ..errors import IdmError
from ..readings import Readings

DEFAULT_REQUIRED = {"managed/user": ["userName", "givenName", "sn", "mail"], "managed/role": ["name"]}
ROLE_REQUIRED = {"name": ["name"], "name+description": ["name", "description"]}
# Properties the stock IDM 7 managed.json declares (forgeops cdk profile), for undeclared_properties=refused.
DECLARED = {
    "managed/user": {
        "_id",
        "userName",
        "password",
        "givenName",
        "cn",
        "sn",
        "mail",
        "profileImage",
        "description",
        "accountStatus",
        "telephoneNumber",
        "postalAddress",
        "address2",
        "city",
        "postalCode",
        "country",
        "stateProvince",
        "assignedDashboard",
        "roles",
        "manager",
        "authzRoles",
        "reports",
        "effectiveRoles",
        "effectiveAssignments",
        "lastSync",
        "kbaInfo",
        "preferences",
        "consentedMappings",
        "aliasList",
        "ownerOfOrg",
        "adminOfOrg",
        "memberOfOrg",
        "memberOfOrgIDs",
        "activeDate",
        "inactiveDate",
    },
    "managed/role": {"_id", "name", "description", "members", "assignments", "condition", "temporalConstraints"},
}
UNIQUE_FIELDS = {"managed/user": ["userName"]}

# owners(resource, field, value) -> the ids of the objects whose field holds that value (case-insensitive)
Owners = Callable[[str, str, str], set[str]]


def policy_error(failures: list[tuple[str, str]]) -> IdmError:
    return IdmError(
        403,
        "Failed policy validation",
        {
            "result": False,
            "failedPolicyRequirements": [
                {"property": prop, "policyRequirements": [{"policyRequirement": req}]} for prop, req in failures
            ],
        },
    )


class Policy:
    def __init__(self, config: ConfigService, readings: Readings) -> None:
        self.config = config
        self.readings = readings
        self._schemas: dict[str, tuple[list[str], set[str] | None]] = {}
        config.subscribe("managed", self._on_managed_config)

    def _on_managed_config(self, _config_id: str, _value: object, _wait: bool) -> None:
        self._schemas = {}

    def schema(self, resource: str) -> tuple[list[str], set[str] | None]:
        """``(required, declared or None)`` of a managed object type: ``config/managed`` when it defines the
        type, else the stock lists."""
        cached = self._schemas.get(resource)
        if cached is None:
            required = list(DEFAULT_REQUIRED.get(resource, []))
            if resource == "managed/role":
                required = list(ROLE_REQUIRED[self.readings.role_required])
            declared = DECLARED.get(resource)
            if self.config.exists("managed"):
                name = resource.split("/", 1)[1]
                for definition in self.config.get("managed").get("objects", []):
                    if definition.get("name") == name:
                        schema = definition.get("schema") or {}
                        required = list(schema.get("required") or [])
                        declared = set(schema.get("properties") or {}) | {"_id"}
            cached = self._schemas[resource] = (required, declared)
        return cached

    def validate(self, resource: str, obj_id: str, plain: dict, owners: Owners) -> None:
        """Raise the IDM error for ``plain`` (the object without relationship and virtual fields), if any."""
        required, declared = self.schema(resource)
        if self.readings.undeclared_properties == "refused":
            unmapped = sorted(k for k in plain if declared is not None and k not in declared)
            if unmapped:
                raise IdmError(400, f"Unmapped fields [{', '.join(unmapped)}] for type {resource}")
        failures = [(prop, "REQUIRED") for prop in required if plain.get(prop) in (None, "", [])]
        for prop in UNIQUE_FIELDS.get(resource, ()):
            value = plain.get(prop)
            if isinstance(value, str) and value and owners(resource, prop, value) - {obj_id}:
                failures.append((prop, "UNIQUE"))
        if failures:
            raise policy_error(failures)
