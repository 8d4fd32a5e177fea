# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The rules a mapping set and a connector configuration must follow before they are sent to IDM.

PRIVATE to the collection: names here can change without notice.

Pure functions that return lists of problems (strings that name the mapping or the field), empty when all is
well. Used by the ``mapping`` module before any write and, through the filter plugins
``idmops.pingidm.sync_problems`` / ``idmops.pingidm.connector_problems``, by the ``scim_sync`` role.

What IDM itself enforces (OpenIDM source): situation and action names are Java enum names (case-sensitive);
``links`` must name an existing mapping whose source and target are the same as, or exactly swapped with, this
mapping's (``LinkType``/``Match``), else IDM's mappings fail to load and every recon fails.
"""

from __future__ import annotations

from ansible_collections.idmops.pingidm.plugins.module_utils import _vocabulary

SCIM_CONNECTOR_NAME = "org.forgerock.openicf.connectors.scim.ScimConnector"
# authenticationMethod of the SCIM connector -> the configurationProperties it needs.
SCIM_AUTH_FIELDS = {
    "OAUTH": ("grantType", "tokenEndpoint", "clientId", "clientSecret"),
    "BASIC": ("user", "password"),
    "TOKEN": ("authToken",),
}
SCIM_OBJECT_TYPES = (("account", "__ACCOUNT__"), ("group", "__GROUP__"))


def mapping_label(index, item):
    """How a problem names a mapping: ``mapping <name>``, or ``mappings[<index>]`` when it has no usable name."""
    name = item.get("name") if isinstance(item, dict) else None
    if isinstance(name, str) and name.strip():
        return "mapping %s" % name
    return "mappings[%d]" % index


def resource_problem(path):
    """Why ``path`` is not a resource IDM can synchronize (``managed/<object>``, ``system/<connector>/<type>``,
    or another resource path such as ``internal/user``), or None."""
    if not isinstance(path, str) or not path:
        return "is required (a resource path such as managed/user or system/scim/account)"
    segments = path.split("/")
    if path != path.strip() or any(not segment or segment != segment.strip() for segment in segments):
        return "%r is not a resource path (no leading, trailing or double slash, no spaces)" % path
    if segments[0] == "managed" and len(segments) != 2:
        return "%r must be managed/<object>, for example managed/user" % path
    if segments[0] == "system" and len(segments) != 3:
        return "%r must be system/<connector>/<object type>, for example system/scim/account" % path
    if len(segments) < 2:
        return "%r is not a resource path such as managed/user or system/scim/account" % path
    return None


def _script_problem(value):
    """Why ``value`` is not an IDM script object ({"type", "source"|"file"}), or None."""
    if not isinstance(value, dict):
        return "must be a script object {type, source} or {type, file}"
    if not isinstance(value.get("type"), str) or not value.get("type"):
        return "is a script without 'type' (e.g. text/javascript)"
    if "source" not in value and "file" not in value:
        return "is a script without 'source' or 'file'"
    return None


def _policy_problems(label, policies):
    problems = []
    if not isinstance(policies, list):
        return ["%s: 'policies' must be a list" % label]
    for index, policy in enumerate(policies):
        if not isinstance(policy, dict):
            problems.append("%s: policies[%d] is not an object" % (label, index))
            continue
        situation = policy.get("situation")
        if not isinstance(situation, str) or not situation:
            problems.append("%s: policies[%d] needs a 'situation'" % (label, index))
            continue
        if situation not in _vocabulary.SITUATIONS:
            hint = " (names are upper case: %s)" % situation.upper() \
                if situation.upper() in _vocabulary.SITUATIONS else ""
            problems.append("%s: unknown situation %s%s" % (label, situation, hint))
            continue
        action = policy.get("action")
        if isinstance(action, str):
            if action not in _vocabulary.ACTIONS:
                hint = " (names are upper case: %s)" % action.upper() if action.upper() in _vocabulary.ACTIONS \
                    else " (known: %s)" % ", ".join(_vocabulary.ACTIONS)
                problems.append("%s: unknown action %s for %s%s" % (label, action, situation, hint))
        elif action is None:
            problems.append("%s: policies[%d] (%s) needs an 'action'" % (label, index, situation))
        else:
            problem = _script_problem(action)
            if problem:
                problems.append("%s: the action for %s %s" % (label, situation, problem))
        if "postAction" in policy and _script_problem(policy["postAction"]):
            problems.append("%s: the postAction for %s %s" % (label, situation, _script_problem(policy["postAction"])))
    return problems


def _property_problems(label, properties):
    problems = []
    if not isinstance(properties, list):
        return ["%s: 'properties' must be a list" % label]
    for index, prop in enumerate(properties):
        if not isinstance(prop, dict):
            problems.append("%s: property #%d is not an object" % (label, index + 1))
        elif not isinstance(prop.get("target"), str) or not prop.get("target"):
            problems.append("%s: property #%d has no target" % (label, index + 1))
        elif "source" in prop and not isinstance(prop["source"], str):
            problems.append("%s: property #%d (%s): 'source' must be a string (\"\" for the whole object)"
                            % (label, index + 1, prop["target"]))
        elif "transform" in prop and _script_problem(prop["transform"]):
            problems.append("%s: property #%d (%s): the transform %s"
                            % (label, index + 1, prop["target"], _script_problem(prop["transform"])))
    return problems


def _links_problem(label, mapping, by_name):
    """IDM's LinkType/Match rule for ``links``, or None."""
    links = mapping.get("links")
    if links is None:
        return None
    if not isinstance(links, str) or not links:
        return "%s: links must be the name of another mapping" % label
    other = by_name.get(links)
    if other is None:
        return ("%s: links names unknown mapping %s (neither given nor on the server); IDM refuses to load "
                "the mappings then" % (label, links))
    source, target = mapping.get("source"), mapping.get("target")
    same = (other.get("source"), other.get("target")) == (source, target)
    reverse = (other.get("source"), other.get("target")) == (target, source)
    if not (same or reverse):
        return ("%s: links names mapping %s, which goes from %s to %s; it must go the same way (%s to %s) or "
                "exactly the reverse way (%s to %s)"
                % (label, links, other.get("source"), other.get("target"), source, target, target, source))
    return None


