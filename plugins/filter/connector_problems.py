# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
name: connector_problems
short_description: Problems of a PingIDM connector configuration, before it is sent to IDM
version_added: 0.1.0
description:
  - Checks a provisioner configuration (C(config/provisioner.openicf/<name>)) and returns the problems found, each
    naming the field; an empty list when all is well. Values are never part of a message, so a configuration that
    holds secrets can be checked.
  - Every connector needs C(connectorRef) with C(connectorName), C(bundleName) and C(bundleVersion) (IDM refuses to
    store a configuration whose connector it does not have), and C(configurationProperties) and C(objectTypes)
    objects.
  - The SCIM connector (C(org.forgerock.openicf.connectors.scim.ScimConnector)) also needs C(SCIMEndpoint) an
    http(s) URL, C(SCIMVersion) 1 or 2, C(authenticationMethod) C(OAUTH) (with C(grantType), C(tokenEndpoint),
    C(clientId), C(clientSecret)), C(BASIC) (with C(user), C(password)) or C(TOKEN) (with C(authToken)), and
    C(account) and C(group) object types with exactly one attribute whose C(nativeName) is C(__NAME__).
author:
  - idmops.pingidm contributors (@idmops)
positional: _input
options:
  _input:
    description: The provisioner configuration.
    type: dict
    required: true
  variables:
    description:
      - Field path (for example C(configurationProperties.clientSecret)) to the name of the variable that sets it;
        a problem of that field ends with C((set <variable>)).
    type: dict
seealso:
  - module: idmops.pingidm.connector
  - plugin: idmops.pingidm.sync_problems
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Check the rendered connector before it is written
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems | join('; ') }}"
  vars:
    problems: >-
      {{ lookup('ansible.builtin.template', 'provisioner.openicf-scim.json.j2') | from_json
         | idmops.pingidm.connector_problems(variables={'configurationProperties.clientSecret': 'scim_client_secret'}) }}
"""

RETURN = r"""
_value:
  description: The problems, for example C(configurationProperties.SCIMVersion must be 1 or 2).
  type: list
  elements: str
"""

from ansible_collections.idmops.pingidm.plugins.module_utils._validate import connector_problems


class FilterModule(object):
    def filters(self):
        return {"connector_problems": connector_problems}
