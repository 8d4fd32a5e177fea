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

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.idmops.pingidm.plugins.module_utils import _compare, _validate
from ansible_collections.idmops.pingidm.plugins.module_utils._client import (
    ApiError, client_from_module, fail_on_api_error, idm_argument_spec, idm_module_kwargs)
from ansible_collections.idmops.pingidm.plugins.module_utils._mappings import (
    SYNC_PATH, ServerMappings, shadowed_warning)


class InvalidInput(Exception):
    def __init__(self, problems):
        super(InvalidInput, self).__init__("Invalid mapping input, nothing was written: " + "; ".join(problems))
        self.problems = problems


def validate(mappings, names_only=False):
    """Problems of the given mappings that need no server (links are checked once the server's mappings are read),
    each naming the mapping and field; empty when all is well."""
    return _validate.mapping_problems(mappings, names_only=names_only, check_links=False)


def check_links(final, plan):
    """Refuse a result in which a ``links`` this task writes, or one naming a mapping it writes or removes, is not
    what IDM accepts (it would then refuse to load the mappings)."""
    problems = _validate.links_problems(final, plan.created + plan.updated + plan.removed)
    if problems:
        raise InvalidInput(problems)


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


def _comparable(mapping):
    return _compare.normalise(mapping, drop=[("_id",)])


def _mapping_diff(name, before, after):
    d = _compare.diff(before, after)
    d["before_header"] = "mapping %s%s" % (name, "" if before is not None else " (absent)")
    d["after_header"] = "mapping %s%s" % (name, "" if after is not None else " (absent)")
    return d


class Plan(object):
    def __init__(self):
        self.created, self.updated, self.removed = [], [], []
        self.unmanaged = []  # on the server, not given, kept (prune=false)
        self.order_changed = False
        self.diffs = []

    @property
    def changed(self):
        return bool(self.created or self.updated or self.removed or self.order_changed)

    def result(self):
        names = self.created + self.updated + self.removed
        return dict(changed=self.changed, mappings=names, created=self.created, updated=self.updated,
                    removed=self.removed, unmanaged=self.unmanaged)


def plan_sync(current, desired, state, prune):
    """(Plan, new mapping list) for config/sync; keeps order and the mappings not named."""
    plan = Plan()
    by_name = dict((m.get("name"), i) for i, m in enumerate(current))
    if state == "absent":
        names = set(m["name"] for m in desired)
        new = [m for m in current if m.get("name") not in names]
        for m in current:
            if m.get("name") in names:
                plan.removed.append(m["name"])
                plan.diffs.append(_mapping_diff(m["name"], _comparable(m), None))
        return plan, new

    new = list(current)
    for mapping in desired:
        name = mapping["name"]
        if name in by_name:
            old = current[by_name[name]]
            if not _compare.same(_comparable(old), _comparable(mapping)):
                plan.updated.append(name)
                plan.diffs.append(_mapping_diff(name, _comparable(old), _comparable(mapping)))
                new[by_name[name]] = mapping
        else:
            plan.created.append(name)
            plan.diffs.append(_mapping_diff(name, None, _comparable(mapping)))
            new.append(mapping)
    wanted = [m["name"] for m in desired]
    if not prune:
        plan.unmanaged = [m.get("name") for m in current if m.get("name") not in wanted]
    else:
        for m in current:
            if m.get("name") not in wanted:
                plan.removed.append(m.get("name"))
                plan.diffs.append(_mapping_diff(m.get("name"), _comparable(m), None))
        by_new_name = dict((m.get("name"), m) for m in new)
        kept_before = [m.get("name") for m in current if m.get("name") in wanted]
        kept_after = [name for name in wanted if name in kept_before]
        new = [by_new_name[name] for name in wanted]
        plan.order_changed = kept_before != kept_after
        if plan.order_changed:
            plan.diffs.append({"before_header": "mapping order", "after_header": "mapping order",
                               "before": {"order": [m.get("name") for m in current]}, "after": {"order": wanted}})
    return plan, new


def run_sync(module, client, desired, server):
    params = module.params
    stored = server.sync_document
    current = list((stored or {}).get("mappings") or [])
    plan, new = plan_sync(current, desired, params["state"], params["prune"])
    final = dict(server.per_mapping)
    final.update((m.get("name"), m) for m in new if isinstance(m, dict))
    check_links(final, plan)
    shadowed = sorted(set(m.get("name") for m in new if isinstance(m, dict)) & set(server.per_mapping))
    if plan.changed and not module.check_mode:
        document = _compare.normalise(stored) or {}
        document["mappings"] = new
        client.put(SYNC_PATH, document)
    result = plan.result()
    result["order_changed"] = plan.order_changed
    result["shadowed"] = shadowed
    if module._diff:
        result["diff"] = plan.diffs
    return result


