#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: config_info
short_description: List and read PingIDM configuration objects by id or id pattern, secrets masked
version_added: 0.1.0
description:
  - Lists the configuration ids IDM has (C(GET config)) and reads the objects whose ids match O(id)
    (C(GET config/<id>) each), for example every connector (V(provisioner.openicf/*)), V(sync), every per-mapping
    config (V(mapping/*)), every schedule (V(schedule/*)) or V(managed).
  - Never writes. Every secret is masked in what it returns (C($crypto) values and the values of secret keys such
    as C(clientSecret) or C(password) show as C(********)); RV(configs[].secrets) says where the secrets are, so a
    caller can replace them with references (C(playbooks/export.yml) does).
author:
  - idmops.pingidm contributors (@idmops)
extends_documentation_fragment:
  - idmops.pingidm.connection
  - idmops.pingidm.connection.actiongroup_idm
  - ansible.builtin.action_common_attributes
  - idmops.pingidm.attributes.info_module
options:
  id:
    description:
      - Ids or id patterns of the objects to return, the part after C(config/).
      - A pattern uses shell wildcards (C(*), C(?), C([...])), case-sensitive; C(*) also matches C(/), so V(*)
        is every object.
      - An id without wildcards that IDM does not have is listed in RV(missing); a pattern may match nothing.
    type: list
    elements: str
    default: ["*"]
  exclude:
    description: Ids or id patterns to leave out of the result, for example V(ui*).
    type: list
    elements: str
    default: []
  content:
    description:
      - Read the objects (V(true)) or only list the matching ids in RV(ids) (V(false), one request).
    type: bool
    default: true
seealso:
  - module: idmops.pingidm.config
"""

EXAMPLES = r"""
- name: Read the connectors, the mappings and the schedules of a tenant
  idmops.pingidm.config_info:
    idm_url: https://idm.example.com
    username: openidm-admin
    password: "{{ idm_admin_password }}"
    id:
      - provisioner.openicf/*
      - sync
      - mapping/*
      - schedule/*
  register: tenant_config

- name: Which schedules exist?
  idmops.pingidm.config_info:
    idm_url: https://idm.example.com
    username: openidm-admin
    password: "{{ idm_admin_password }}"
    id: schedule/*
    content: false
  register: schedules

- name: Everything except IDM's UI settings
  idmops.pingidm.config_info:
    idm_url: https://idm.example.com
    username: openidm-admin
    password: "{{ idm_admin_password }}"
    exclude: ["ui*", "ui/*"]
"""

RETURN = r"""
ids:
  description: The matching configuration ids, sorted.
  returned: always
  type: list
  elements: str
  sample: ["provisioner.openicf/scim", "schedule/recon-users", "sync"]
missing:
  description: Ids asked for without wildcards that IDM does not have.
  returned: always
  type: list
  elements: str
  sample: ["managed"]
configs:
  description: The matching objects, sorted by id.
  returned: when O(content=true)
  type: list
  elements: dict
  contains:
    id:
      description: Configuration id.
      type: str
      sample: provisioner.openicf/scim
    config:
      description: The object as IDM returns it (with C(_id)), every secret masked.
      type: dict
      sample: {"_id": "provisioner.openicf/scim", "configurationProperties": {"clientSecret": {"$crypto": "********"}}}
    secrets:
      description: Where the secrets are, never their values.
      type: list
      elements: dict
      contains:
        path:
          description: Keys (and list indexes) from the top of the object to the secret.
          type: list
          sample: ["configurationProperties", "clientSecret"]
        name:
          description: Dotted path, relative to C(configurationProperties) for connector properties.
          type: str
          sample: clientSecret
"""

from ansible_collections.idmops.pingidm.plugins.module_utils import _config_info
from ansible_collections.idmops.pingidm.plugins.module_utils._module import IdmModule, ModuleFailure, ModuleSpec


def module_spec():
    return ModuleSpec(dict(
        id=dict(type="list", elements="str", default=["*"]),
        exclude=dict(type="list", elements="str", default=[]),
        content=dict(type="bool", default=True),
    ))


def run(module):
    params = module.params
    problems = [p for p in (_config_info.pattern_problem(x) for x in params["id"] + params["exclude"]) if p]
    if problems:
        raise ModuleFailure("Invalid id: " + "; ".join(problems))
    result, clear_secrets = _config_info.read(module.client, params["id"], params["exclude"], params["content"])
    # The result is masked already; this also keeps the values out of anything Ansible prints about the task.
    module.no_log_values.update(clear_secrets)
    return dict(changed=False, **result)


def main():
    IdmModule(module_spec()).execute(run)


if __name__ == "__main__":
    main()
