# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Config trees: a directory of IDM configuration objects, one JSON file each, that export writes and apply reads.

PRIVATE to the collection (controller side; used by the filter plugins config_tree_export, config_tree_plan and config_tree_prune).

File names follow IDM's own ``conf/`` convention (JSONConfigInstaller): ``<id>.json`` for a singleton id
(``sync.json``, ``managed.json``), ``<factory>-<alias>.json`` for a two-segment id (``provisioner.openicf-scim.json``
is ``provisioner.openicf/scim``, ``schedule-recon-users.json`` is ``schedule/recon-users``): the first ``-`` splits.

Exported files are Jinja templates of JSON: every secret becomes a reference to the host variable
``scim_sync_config_secrets['<object>_<property>']`` (apply fills that dict from the Vault variables
``vault_<tenant>_<object>_<property>``, every part in snake case), and text that Jinja would read as a tag
(``{{``, ``{%``, ``{#``) is escaped so it renders back to itself.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import os
import re

from ansible_collections.idmops.pingidm.plugins.module_utils import _compare

SECRETS_VARIABLE = "scim_sync_config_secrets"
CONNECTOR_FACTORY = "provisioner.openicf"
# Apply order: a mapping names a connector's object types and managed objects, a schedule names a mapping.
KINDS = (("connector", 0), ("managed", 1), ("config", 2), ("sync", 3), ("mapping", 3), ("schedule", 4))
ORDER = dict(KINDS)
# Never removed by prune unless named in the allow list: IDM's own configuration (a default 7.x/8 project's conf/),
# whose loss breaks logins, the UI, the repository or auditing. Patterns match config ids (``*`` matches ``/``).
PROTECTED = (
    "access", "audit", "authentication", "cluster", "consent", "emailTemplate/*", "endpoint/*", "external.*",
    "fieldPolicy/*", "identityProviders", "info/*", "internal", "jsonstore", "logging", "managed", "metrics",
    "notification/*", "org.apache.*", "policy", "process/*", "provisioner.openicf.connectorinfoprovider",
    "repo.*", "router", "scheduler", "script", "secrets", "selfservice*", "servletfilter/*", "sync", "ui*",
    "webserver*", "workflow",
)
_JINJA_TAG = re.compile(r"\{[{%#]")
_MARKER = "@@idmops.pingidm secret %s@@"


class TreeError(ValueError):
    """Bad input for a config tree; the text names the file or id."""


def token(text):
    """``text`` as part of a variable name in Ansible's style (snake case, lower case, letters, digits, ``_``):
    ``clientSecret`` -> ``client_secret``, ``SCIMEndpoint`` -> ``scim_endpoint``, ``idm-EU`` -> ``idm_eu``.
    The role's tasks compute the tenant's part with the same three steps (scim_sync__tenant_token)."""
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", str(text))
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    return re.sub(r"[^a-z0-9_]", "_", text.lower())


# --- ids and files --------------------------------------------------------------------------------------------------

def file_name(config_id):
    """IDM conf file name of a config id; TreeError when the name could not be read back as the same id."""
    segments = config_id.split("/")
    if len(segments) > 2 or "" in segments:
        raise TreeError("%r is not a configuration id" % config_id)
    if "-" in segments[0]:
        raise TreeError("config id %r cannot be a conf file name: IDM reads the first '-' of a file name as the "
                        "'/' of a factory id" % config_id)
    return "-".join(segments) + ".json"


def config_id(name):
    """Config id of a conf file name (``provisioner.openicf-scim.json`` -> ``provisioner.openicf/scim``)."""
    base = os.path.basename(name)
    if not base.endswith(".json") or base == ".json":
        raise TreeError("%s: a config tree file is named <id>.json or <factory>-<alias>.json" % base)
    stem = base[:-len(".json")]
    factory, dash, alias = stem.partition("-")
    if not factory or (dash and not alias):
        raise TreeError("%s: the name must be <id>.json or <factory>-<alias>.json" % base)
    return factory + "/" + alias if dash else factory


def kind(cid):
    if cid.startswith(CONNECTOR_FACTORY + "/"):
        return "connector"
    if cid in ("managed", "sync"):
        return cid
    if cid.startswith("mapping/"):
        return "mapping"
    if cid.startswith("schedule/"):
        return "schedule"
    return "config"


def plan(paths):
    """The files of a tree in apply order: list of {path, file, id, kind, name, order}."""
    entries = []
    problems = []
    for path in paths:
        try:
            cid = config_id(path)
        except TreeError as exc:
            problems.append(str(exc))
            continue
        entry_kind = kind(cid)
        entries.append({"path": path, "file": os.path.basename(path), "id": cid, "kind": entry_kind,
                        "name": cid.split("/", 1)[1] if "/" in cid else cid, "order": ORDER[entry_kind]})
    if problems:
        raise TreeError("; ".join(problems))
    return _links_first(sorted(entries, key=lambda e: (e["order"], e["id"])))


def _linked_mapping(path):
    """The ``links`` of a per-mapping file, when the file is plain JSON (a template may not parse before rendering)."""
    try:
        with open(path, encoding="utf-8") as handle:
            links = json.load(handle).get("links")
    except (OSError, ValueError, AttributeError):
        return None
    return links if isinstance(links, str) else None


def _links_first(entries):
    """Per-mapping files after the mapping their ``links`` names: IDM (and the mapping module's checks) need the
    linked mapping to exist first. Otherwise the order stays as given."""
    mappings = [e for e in entries if e["kind"] == "mapping"]
    if len(mappings) < 2:
        return entries
    by_name = dict((e["name"], e) for e in mappings)
    ordered, placed = [], set()

    def place(entry, chain):
        if entry["name"] in placed or entry["name"] in chain:
            return
        target = by_name.get(_linked_mapping(entry["path"]))
        if target is not None:
            place(target, chain | {entry["name"]})
        placed.add(entry["name"])
        ordered.append(entry)
    for entry in mappings:
        place(entry, frozenset())
    first = entries.index(mappings[0])
    rest = [e for e in entries if e["kind"] != "mapping"]
    return rest[:first] + ordered + rest[first:]


# --- export -----------------------------------------------------------------------------------------------------------

def escape_jinja(value):
    """Copy of a JSON value whose strings (and keys) render back to themselves through Jinja."""
    if isinstance(value, str):
        return _JINJA_TAG.sub(lambda m: "{{ '%s' }}" % m.group(0), value)
    if isinstance(value, list):
        return [escape_jinja(v) for v in value]
    if isinstance(value, dict):
        return dict((escape_jinja(k), escape_jinja(v)) for k, v in value.items())
    return value


def secret_key(cid, name):
    """``<object>_<property>``: the connector or object name and the secret's dotted name, as a variable part."""
    obj = cid.split("/", 1)[1] if cid.startswith(CONNECTOR_FACTORY + "/") else cid
    return token(obj) + "_" + token(name)


def reference(key):
    return "{{ %s['%s'] }}" % (SECRETS_VARIABLE, key)


def export(item, tenant):
    """File of one ``config_info`` entry ({id, config (masked), secrets: [{path, name}]}) for ``tenant``.

    Returns {file, id, kind, content (the file text), secrets: [{name, key, vault_variable, path}]}."""
    cid = item["id"]
    document = copy.deepcopy(item["config"])
    if not isinstance(document, dict):
        raise TreeError("%s: the object is not a JSON object" % cid)
    document.pop("_id", None)
    document.pop("_rev", None)
    secrets = []
    for secret in item.get("secrets") or []:
        key = secret_key(cid, secret["name"])
        # A marker first, the reference after escaping: its own braces must stay a Jinja expression.
        _compare.set_path(document, secret["path"], _MARKER % key)
        secrets.append({"name": secret["name"], "key": key, "path": list(secret["path"]),
                        "vault_variable": "vault_%s_%s" % (token(tenant), key)})
    keys = [s["key"] for s in secrets]
    duplicates = sorted(set(k for k in keys if keys.count(k) > 1))
    if duplicates:
        raise TreeError("%s: secrets %s would share a variable name" % (cid, ", ".join(duplicates)))
    content = json.dumps(escape_jinja(document), indent=2, sort_keys=True, ensure_ascii=False,
                         separators=(",", ": ")) + "\n"
    for key in keys:
        content = content.replace(json.dumps(_MARKER % key), json.dumps(reference(key)))
    return {"file": file_name(cid), "id": cid, "kind": kind(cid), "content": content, "secrets": secrets}


# --- prune ------------------------------------------------------------------------------------------------------------

def is_protected(cid, allow=()):
    if any(fnmatch.fnmatchcase(cid, pattern) for pattern in allow):
        return False
    return any(fnmatch.fnmatchcase(cid, pattern) for pattern in PROTECTED)


def prune(tree_ids, server_ids, allow=()):
    """What prune removes: server objects of the factory kinds the tree has (``provisioner.openicf/*``,
    ``mapping/*``, ``schedule/*``, ...) that are not in the tree, never a protected one unless ``allow`` names it.

    Returns {remove: ids in removal order (schedules, mappings, other objects, connectors), protected: ids kept,
    kinds: the factory patterns that were looked at}."""
    tree = set(tree_ids)
    factories = sorted(set(i.split("/", 1)[0] for i in tree if "/" in i))
    candidates = [i for i in server_ids if "/" in i and i.split("/", 1)[0] in factories and i not in tree]
    protected = sorted(i for i in candidates if is_protected(i, allow))
    remove = [i for i in candidates if i not in protected]
    remove.sort(key=lambda i: (-ORDER[kind(i)], i))
    return {"remove": remove, "protected": protected, "kinds": [f + "/*" for f in factories]}
