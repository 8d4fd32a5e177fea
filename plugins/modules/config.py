#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: config
short_description: Manage one PingIDM configuration object as a whole document
version_added: 0.1.0
description:
  - Makes C(config/<id>) equal to O(config) (or the rendered O(template)), or removes it.
  - The comparison is semantic. C(_id) and C(_rev) never count and neither does key order; list order and value
    types do (V(true) is not V(1)).
  - IDM-encrypted values (C($crypto) objects) count as equal when they are identical or decrypt to the same value
    (through C(POST script?_action=eval)). If decryption is refused, they count as different and a warning
    says so. Use M(idmops.pingidm.connector) for connectors, which has a policy for secrets.
  - Writes with one C(PUT config/<id>) only when the document differs; deletes only when it exists.
  - With O(mode=replace) (the default) the whole object is managed. Keys left out of O(config) are removed from
    the server's object.
  - With O(mode=merge) only what O(config) names is managed, so one part of a large object (one managed object
    type of C(managed), one setting of C(authentication)) can be owned without the rest. See O(mode).
  - Connector configurations (C(provisioner.openicf/<name>)) belong to M(idmops.pingidm.connector), which
    compares secrets by a policy, retries IDM's answer while it has no connector metadata and waits for the
    connector to start. This module refuses their ids unless O(allow_connector_ids=true).
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
      - Check mode reads, merges (O(mode=merge)) and compares like a real run and reports the same V(changed),
        RV(created) and C(diff), without writing.
  diff_mode:
    support: full
    details:
      - Secrets are shown as C(********) in the diff.
options:
  id:
    description:
      - Id of the configuration object, for example V(sync), V(managed), V(provisioner.openicf/scim) or V(mapping/x).
      - At most two path segments, as IDM allows.
    type: str
    required: true
  config:
    description:
      - The desired configuration object (with O(mode=merge), the part of it to own). C(_id) and C(_rev) in it are
        ignored.
      - Required with O(state=present) unless O(template) is given.
    type: dict
  mode:
    description:
      - V(replace) makes the stored object equal to O(config).
      - V(merge) merges O(config) into the stored object (or into an empty one when it does not exist) and
        writes the result. Objects merge key by key, recursively; keys not given are kept. A key given with the
        value V(null) is removed (RFC 7386 JSON merge patch), so a null cannot be stored this way - use
        V(replace) for that. A list whose elements are all objects with a C(name) (C(managed.objects),
        C(sync.mappings)) merges element by element by name, recursively; elements not given are kept, new ones are
        appended, and an element cannot be removed this way. Any other value, including any other list, replaces
        the stored one.
      - Only with O(state=present).
    type: str
    choices: [replace, merge]
    default: replace
  allow_connector_ids:
    description:
      - Allow an O(id) of the form C(provisioner.openicf/<name>), a connector configuration, which is refused
        otherwise in favour of M(idmops.pingidm.connector).
    type: bool
    default: false
  state:
    description: Whether the configuration object should exist.
    type: str
    choices: [present, absent]
    default: present
"""

EXAMPLES = r"""
- name: Own the managed object type "device" only; the other managed objects stay as they are
  idmops.pingidm.config:
    idm_url: http://localhost:8080
    username: openidm-admin
    password: "{{ idm_admin_password }}"
    id: managed
    mode: merge
    config:
      objects:
        - name: device
          schema:
            title: Device
            type: object
            properties:
              serial: {type: string, title: Serial number}

- name: Set the managed object configuration from a file
  idmops.pingidm.config:
    idm_url: http://localhost:8080
    username: openidm-admin
    password: "{{ idm_admin_password }}"
    id: managed
    config: "{{ lookup('ansible.builtin.file', 'managed.json') | from_json }}"

- name: Render a configuration from a Jinja template on the controller
  idmops.pingidm.config:
    idm_url: http://localhost:8080
    username: openidm-admin
    password: "{{ idm_admin_password }}"
    id: sync
    template: sync.json.j2

- name: Remove a schedule
  idmops.pingidm.config:
    idm_url: http://localhost:8080
    username: openidm-admin
    password: "{{ idm_admin_password }}"
    id: schedule/reconcile-scim
    state: absent
"""

RETURN = r"""
created:
  description: True when the configuration object was created (would be, in check mode).
  returned: success
  type: bool
  sample: false
config:
  description:
    - The configuration object as stored after the task (as it would be, in check mode), secrets masked.
    - Empty after a removal.
  returned: success
  type: dict
  sample: {"_id": "sync", "mappings": []}
