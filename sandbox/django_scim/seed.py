"""Seed the second SCIM server with the sandbox's deterministic directory (``sandbox.scim.seed.generate``).

Each user and group goes in through django-scim2-server's own adapters (``from_scim``), as a POST would, so the
server keeps what it keeps: the attributes its schema has no place for (``title``, ``phoneNumbers``,
``displayName``, ``name.formatted``, the enterprise extension it does not advertise) are not stored. The server
assigns its own ids (uuid4), so group members are mapped from the seed's ids to the new ones.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.module_loading import import_string

from sandbox.scim.seed import ENTERPRISE_SCHEMA, generate


def _as_posted(resource):
    """The seed resource as a client would POST it to a server without the enterprise extension."""
    body = {k: v for k, v in resource.items() if k not in ("id", ENTERPRISE_SCHEMA)}
    body["schemas"] = [s for s in resource.get("schemas", []) if s != ENTERPRISE_SCHEMA]
    return body


def seed(n_users, n_groups, salt):
    """Create the seed's users and groups; returns ``(users, groups)`` created."""
    from django_scim2_server.conf import app_settings  # after django.setup()

    data = generate(n_users, n_groups, salt)
    users = import_string(app_settings.SCIM2_SERVER_USER_ADAPTER)()
    groups = import_string(app_settings.SCIM2_SERVER_GROUP_ADAPTER)()
    new_ids = {}
    with transaction.atomic():
        for user in data["Users"]:
            new_ids[user["id"]] = str(users.from_scim(_as_posted(user)).id)
        for group in data["Groups"]:
            body = _as_posted(group)
            body["members"] = [{"value": new_ids[m["value"]]} for m in group.get("members", [])]
            groups.from_scim(body)
    return len(data["Users"]), len(data["Groups"])
