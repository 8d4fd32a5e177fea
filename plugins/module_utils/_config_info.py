# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Read IDM configuration objects by id or id pattern, masked (the logic of the config_info module).

PRIVATE to the collection: names here can change without notice.

Ids are what follows ``config/`` (``sync``, ``managed``, ``provisioner.openicf/scim``, ``mapping/x``). A pattern is
an id with shell wildcards (``*``, ``?``, ``[...]``, case-sensitive like IDM's ids); ``*`` also matches ``/``, so
``*`` is every object. Secrets are found and masked by ``_compare`` (the one place that knows them): the result
carries the masked object and the paths of its secrets, never a value.
"""

from __future__ import annotations

import fnmatch

from ansible_collections.idmops.pingidm.plugins.module_utils import _compare

WILDCARDS = "*?["


def is_pattern(text):
    return any(c in text for c in WILDCARDS)


def pattern_problem(pattern):
    """Why IDM could never have an object matching ``pattern``, or None."""
    if not isinstance(pattern, str) or not pattern:
        return "an empty id or pattern matches nothing"
    if pattern.startswith("/") or pattern.startswith("config/"):
        return ("%r: give the id after config/, for example 'sync' or 'provisioner.openicf/*'" % pattern)
    segments = pattern.split("/")
    if len(segments) > 2 or "" in segments:
        return "%r: IDM configuration ids have one or two segments" % pattern
    return None


def select(ids, patterns, exclude=()):
    """(selected ids in sorted order, exact ids asked for that do not exist)."""
    chosen = set()
    missing = []
    for pattern in patterns:
        matched = [i for i in ids if fnmatch.fnmatchcase(i, pattern)]
        if not matched and not is_pattern(pattern):
            missing.append(pattern)
        chosen.update(matched)
    chosen = [i for i in chosen if not any(fnmatch.fnmatchcase(i, e) for e in exclude)]
    return sorted(chosen), missing


def describe(config_id, document):
    """One result entry: the masked object and where its secrets are (key paths and display names)."""
    paths = _compare.secret_paths(document)
    return {
        "id": config_id,
        "config": _compare.mask(document),
        "secrets": [{"path": list(path), "name": _compare.secret_name(path)} for path in paths],
    }


def read(client, patterns, exclude=(), content=True):
    """Result fields of config_info: ``ids``, ``missing``, ``configs`` (masked) and the clear secret values seen
    (returned separately so the caller can add them to no_log_values; never part of the result)."""
    ids, missing = select(client.config_ids(), patterns, exclude)
    configs = []
    clear = set()
    for config_id in list(ids) if content else ():
        document = client.get_or_none("config/" + config_id)
        if document is None:  # removed between the listing and the read
            ids.remove(config_id)
            continue
        clear.update(_compare.secret_values(document))
        configs.append(describe(config_id, document))
    result = {"ids": ids, "missing": missing}
    if content:
        result["configs"] = configs
    return result, clear
