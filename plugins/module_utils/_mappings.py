# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The mappings on an IDM server, from both places IDM keeps them: ``config/sync`` (``sync.json``) and one
``config/mapping/<name>`` per mapping (IDM 7+), and how a set of mappings is planned and written into either.

PRIVATE to the collection: names here can change without notice.
"""

from __future__ import annotations

from ansible_collections.idmops.pingidm.plugins.module_utils import _compare, _validate
from ansible_collections.idmops.pingidm.plugins.module_utils._http import ApiError
from ansible_collections.idmops.pingidm.plugins.module_utils._module import ModuleFailure

SYNC_PATH = "config/sync"
MAPPING_PREFIX = "mapping/"
# Answers of servers that cannot query the config collection: list the ids and read each one instead.
QUERY_UNSUPPORTED = (400, 403, 404, 501)


def _query_configs(client, query_filter):
    """The configurations a ``config`` query finds, or None where IDM cannot query its config."""
    try:
        answer = client.get("config", params={"_queryFilter": query_filter})
    except ApiError as exc:
        if exc.status not in QUERY_UNSUPPORTED:
            raise
        return None
    configs = answer.get("result") if isinstance(answer, dict) else None
    return configs if isinstance(configs, list) else None


def per_mapping_configs_one_by_one(client):
    """name -> ``config/mapping/<name>``, from the list of config ids and one read each (no query)."""
    found = {}
    for config_id in client.config_ids():
        if config_id.startswith(MAPPING_PREFIX):
            config = client.get_or_none("config/" + config_id)
            if isinstance(config, dict):
                found[config_id[len(MAPPING_PREFIX):]] = config
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
        """Both storages in one config query; where IDM cannot query its config, ``config/sync`` and the
        per-mapping configurations one by one."""
        configs = _query_configs(client, '_id eq "sync" or _id sw "%s"' % MAPPING_PREFIX)
        if configs is None:
            return cls(client.get_or_none(SYNC_PATH), per_mapping_configs_one_by_one(client))
        sync_document, per_mapping = None, {}
        for config in configs:
            config_id = str(config.get("_id", "")) if isinstance(config, dict) else ""
            if config_id == "sync":
                sync_document = config
            elif config_id.startswith(MAPPING_PREFIX):
                per_mapping[config_id[len(MAPPING_PREFIX):]] = config
        return cls(sync_document, per_mapping)


def shadowed_warning(names):
    """The warning for names defined in both storages."""
    subject = "Mapping %s is" % names[0] if len(names) == 1 else "Mappings %s are" % ", ".join(names)
    return ("%s defined both in config/sync and as config/mapping/<name>; IDM runs only one of the two "
            "definitions: remove the other." % subject)


def check_links(final, plan):
    """Refuse a result in which a ``links`` this task writes, or one naming a mapping it writes or removes, is not
    what IDM accepts (it would then refuse to load the mappings)."""
    problems = _validate.links_problems(final, plan.created + plan.updated + plan.removed)
    if problems:
        raise ModuleFailure("Invalid mapping input, nothing was written: " + "; ".join(problems), problems=problems)


def _comparable(mapping):
    return _compare.normalise(mapping, drop=[("_id",)])


def _mapping_diff(name, before, after):
    d = _compare.diff(before, after)
    d["before_header"] = "mapping %s%s" % (name, "" if before is not None else " (absent)")
    d["after_header"] = "mapping %s%s" % (name, "" if after is not None else " (absent)")
    return d


class Plan(object):
    def __init__(self):
        self.created, self.updated, self.removed = [], [], []
        self.unmanaged = []  # on the server, not given, kept (prune=false)
        self.order_changed = False
        self.diffs = []

    @property
    def changed(self):
        return bool(self.created or self.updated or self.removed or self.order_changed)

    def result(self):
        names = self.created + self.updated + self.removed
        return dict(changed=self.changed, mappings=names, created=self.created, updated=self.updated,
                    removed=self.removed, unmanaged=self.unmanaged)


def plan_sync(current, desired, state, prune):
    """(Plan, new mapping list) for config/sync; keeps order and the mappings not named."""
    plan = Plan()
    by_name = dict((m.get("name"), i) for i, m in enumerate(current))
    if state == "absent":
        names = set(m["name"] for m in desired)
        new = [m for m in current if m.get("name") not in names]
        for m in current:
            if m.get("name") in names:
                plan.removed.append(m["name"])
                plan.diffs.append(_mapping_diff(m["name"], _comparable(m), None))
        return plan, new

    new = list(current)
    for mapping in desired:
        name = mapping["name"]
        if name in by_name:
            old = current[by_name[name]]
            if not _compare.same(_comparable(old), _comparable(mapping)):
                plan.updated.append(name)
                plan.diffs.append(_mapping_diff(name, _comparable(old), _comparable(mapping)))
                new[by_name[name]] = mapping
        else:
            plan.created.append(name)
            plan.diffs.append(_mapping_diff(name, None, _comparable(mapping)))
            new.append(mapping)
    wanted = [m["name"] for m in desired]
    if not prune:
        plan.unmanaged = [m.get("name") for m in current if m.get("name") not in wanted]
    else:
        for m in current:
            if m.get("name") not in wanted:
                plan.removed.append(m.get("name"))
                plan.diffs.append(_mapping_diff(m.get("name"), _comparable(m), None))
        by_new_name = dict((m.get("name"), m) for m in new)
        kept_before = [m.get("name") for m in current if m.get("name") in wanted]
        kept_after = [name for name in wanted if name in kept_before]
        new = [by_new_name[name] for name in wanted]
        plan.order_changed = kept_before != kept_after
        if plan.order_changed:
            plan.diffs.append({"before_header": "mapping order", "after_header": "mapping order",
                               "before": {"order": [m.get("name") for m in current]}, "after": {"order": wanted}})
    return plan, new


def apply_sync(client, server, desired, state, prune, check_mode, diff):
    """Make config/sync hold ``desired`` (see plan_sync); returns the result of the mapping module."""
    stored = server.sync_document
    current = list((stored or {}).get("mappings") or [])
    plan, new = plan_sync(current, desired, state, prune)
    final = dict(server.per_mapping)
    final.update((m.get("name"), m) for m in new if isinstance(m, dict))
    check_links(final, plan)
    shadowed = sorted(set(m.get("name") for m in new if isinstance(m, dict)) & set(server.per_mapping))
    if plan.changed and not check_mode:
        document = _compare.normalise(stored) or {}
        document["mappings"] = new
        client.put(SYNC_PATH, document)
    result = plan.result()
    result["order_changed"] = plan.order_changed
    result["shadowed"] = shadowed
    if diff:
        result["diff"] = plan.diffs
    return result


def apply_per_mapping(client, server, desired, state, prune, check_mode, diff):
    """Make config/mapping/<name> hold each of ``desired``; returns the result of the mapping module."""
    plan = Plan()
    writes = []
    stored_configs = server.per_mapping
    final = dict(stored_configs)
    if state == "absent":
        for mapping in desired:
            stored = stored_configs.get(mapping["name"])
            if stored is not None:
                plan.removed.append(mapping["name"])
                plan.diffs.append(_mapping_diff(mapping["name"], _comparable(stored), None))
                writes.append(("DELETE", mapping["name"], None))
                final.pop(mapping["name"], None)
    else:
        for mapping in desired:
            name = mapping["name"]
            stored = stored_configs.get(name)
            final[name] = mapping
            if stored is None:
                plan.created.append(name)
            elif not _compare.same(_comparable(stored), _comparable(mapping)):
                plan.updated.append(name)
            else:
                continue
            plan.diffs.append(_mapping_diff(name, _comparable(stored) if stored is not None else None,
                                            _comparable(mapping)))
            writes.append(("PUT", name, mapping))
        wanted = set(m["name"] for m in desired)
        others = [name for name in sorted(stored_configs) if name not in wanted]
        if not prune:
            plan.unmanaged = others
        else:
            for name in others:
                plan.removed.append(name)
                plan.diffs.append(_mapping_diff(name, _comparable(stored_configs[name]), None))
                writes.append(("DELETE", name, None))
                final.pop(name, None)
    shadowed = sorted(set(name for name in final if name) & set(m.get("name") for m in server.sync))
    final.update((m.get("name"), m) for m in server.sync if m.get("name"))  # config/sync wins a shadowed name
    check_links(final, plan)
    if not check_mode:
        for method, name, body in writes:
            if method == "PUT":
                client.put("config/mapping/" + name, body)
            else:
                client.delete("config/mapping/" + name)
    result = plan.result()
    result["shadowed"] = shadowed
    if diff:
        result["diff"] = plan.diffs
    return result
