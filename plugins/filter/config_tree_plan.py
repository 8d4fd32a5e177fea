# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
name: config_tree_plan
short_description: The files of a PingIDM config tree in the order IDM needs them applied
version_added: 0.1.0
description:
  - Reads config ids from file names the way IDM reads its C(conf/) directory (C(<id>.json), or
    C(<factory>-<alias>.json) for C(<factory>/<alias>), the first C(-) splits) and sorts the files so that what
    an object refers to comes first - connectors (C(provisioner.openicf/*)), then C(managed), then any other
    object, then mappings (C(sync), C(mapping/*)), then schedules (C(schedule/*)); by id within a kind, except
    that a per-mapping file whose C(links) names another mapping of the tree comes after it (read from the file
    when it is plain JSON).
  - Fails naming every file whose name is not a config id.
author:
  - idmops.pingidm contributors (@idmops)
positional: _input
options:
  _input:
    description: Paths of the tree's C(.json) files.
    type: list
    elements: str
    required: true
seealso:
  - plugin: idmops.pingidm.config_tree_export
    plugin_type: filter
  - plugin: idmops.pingidm.config_tree_prune
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Apply order of a tree
  ansible.builtin.debug:
    msg: "{{ found.files | map(attribute='path') | idmops.pingidm.config_tree_plan | map(attribute='id') }}"
"""

RETURN = r"""
_value:
  description: One entry per file, in apply order.
  type: list
  elements: dict
  contains:
    path:
      description: The path given.
      type: str
    file:
      description: File name.
      type: str
    id:
      description: Config id.
      type: str
    kind:
      description: C(connector), C(managed), C(config), C(sync), C(mapping) or C(schedule).
      type: str
    name:
      description: The part after C(/) (the connector, mapping or schedule name), or the id.
      type: str
    order:
      description: Rank of the kind (0 first).
      type: int
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.idmops.pingidm.plugins.plugin_utils import _config_tree


def config_tree_plan(paths):
    try:
        return _config_tree.plan([str(p) for p in paths])
    except _config_tree.TreeError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {"config_tree_plan": config_tree_plan}
