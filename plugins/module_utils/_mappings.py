# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The mappings on an IDM server, from both places IDM keeps them: ``config/sync`` (``sync.json``) and one
``config/mapping/<name>`` per mapping (IDM 7+).

PRIVATE to the collection: names here can change without notice.
"""

from __future__ import annotations

from ansible_collections.idmops.pingidm.plugins.module_utils._client import ApiError

SYNC_PATH = "config/sync"
MAPPING_PREFIX = "mapping/"
# Answers of servers that cannot query the config collection: list the ids and read each one instead.
QUERY_UNSUPPORTED = (400, 403, 404, 501)


def config_ids(client):
    """Every configuration id IDM lists (``GET config``)."""
    listing = client.get("config") or {}
    return [c.get("_id", "") for c in listing.get("configurations", []) if isinstance(c, dict)]


def mapping_config_names(client):
    """Names of the per-mapping configurations ``config/mapping/<name>``."""
    return [i[len(MAPPING_PREFIX):] for i in config_ids(client) if i.startswith(MAPPING_PREFIX)]


def per_mapping_configs(client):
    """name -> ``config/mapping/<name>``: one query, or the listing and one read each where IDM cannot query."""
    try:
        answer = client.get("config", params={"_queryFilter": '_id sw "%s"' % MAPPING_PREFIX})
    except ApiError as exc:
        if exc.status not in QUERY_UNSUPPORTED:
            raise
        answer = None
    configs = answer.get("result") if isinstance(answer, dict) else None
    found = {}
    if isinstance(configs, list):
        for config in configs:
            if not isinstance(config, dict):
                continue
            config_id = str(config.get("_id", ""))
            if config_id.startswith(MAPPING_PREFIX):
                found[config_id[len(MAPPING_PREFIX):]] = config
        return found
    for name in mapping_config_names(client):
        config = client.get_or_none("config/" + MAPPING_PREFIX + name)
        if isinstance(config, dict):
            found[name] = config
    return found


class ServerMappings(object):
    """The mappings of both storages. ``by_name`` prefers ``config/sync`` for a name in both (``shadowed``)."""

    def __init__(self, sync_document, per_mapping):
        self.sync_document = sync_document
        mappings = (sync_document or {}).get("mappings") if isinstance(sync_document, dict) else None
        self.sync = [m for m in mappings or [] if isinstance(m, dict)]
        self.per_mapping = per_mapping
        sync_names = [m.get("name") for m in self.sync if m.get("name")]
        self.shadowed = sorted(name for name in set(sync_names) if name in per_mapping)
        self.by_name = dict(per_mapping)
        self.by_name.update((m["name"], m) for m in self.sync if m.get("name"))

    @classmethod
    def read(cls, client):
        return cls(client.get_or_none(SYNC_PATH), per_mapping_configs(client))


def shadowed_warning(names):
    """The warning for names defined in both storages."""
    subject = "Mapping %s is" % names[0] if len(names) == 1 else "Mappings %s are" % ", ".join(names)
    return ("%s defined both in config/sync and as config/mapping/<name>; IDM runs only one of the two "
            "definitions: remove the other." % subject)
