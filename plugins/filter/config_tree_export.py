# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
name: config_tree_export
short_description: The config tree file of one PingIDM configuration object, secrets as Vault references
version_added: 0.1.0
description:
  - Turns one entry of M(idmops.pingidm.config_info)'s C(configs) into the file C(playbooks/export.yml) writes -
    the object without C(_id) and C(_rev), as pretty JSON with sorted keys (stable and diff-friendly), named after
    IDM's C(conf/) convention (C(provisioner.openicf-scim.json), C(sync.json), C(schedule-<name>.json)).
  - Every secret (the entry's C(secrets)) becomes the Jinja reference
    C({{ scim_sync_config_secrets['<object>_<property>'] }}), never its value or IDM's C($crypto) blob; the role's
    apply fills that dict from the Vault variables C(vault_<tenant>_<object>_<property>). C(<object>) is the
    connector name for connectors and the config id otherwise, C(<property>) the secret's dotted name (relative to
    C(configurationProperties)), all parts in snake case as Ansible names variables (C(clientSecret) becomes
    C(client_secret), C(idm-EU) becomes C(idm_eu)), for example C(vault_idm_eu_scim_client_secret).
  - Text that Jinja would read as a tag (C({{), C({%), C({#)) is escaped, so the file renders back to the object.
author:
  - idmops.pingidm contributors (@idmops)
positional: _input, tenant
options:
  _input:
    description: One entry of M(idmops.pingidm.config_info)'s C(configs) (C(id), C(config), C(secrets)).
    type: dict
    required: true
  tenant:
    description: The tenant's name (usually C(inventory_hostname)), the C(<tenant>) of the Vault variable names.
    type: str
    required: true
seealso:
  - module: idmops.pingidm.config_info
  - plugin: idmops.pingidm.config_tree_plan
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Write the connectors of a tenant as files
  ansible.builtin.copy:
    dest: "export/{{ inventory_hostname }}/{{ item.file }}"
    content: "{{ item.content }}"
    mode: "0644"
  loop: "{{ tenant_config.configs | map('idmops.pingidm.config_tree_export', inventory_hostname) | list }}"
  loop_control:
    label: "{{ item.file }}"
"""

RETURN = r"""
_value:
  description: The file.
  type: dict
  contains:
    file:
      description: File name, for example C(provisioner.openicf-scim.json).
      type: str
    id:
      description: Config id, for example C(provisioner.openicf/scim).
      type: str
    kind:
      description: C(connector), C(managed), C(sync), C(mapping), C(schedule) or C(config).
      type: str
    content:
      description: The file's text.
      type: str
    secrets:
      description: The secrets referenced, with C(name), C(key) (in C(scim_sync_config_secrets)), C(path) and
        C(vault_variable).
      type: list
      elements: dict
"""

from ansible.errors import AnsibleFilterError
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.idmops.pingidm.plugins.plugin_utils import _config_tree


def config_tree_export(item, tenant):
    if not isinstance(item, dict) or "id" not in item or "config" not in item:
        raise AnsibleFilterError("config_tree_export expects an entry of config_info's configs (id, config, secrets)")
    try:
        exported = _config_tree.export(item, str(tenant))
    except _config_tree.TreeError as exc:
        raise AnsibleFilterError(str(exc))
    # The content holds Jinja references meant for apply: marked unsafe, no later templating (ansible-core < 2.19
    # templates variable values again) can resolve a secret into the exported file.
    return wrap_var(exported)


class FilterModule(object):
    def filters(self):
        return {"config_tree_export": config_tree_export}