def links_problems(final, touched):
    """``links`` problems in the mapping set ``final`` (name -> mapping, as it will be on the server) that involve
    a mapping of ``touched`` (written or removed): its own ``links``, or another mapping's ``links`` naming it."""
    touched = set(touched)
    problems = []
    for name in sorted(final):
        mapping = final[name]
        links = mapping.get("links") if isinstance(mapping, dict) else None
        if links is None or (name not in touched and links not in touched):
            continue
        problem = _links_problem("mapping %s" % name, mapping, final)
        if problem:
            if links in touched and name not in touched and links not in final:
                problem = "mapping %s: links names mapping %s, which this task removes" % (name, links)
            problems.append(problem)
    return problems


def _attribute(pointer):
    """The top-level attribute a property path names: ``name/givenName`` -> ``name``, ``/mail`` -> ``mail``."""
    return pointer.lstrip("/").split("/")[0].split(".")[0].split("[")[0]


def _connector_side_problems(label, mapping, connectors):
    """Object types and attributes of the given connectors that a mapping names on its system side."""
    problems = []
    for side in ("source", "target"):
        resource = mapping.get(side)
        if not isinstance(resource, str) or not resource.startswith("system/"):
            continue
        parts = resource.split("/")
        if len(parts) != 3 or parts[1] not in connectors:
            continue
        object_types = (connectors[parts[1]] or {}).get("objectTypes")
        object_types = object_types if isinstance(object_types, dict) else {}
        if parts[2] not in object_types:
            problems.append("%s: %s %s is not an object type of the connector (known: %s)"
                            % (label, side, resource, ", ".join(sorted(object_types)) or "none"))
            continue
        properties = (object_types[parts[2]] or {}).get("properties")
        known = sorted(properties) if isinstance(properties, dict) else []
        for prop in mapping.get("properties") or []:
            if not isinstance(prop, dict) or not isinstance(prop.get(side), str):
                continue
            attribute = _attribute(prop[side])
            if attribute and attribute not in known:
                problems.append('%s: property %s "%s" is not an attribute of %s (known: %s)'
                                % (label, side, prop[side], resource, ", ".join(known)))
    return problems


