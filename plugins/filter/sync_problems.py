# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
name: sync_problems
short_description: Problems of a set of PingIDM mappings, before they are sent to IDM
version_added: 0.1.0
description:
  - Checks mappings the way M(idmops.pingidm.mapping) does before it writes, and returns the problems found, each
    naming the mapping and the field; an empty list when all is well.
  - Each mapping needs a C(name) (unique, no C(/)), and a C(source) and C(target) of the form C(managed/<object>),
    C(system/<connector>/<object type>) or another resource path. Each property needs a C(target). Each policy
    needs a C(situation) and an C(action) of IDM's names (case-sensitive), or a script action.
  - C(links) must name a mapping of the set (or of O(existing)) that goes the same way or exactly the reverse way,
    as IDM requires; otherwise IDM refuses to load the mappings and every reconciliation fails.
  - With O(connectors), a C(system/<connector>/<object type>) side of one of these connectors must name one of its
    object types, and the properties on that side must name its attributes.
  - An empty set is a problem (the filter checks a rendered configuration, which should hold mappings).
author:
  - idmops.pingidm contributors (@idmops)
positional: _input
options:
  _input:
    description: 'The mappings, as IDM''s C(sync.json) (C({"mappings": [...]})), a list of mappings, or one mapping.'
    type: raw
    required: true
  connectors:
    description: Connector name to provisioner configuration (C(config/provisioner.openicf/<name>)) whose object
      types and attributes the mappings are checked against.
    type: dict
  existing:
    description: Mappings already on the server (a list of mappings, or name to mapping), for C(links) that name a
      mapping outside the set. A mapping of the set with the same name wins.
    type: raw
seealso:
  - module: idmops.pingidm.mapping
  - plugin: idmops.pingidm.connector_problems
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Check the rendered mappings against the rendered connector before anything is written
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems | join('; ') }}"
  vars:
    sync_doc: "{{ lookup('ansible.builtin.template', 'sync.json.j2') | from_json }}"
    connector_doc: "{{ lookup('ansible.builtin.template', 'provisioner.openicf-scim.json.j2') | from_json }}"
    problems: "{{ sync_doc | idmops.pingidm.sync_problems(connectors={'scim': connector_doc}) }}"
"""

RETURN = r"""
_value:
  description: "The problems, for example C(mapping managedUser_systemScimAccount: unknown action CRATE for ABSENT)."
  type: list
  elements: str
"""

from ansible_collections.idmops.pingidm.plugins.module_utils._validate import mapping_problems, mappings_of


def sync_problems(document, connectors=None, existing=None):
    mappings = mappings_of(document)
    if isinstance(existing, list):
        existing = dict((m.get("name"), m) for m in existing if isinstance(m, dict))
    if isinstance(mappings, list) and not mappings:
        return ["no mappings"]
    return mapping_problems(mappings, existing=existing, connectors=connectors)


class FilterModule(object):
    def filters(self):
        return {"sync_problems": sync_problems}
