"""OpenICF connectors the sandbox IDM can run. Only the SCIM connector exists (bundle 1.5.20.31, the version
the sample's ``_action=test`` output shows)."""

from __future__ import annotations

import re
from typing import Any

SCIM_CONNECTOR = {
    "connectorName": "org.forgerock.openicf.connectors.scim.ScimConnector",
    "displayName": "Scim Connector",
    "bundleName": "org.forgerock.openicf.connectors.scim-connector",
    "bundleVersion": "1.5.20.31",
    "systemType": "provisioner.openicf",
}
AVAILABLE_CONNECTORS = [SCIM_CONNECTOR]

_RANGE = re.compile(r"^\s*([\[(])\s*([\d.]+)\s*,\s*([\d.]+)\s*([\])])\s*$")


def _version(text: Any) -> tuple[int, ...]:
    parts = [int(p) for p in str(text).strip().split(".") if p != ""]
    return tuple(parts + [0] * (4 - len(parts)))


def version_matches(spec: Any, version: str) -> bool:
    """OSGi semantics: ``[1.5.0.0,1.6.0.0)`` is a range, a bare version means "this or later"."""
    if spec is None or str(spec).strip() == "":
        return True
    try:
        match = _RANGE.match(str(spec))
        wanted = _version(version)
        if not match:
            return wanted >= _version(spec)
        low, high = _version(match.group(2)), _version(match.group(3))
        above = wanted >= low if match.group(1) == "[" else wanted > low
        below = wanted <= high if match.group(4) == "]" else wanted < high
        return above and below
    except ValueError:
        return False


def find_connector(connector_ref: dict[str, Any] | None) -> dict[str, str] | None:
    """The available connector a ``connectorRef`` names, or None (unknown bundle, name or version)."""
    ref = connector_ref or {}
    for info in AVAILABLE_CONNECTORS:
        if ref.get("connectorName") != info["connectorName"]:
            continue
        if ref.get("bundleName") not in (None, info["bundleName"]):
            continue
        if version_matches(ref.get("bundleVersion"), info["bundleVersion"]):
            return info
    return None