def mapping_problems(mappings, existing=None, connectors=None, names_only=False, check_links=True):
    """Problems of a list of mappings, each naming the mapping and the field.

    ``existing``: name -> mapping on the server, for ``links`` to a mapping not in the list (the list wins).
    ``check_links=False`` leaves ``links`` to links_problems() (a caller that reads the server's mappings later).
    ``connectors``: connector name -> provisioner config; the object types and attributes of these connectors that
    the mappings name on a ``system/<connector>/<type>`` side are checked. ``names_only``: only names (removal).
    """
    problems = []
    if not isinstance(mappings, list):
        return ["the mappings must be a list"]
    seen = {}
    for index, item in enumerate(mappings):
        label = mapping_label(index, item)
        if not isinstance(item, dict):
            problems.append("mappings[%d] is not an object" % index)
            continue
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.append("%s: name is missing (a non-empty string)" % label)
        elif "/" in name:
            problems.append("%s: the name must not contain '/'" % label)
        elif name in seen:
            problems.append("mapping name %s is used more than once (mappings[%d] and mappings[%d])"
                            % (name, seen[name], index))
        else:
            seen[name] = index
    if names_only:
        return problems
    by_name = dict((name, m) for name, m in (existing or {}).items() if isinstance(m, dict))
    by_name.update((m["name"], m) for m in mappings if isinstance(m, dict) and isinstance(m.get("name"), str))
    for index, item in enumerate(mappings):
        if not isinstance(item, dict):
            continue
        label = mapping_label(index, item)
        for side in ("source", "target"):
            problem = resource_problem(item.get(side))
            if problem:
                problems.append("%s: %s %s" % (label, side, problem))
        problems.extend(_property_problems(label, item.get("properties", [])))
        problems.extend(_policy_problems(label, item.get("policies", [])))
        links = _links_problem(label, item, by_name) if check_links else None
        if links:
            problems.append(links)
        if connectors:
            problems.extend(_connector_side_problems(label, item, connectors))
    return problems


def mappings_of(document):
    """The mapping list of a rendered document: ``{"mappings": [...]}`` (sync.json), a list, or one mapping."""
    if isinstance(document, dict) and "mappings" in document:
        return document["mappings"]
    if isinstance(document, list):
        return document
    return [document]


def _suffix(variables, path):
    variable = (variables or {}).get(path)
    return " (set %s)" % variable if variable else ""


def connector_problems(config, variables=None):
    """Problems of a provisioner configuration (``config/provisioner.openicf/<name>``), each naming the field.

    Every connector: ``connectorRef`` with ``connectorName``, ``bundleName``, ``bundleVersion``;
    ``configurationProperties`` and ``objectTypes`` objects. The SCIM connector also: ``SCIMEndpoint`` an http(s)
    URL, ``SCIMVersion`` 1 or 2, the fields its ``authenticationMethod`` needs, and ``account``/``group`` object
    types with exactly one ``__NAME__`` attribute each. ``variables`` maps a field path (for example
    ``configurationProperties.clientSecret``) to the variable that sets it, named in the message.
    """
    if not isinstance(config, dict):
        return ["the connector configuration is not an object"]
    problems = []
    for key in ("connectorRef", "configurationProperties", "objectTypes"):
        if not isinstance(config.get(key), dict):
            problems.append("%s is missing or not an object%s" % (key, _suffix(variables, key)))
    ref = config.get("connectorRef") if isinstance(config.get("connectorRef"), dict) else {}
    for key in ("connectorName", "bundleName", "bundleVersion"):
        if not ref.get(key):
            problems.append("connectorRef.%s is missing%s" % (key, _suffix(variables, "connectorRef." + key)))
    if ref.get("connectorName") == SCIM_CONNECTOR_NAME:
        problems.extend(_scim_problems(config, variables))
    return problems


def _scim_problems(config, variables):
    problems = []
    props = config.get("configurationProperties") if isinstance(config.get("configurationProperties"), dict) else {}

    def add(field, text):
        path = "configurationProperties." + field
        problems.append("%s %s%s" % (path, text, _suffix(variables, path)))

    endpoint = props.get("SCIMEndpoint")
    if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
        add("SCIMEndpoint", "must be an http(s) URL")
    if isinstance(props.get("SCIMVersion"), bool) or props.get("SCIMVersion") not in (1, 2):
        add("SCIMVersion", "must be 1 or 2")
    method = props.get("authenticationMethod")
    if method not in SCIM_AUTH_FIELDS:
        add("authenticationMethod", "must be OAUTH, BASIC or TOKEN")
    else:
        for field in SCIM_AUTH_FIELDS[method]:
            if props.get(field) is None or props.get(field) == "":
                add(field, "is required for authenticationMethod %s" % method)
    object_types = config.get("objectTypes") if isinstance(config.get("objectTypes"), dict) else {}
    for object_type, _native in SCIM_OBJECT_TYPES:
        schema = object_types.get(object_type)
        properties = schema.get("properties") if isinstance(schema, dict) else None
        if not isinstance(properties, dict):
            problems.append("objectTypes.%s.properties is missing" % object_type)
        elif sum(1 for p in properties.values() if isinstance(p, dict) and p.get("nativeName") == "__NAME__") != 1:
            problems.append("objectTypes.%s needs exactly one attribute with nativeName __NAME__" % object_type)
    return problems