def run_per_mapping(module, client, desired, server):
    params = module.params
    plan = Plan()
    writes = []
    stored_configs = server.per_mapping
    final = dict(stored_configs)
    if params["state"] == "absent":
        for mapping in desired:
            stored = stored_configs.get(mapping["name"])
            if stored is not None:
                plan.removed.append(mapping["name"])
                plan.diffs.append(_mapping_diff(mapping["name"], _comparable(stored), None))
                writes.append(("DELETE", mapping["name"], None))
                final.pop(mapping["name"], None)
    else:
        for mapping in desired:
            name = mapping["name"]
            stored = stored_configs.get(name)
            final[name] = mapping
            if stored is None:
                plan.created.append(name)
            elif not _compare.same(_comparable(stored), _comparable(mapping)):
                plan.updated.append(name)
            else:
                continue
            plan.diffs.append(_mapping_diff(name, _comparable(stored) if stored is not None else None,
                                            _comparable(mapping)))
            writes.append(("PUT", name, mapping))
        wanted = set(m["name"] for m in desired)
        others = [name for name in sorted(stored_configs) if name not in wanted]
        if not params["prune"]:
            plan.unmanaged = others
        else:
            for name in others:
                plan.removed.append(name)
                plan.diffs.append(_mapping_diff(name, _comparable(stored_configs[name]), None))
                writes.append(("DELETE", name, None))
                final.pop(name, None)
    shadowed = sorted(set(name for name in final if name) & set(m.get("name") for m in server.sync))
    final.update((m.get("name"), m) for m in server.sync if m.get("name"))  # config/sync wins a shadowed name
    check_links(final, plan)
    if not module.check_mode:
        for method, name, body in writes:
            if method == "PUT":
                client.put("config/mapping/" + name, body)
            else:
                client.delete("config/mapping/" + name)
    result = plan.result()
    result["shadowed"] = shadowed
    if module._diff:
        result["diff"] = plan.diffs
    return result


def main():
    argument_spec = idm_argument_spec()
    argument_spec.update(
        name=dict(type="str"),
        mapping=dict(type="dict"),
        mappings=dict(type="list", elements="dict"),
        template=dict(type="path"),
        storage=dict(type="str", default="sync", choices=["sync", "mapping"]),
        prune=dict(type="bool", default=False),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )
    module = AnsibleModule(
        argument_spec=argument_spec, supports_check_mode=True,
        mutually_exclusive=[("mapping", "mappings"), ("name", "mappings"), ("template", "mapping"),
                            ("template", "mappings")],
        required_one_of=[("name", "mapping", "mappings", "template")],
        **idm_module_kwargs())
    params = module.params
    if params["template"] is not None:
        module.fail_json(msg="template must be rendered on the controller by the idmops.pingidm.mapping action "
                             "plugin; call the module by its FQCN idmops.pingidm.mapping or pass mapping/mappings.")
    if params["state"] == "absent" and params["prune"]:
        module.fail_json(msg="prune=true needs state=present (it removes the mappings not given).")
    if params["state"] == "present" and params["mapping"] is None and params["mappings"] is None:
        module.fail_json(msg="state=present needs the mapping itself: give mapping (with name) or mappings.")
    try:
        desired = desired_mappings(params)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    if params["state"] == "absent" and params["mapping"] is None and params["mappings"] is None:
        desired = [{"name": params["name"]}]
    problems = validate(desired, names_only=params["state"] == "absent")
    if problems:
        module.fail_json(msg=str(InvalidInput(problems)), problems=problems, changed=False)
    module.no_log_values.update(_compare.secret_values(desired))
    client = client_from_module(module)
    try:
        server = ServerMappings.read(client)
        if params["storage"] == "sync":
            result = run_sync(module, client, desired, server)
        else:
            result = run_per_mapping(module, client, desired, server)
    except InvalidInput as exc:
        module.fail_json(msg=str(exc), problems=exc.problems, changed=False)
    except ApiError as exc:
        fail_on_api_error(module, exc, changed=False)
    finally:
        client.close()
    if result["shadowed"]:
        module.warn(shadowed_warning(result["shadowed"]))
    # A list (or a rendered sync.json) reads as "these are the mappings": say what else the server has.
    if result.get("unmanaged") and params["mappings"] is not None:
        module.warn("Mappings on the server that this task does not manage, kept: %s. Set prune=true to remove "
                    "them." % ", ".join(result["unmanaged"]))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
