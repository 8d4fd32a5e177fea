#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mapping
short_description: Manage PingIDM synchronization mappings by name, in sync.json or as per-mapping configs
version_added: 0.1.0
description:
  - Creates, updates or removes mappings, each identified by its C(name).
  - With O(storage=sync) (IDM's C(sync.json)), reads C(config/sync), replaces each given mapping in place (or appends
    a new one at the end), keeps every other mapping and the order, and writes C(config/sync) once, only when
    something differs.
  - With O(storage=mapping), each mapping is its own configuration object C(config/mapping/<name>).
  - Each mapping is compared as a whole document, ignoring C(_id) and key order, like M(idmops.pingidm.config).
  - Every given mapping is validated before anything is written, with the rules of the filter
    P(idmops.pingidm.sync_problems#filter), and the task fails naming each mapping and field at fault - a missing or
    repeated C(name); a C(source) or C(target) that is not C(managed/<object>), C(system/<connector>/<object type>)
    or another resource path; a property without C(target); a policy whose C(situation) or C(action) is not one of
    IDM's (case-sensitive) names or a script.
  - C(links) is checked against the mappings of both storages as they will be after the task - it must name a
    mapping that goes the same way or exactly the reverse way, as IDM requires (otherwise IDM refuses to load the
    mappings and every reconciliation fails). Removing, or changing the direction of, a mapping that another
    mapping links to is refused for the same reason.
  - A name defined both in C(config/sync) and as C(config/mapping/<name>) is reported in RV(shadowed) with a
    warning, since IDM runs only one of the two definitions.
author:
  - idmops.pingidm contributors (@idmops)
extends_documentation_fragment:
  - idmops.pingidm.connection
  - idmops.pingidm.connection.actiongroup_idm
  - idmops.pingidm.template
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode reads and compares like a real run and reports the same V(changed), RV(mappings) and C(diff),
        including the mappings O(prune=true) would remove.
  diff_mode:
    support: full
    details:
      - One diff per changed mapping, with the mapping name as header.
options:
  name:
    description:
      - Name of the one mapping to manage with O(mapping), or to remove with O(state=absent).
      - May be left out when O(mapping) has a C(name).
    type: str
  mapping:
    description:
      - The whole desired mapping (C(source), C(target), C(properties), C(policies), ...).
      - Its C(name) is set from O(name) when missing; a different C(name) is an error.
    type: dict
  mappings:
    description:
      - Several whole mappings, each with a C(name). With O(state=absent) only the names count.
      - With O(prune=true) this list is authoritative, and its order becomes the order of C(sync.json).
    type: list
    elements: dict
  storage:
    description:
      - V(sync) keeps all mappings in C(config/sync) (C(conf/sync.json)).
      - V(mapping) keeps each mapping in C(config/mapping/<name>) (IDM 7 per-mapping files).
    type: str
    choices: [sync, mapping]
    default: sync
  prune:
    description:
      - Remove every mapping on the server that is not in O(mappings) (or O(mapping)).
      - In check mode the mappings that would be removed are reported and nothing is removed.
    type: bool
    default: false
  state:
    description: Whether the given mappings should exist.
    type: str
    choices: [present, absent]
    default: present
notes:
  - The names of the template option's result are used as is; a template may render one mapping, a list of mappings
    or an object with a C(mappings) list (the shape of C(sync.json)).
"""

EXAMPLES = r"""
- name: Push all mappings of the sample from the collection's template, authoritative
  idmops.pingidm.mapping:
    idm_url: http://localhost:8080
    username: openidm-admin
    password: "{{ idm_admin_password }}"
    template: sync.json.j2
    prune: true

- name: Update one mapping, keep the others
  idmops.pingidm.mapping:
    idm_url: http://localhost:8080
    username: openidm-admin
    password: "{{ idm_admin_password }}"
    name: systemScimAccount_managedUser
    mapping:
      source: system/scim/account
      target: managed/user
      properties:
        - source: userName
          target: userName
      policies:
        - situation: ABSENT
          action: CREATE

- name: Remove a mapping
  idmops.pingidm.mapping:
    idm_url: http://localhost:8080
    username: openidm-admin
    password: "{{ idm_admin_password }}"
    name: managedUser_systemScimAccount
    state: absent
"""

RETURN = r"""
mappings:
  description: Names of the mappings created, updated or removed (or that would be, in check mode).
  returned: success
  type: list
  elements: str
  sample: ["systemScimAccount_managedUser"]
created:
  description: Names of the mappings created.
  returned: success
  type: list
  elements: str
updated:
  description: Names of the mappings updated.
  returned: success
  type: list
  elements: str
unmanaged:
  description:
    - Names of the mappings in the same storage that the task did not give and kept (O(prune=false)).
    - With a list of mappings or a template, a warning names them too.
  returned: success
  type: list
  elements: str
  sample: ["systemLdapAccounts_managedUser"]
removed:
  description: Names of the mappings removed (by O(state=absent) or O(prune=true)).
  returned: success
  type: list
  elements: str
shadowed:
  description:
    - Names defined both in C(config/sync) and as C(config/mapping/<name>) after the task (would be, in check
      mode); a warning names them too.
  returned: success
  type: list
  elements: str
  sample: []
problems:
  description: The validation problems, each naming the mapping and the field.
  returned: when the input is invalid
  type: list
  elements: str
  sample: ["mapping managedUser_systemScimAccount: unknown action CRATE for ABSENT (known: CREATE, UPDATE, ...)"]
order_changed:
  description: True when the order of the mappings kept in C(sync.json) changes (only with O(prune=true)).
  returned: with O(storage=sync)
  type: bool
diff:
  description: A list of diffs, one per changed mapping, masked.
  returned: when diff mode is on
  type: list
  elements: dict
"""

import copy

from ansible_collections.idmops.pingidm.plugins.module_utils import _validate
from ansible_collections.idmops.pingidm.plugins.module_utils._mappings import (
    ServerMappings, apply_per_mapping, apply_sync, shadowed_warning)
from ansible_collections.idmops.pingidm.plugins.module_utils._module import (
    IdmModule, ModuleFailure, ModuleSpec, refuse_template)


def module_spec():
    return ModuleSpec(
        dict(
            name=dict(type="str"),
            mapping=dict(type="dict"),
            mappings=dict(type="list", elements="dict"),
            template=dict(type="path"),
            storage=dict(type="str", default="sync", choices=["sync", "mapping"]),
            prune=dict(type="bool", default=False),
            state=dict(type="str", default="present", choices=["present", "absent"]),
        ),
        mutually_exclusive=[("mapping", "mappings"), ("name", "mappings"), ("template", "mapping"),
                            ("template", "mappings")],
        required_one_of=[("name", "mapping", "mappings", "template")],
        document_options=("mapping", "mappings"),
    )


def desired_mappings(params):
    """The given mappings as a list, names filled in; raises ValueError with a message on conflicts."""
    if params["mapping"] is not None:
        mapping = copy.deepcopy(params["mapping"])
        name = params["name"]
        if name is not None and mapping.get("name") not in (None, name):
            raise ValueError("name is %r but mapping.name is %r; give one name" % (name, mapping.get("name")))
        if name is not None:
            mapping["name"] = name
        return [mapping]
    if params["mappings"] is not None:
        return copy.deepcopy(params["mappings"])
    if params["name"] is not None:
        return [{"name": params["name"]}]
    return None


def checked_input(params):
    """The mappings to apply, checked before anything is read or written (links are checked with the server's)."""
    if params["state"] == "absent" and params["prune"]:
        raise ModuleFailure("prune=true needs state=present (it removes the mappings not given).")
    if params["state"] == "present" and params["mapping"] is None and params["mappings"] is None:
        raise ModuleFailure("state=present needs the mapping itself: give mapping (with name) or mappings.")
    try:
        desired = desired_mappings(params)
    except ValueError as exc:
        raise ModuleFailure(str(exc))
    problems = _validate.mapping_problems(desired, names_only=params["state"] == "absent", check_links=False)
    if problems:
        raise ModuleFailure("Invalid mapping input, nothing was written: " + "; ".join(problems), problems=problems)
    return desired


def run(module):
    params = module.params
    refuse_template(module, "idmops.pingidm.mapping", "mapping or mappings")
    desired = checked_input(params)
    server = ServerMappings.read(module.client)
    apply = apply_sync if params["storage"] == "sync" else apply_per_mapping
    result = apply(module.client, server, desired, params["state"], params["prune"], module.check_mode,
                   module._diff)
    if result["shadowed"]:
        module.warn(shadowed_warning(result["shadowed"]))
    # A list (or a rendered sync.json) reads as "these are the mappings": say what else the server has.
    if result.get("unmanaged") and params["mappings"] is not None:
        module.warn("Mappings on the server that this task does not manage, kept: %s. Set prune=true to remove "
                    "them." % ", ".join(result["unmanaged"]))
    return result


def main():
    IdmModule(module_spec()).execute(run)


if __name__ == "__main__":
    main()
