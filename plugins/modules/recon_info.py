#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: recon_info
short_description: List PingIDM reconciliation runs or read one, with progress
version_added: 0.1.0
description:
  - Reads C(GET recon) (the runs IDM keeps in memory, about the last 100) or C(GET recon/<id>), and returns each run
    normalised as M(idmops.pingidm.recon) returns it, plus the raw C(progress).
  - 'Accepts both list shapes IDM uses: C({"reconciliations": [...]}) and a bare list.'
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
      - Read this run only. A run IDM no longer knows gives an empty list.
    type: str
  mapping:
    description: Only runs of this mapping.
    type: str
  state:
    description: Only runs in one of these states.
    type: list
    elements: str
    choices: [ACTIVE, SUCCESS, FAILED, CANCELED]
  latest:
    description: Return only the most recently started run that matches the other filters.
    type: bool
    default: false
seealso:
  - module: idmops.pingidm.recon
"""

EXAMPLES = r"""
- name: Is a recon of the user mapping running?
  idmops.pingidm.recon_info:
    mapping: systemScimAccount_managedUser
    state: [ACTIVE]
  register: running

- name: Last run of the user mapping
  idmops.pingidm.recon_info:
    mapping: systemScimAccount_managedUser
    latest: true
  register: last

- name: Start a long recon without waiting for it
  idmops.pingidm.recon:
    mapping: managedUser_systemScimAccount
    wait: false
  register: started

- name: Follow the run started with wait=false
  idmops.pingidm.recon_info:
    id: "{{ started.recon.id }}"
  register: run
  until: run.reconciliations[0].state != 'ACTIVE'
  retries: 60
  delay: 5
"""

RETURN = r"""
reconciliations:
  description:
    - Matching runs, oldest first (the order IDM keeps them in).
    - Each has the keys of M(idmops.pingidm.recon)'s C(recon) return value plus C(progress) (IDM's raw progress
      object). As there, C(counters.failures) counts real write failures only, C(failure_samples) comes from the
      run's audit, and C(exception_situations) from the mapping's policies.
  returned: always
  type: list
  elements: dict
  sample:
    - id: 05f63bce-4aaa-492e-9e86-a702d5c9d6c0-1144
      mapping: systemScimAccount_managedUser
      state: SUCCESS
      stage: COMPLETED_SUCCESS
      counters: {"created": 50, "updated": 0, "unchanged": 0, "deleted": 0, "links_created": 50, "failures": 0}
      summary: "systemScimAccount_managedUser: 50 created, 0 updated, 0 deleted, 0 failed in 1.2 s"
"""

from datetime import datetime

from ansible_collections.idmops.pingidm.plugins.module_utils._module import IdmModule, ModuleSpec
from ansible_collections.idmops.pingidm.plugins.module_utils._recon import ReconRunner, parse_timestamp

STATES = ("ACTIVE", "SUCCESS", "FAILED", "CANCELED")


def module_spec():
    return ModuleSpec(dict(
        id=dict(type="str"),
        mapping=dict(type="str"),
        state=dict(type="list", elements="str", choices=list(STATES)),
        latest=dict(type="bool", default=False),
    ))


def _describe(runner, raw):
    recon = runner.describe(raw)
    recon["progress"] = raw.get("progress") or {}
    return recon


def run(module):
    params = module.params
    runner = ReconRunner(module.client)
    if params["id"]:
        raw = runner.get_or_none(params["id"])
        runs = [raw] if isinstance(raw, dict) else []
    else:
        runs = runner.list_runs()
    if params["mapping"]:
        runs = [one for one in runs if one.get("mapping") == params["mapping"]]
    if params["state"]:
        runs = [one for one in runs if one.get("state") in params["state"]]
    if params["latest"] and runs:
        runs = [max(runs, key=lambda one: parse_timestamp(one.get("started")) or datetime.min)]
    return dict(changed=False, reconciliations=[_describe(runner, one) for one in runs])


def main():
    IdmModule(module_spec()).execute(run)


if __name__ == "__main__":
    main()