diff:
  description: Masked C(before) and C(after) documents (C(--diff)).
  returned: when diff mode is on
  type: dict
differences:
  description: Dotted paths of up to 20 differing keys (no values).
  returned: when changed
  type: list
  elements: str
  sample: ["mappings.0.properties"]
"""

import copy

from ansible_collections.idmops.pingidm.plugins.module_utils import _compare
from ansible_collections.idmops.pingidm.plugins.module_utils._module import (
    IdmModule, ModuleFailure, ModuleSpec, refuse_template)

CONNECTOR_PREFIX = "provisioner.openicf/"


def module_spec():
    return ModuleSpec(
        dict(
            id=dict(type="str", required=True),
            config=dict(type="dict"),
            template=dict(type="path"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            mode=dict(type="str", default="replace", choices=["replace", "merge"]),
            allow_connector_ids=dict(type="bool", default=False),
        ),
        mutually_exclusive=[("config", "template")],
        required_if=[("state", "present", ("config", "template"), True)],
        document_options=("config",),
    )


def validate_id(config_id):
    """Message for an id IDM would reject, or None."""
    segments = config_id.split("/")
    if config_id.startswith("/") or config_id.startswith("config/") or len(segments) > 2 or "" in segments:
        return ("id %r is not a configuration id: give the part after config/, with at most two segments "
                "(for example 'sync' or 'provisioner.openicf/scim')" % config_id)
    return None


def check_input(params):
    problem = validate_id(params["id"])
    if problem:
        raise ModuleFailure(problem)
    if params["id"].startswith(CONNECTOR_PREFIX) and not params["allow_connector_ids"]:
        raise ModuleFailure("%s is a connector configuration: manage it with idmops.pingidm.connector (name %s), "
                            "which compares secrets by a policy, retries while IDM has no connector metadata and "
                            "waits for the connector to start. Set allow_connector_ids=true to use this module "
                            "anyway." % (params["id"], params["id"][len(CONNECTOR_PREFIX):]))
    if params["mode"] == "merge" and params["state"] == "absent":
        raise ModuleFailure("mode=merge needs state=present; to remove a key with mode=merge give it the value null.")


def run(module):
    params = module.params
    refuse_template(module, "idmops.pingidm.config", "config")
    check_input(params)
    desired = params["config"]
    client = module.client
    path = "config/" + params["id"]
    warnings = []

    def refused(exc):
        warnings.append("Could not decrypt a stored secret to compare it (%s); it counts as different." % exc)
        return None

    policy = _compare.SecretPolicy("when_different", decrypt=client.decrypt, on_decrypt_error=refused)
    try:
        result = apply(module, client, path, desired, policy)
    finally:
        module.no_log_values.update(policy.decrypted)
    for warning in warnings[:1]:
        module.warn(warning)
    return result


def apply(module, client, path, desired, policy):
    params = module.params
    stored = client.get_or_none(path)
    before = _compare.normalise(stored)
    result = dict(changed=False, created=False)

    if params["state"] == "absent":
        if stored is not None:
            result["changed"] = True
            if not module.check_mode:
                client.delete(path)
        after = None
        result["config"] = {}
        secrets = []
    else:
        desired = _compare.normalise(desired)
        if params["mode"] == "merge":
            desired = _compare.merge(before or {}, desired)
        if before is None:
            result["changed"] = result["created"] = True
            secrets = _compare.secret_paths(desired)
            body = desired
        else:
            comparison = _compare.compare(before, desired, secret_equal=policy)
            result["changed"] = not comparison.equal
            secrets = comparison.changed_secrets
            # Secrets judged equal keep their stored form so the server does not re-encrypt them.
            body = copy.deepcopy(desired)
            for secret_path in comparison.equal_secrets:
                _compare.set_path(body, secret_path, _compare.get_path(before, secret_path))
            if result["changed"]:
                result["differences"] = comparison.differences
        after = body
        stored_after = stored
        if result["changed"] and not module.check_mode:
            stored_after = client.put(path, body)
        elif result["changed"]:
            stored_after = dict(body, _id=params["id"])
        result["config"] = _compare.mask(stored_after)
    if module._diff:
        result["diff"] = _compare.diff(before, after, changed_secrets=secrets)
    return result


def main():
    IdmModule(module_spec()).execute(run)


if __name__ == "__main__":
    main()
