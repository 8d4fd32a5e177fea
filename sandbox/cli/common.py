"""Names and defaults the parts of the sandbox CLI share."""

from __future__ import annotations

import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOST = "127.0.0.1"
INVENTORY_GROUP = "idm_tenants"
IDM_ADMIN = ("openidm-admin", "openidm-admin")
NO_SCRIPT_USER = "idm-noscript"
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
PROVIDERS = {"sandbox": "sandbox.scim", "django_scim": "sandbox.django_scim"}
PROVIDER_AUTH = {"sandbox": ("OAUTH", "BASIC", "TOKEN"), "django_scim": ("TOKEN", "BASIC")}  # first = default
AUTH_METHODS = ("OAUTH", "BASIC", "TOKEN")
PROFILE_KEYS = ("provider", "scim_auth", "scim_quirks", "idm_readings")


def default_state_dir() -> str:
    return os.environ.get("IDMOPS_SANDBOX_STATE") or os.path.join(REPO, ".sandbox")


def default_profile() -> dict:
    return {"provider": "sandbox", "scim_auth": "OAUTH", "scim_quirks": [], "idm_readings": []}
