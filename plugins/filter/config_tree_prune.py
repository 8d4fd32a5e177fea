# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
name: config_tree_prune
short_description: Which PingIDM configuration objects a config tree's prune removes, and which it protects
version_added: 0.1.0
description:
  - An object on the server is removed when the tree has objects of its kind (the same factory, for example
    C(provisioner.openicf), C(mapping), C(schedule)) but not this one. Singletons (C(sync), C(managed), ...) are
    never removed; the mappings inside C(sync) are pruned by M(idmops.pingidm.mapping) itself.
  - 'Protected, never removed unless O(allow) names them: IDM''s own configuration - C(access), C(audit),
    C(authentication), C(cluster), C(consent), C(emailTemplate/*), C(endpoint/*), C(external.*),
    C(fieldPolicy/*), C(identityProviders), C(info/*), C(internal), C(jsonstore), C(logging), C(managed),
    C(metrics), C(notification/*), C(org.apache.*), C(policy), C(process/*),
    C(provisioner.openicf.connectorinfoprovider), C(repo.*), C(router), C(scheduler), C(script), C(secrets),
    C(selfservice*), C(servletfilter/*), C(sync), C(ui*), C(webserver*), C(workflow).'
  - The removal order is the reverse of the apply order - schedules, mappings, other objects, connectors - so
    nothing is left pointing at a removed object.
author:
  - idmops.pingidm contributors (@idmops)
positional: _input, server_ids, allow
options:
  _input:
    description: Config ids of the tree (see P(idmops.pingidm.config_tree_plan#filter)).
    type: list
    elements: str
    required: true
  server_ids:
    description: Config ids on the server (M(idmops.pingidm.config_info) with C(content=false)).
    type: list
    elements: str
    required: true
  allow:
    description: Ids or id patterns that may be removed although protected.
    type: list
    elements: str
    default: []
seealso:
  - plugin: idmops.pingidm.config_tree_plan
    plugin_type: filter
"""

EXAMPLES = r"""
- name: What would prune remove?
  ansible.builtin.debug:
    msg: "{{ tree_ids | idmops.pingidm.config_tree_prune(server.ids) }}"
"""

RETURN = r"""
_value:
  description: The prune plan.
  type: dict
  contains:
    remove:
      description: Ids to remove, in removal order.
      type: list
      elements: str
    protected:
      description: Ids that would be removed but are protected.
      type: list
      elements: str
    kinds:
      description: The id patterns looked at (C(<factory>/*) of each factory in the tree).
      type: list
      elements: str
"""

from ansible_collections.idmops.pingidm.plugins.plugin_utils import _config_tree


def config_tree_prune(tree_ids, server_ids, allow=None):
    return _config_tree.prune(list(tree_ids), list(server_ids), list(allow or []))


class FilterModule(object):
    def filters(self):
        return {"config_tree_prune": config_tree_prune}
