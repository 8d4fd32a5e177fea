#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: recon
short_description: Run PingIDM reconciliations, one mapping or several in order, and report what they changed
version_added: 0.1.0
description:
  - Starts a reconciliation (C(POST recon?_action=recon)) for O(mapping), or for one source object
    (C(_action=reconById)) when O(source_id) is set, then polls C(GET recon/<id>) with a short backoff
    (0.1 s growing to 2 s, shorter when the run is close to its end) until the run ends or O(wait_timeout) passes.
  - V(changed) is true exactly when the run created, updated or deleted a target object or created or removed
    a link, read from C(progress.target.created/updated/deleted) and C(progress.links.created). Servers that
    report no C(updated)/C(deleted) counters (OpenIDM 5.x) fall back to C(situationSummary) crossed with the
    mapping's policies; updates of already linked objects (C(CONFIRMED)) cannot be seen there.
  - A start that fails with a connection error, a timeout or a 5xx answer is sent again only after
    C(GET recon) shows that the server did not start a run of this mapping meanwhile; such a run is adopted.
  - An unknown mapping fails with a message that lists the mappings the server has (in check mode see
    O(changed_mappings)).
  - "Failed entries: C(statusSummary.FAILURE) of a run counts entries IDM could not write. IDM counts entries whose
    policy action is C(EXCEPTION) (a situation the mapping flags on purpose, such as C(MISSING) or C(AMBIGUOUS)
    in the sample's mappings) as C(SUCCESS) there, with the exception message in the audit (OpenIDM source;
    whether IDM 7.x/8 still does is unconfirmed, and other servers count them as C(FAILURE)). The module reads the
    first failed entries of the run from C(audit/recon) (C(reconId eq \"<id>\" and status eq \"FAILURE\")), so
    under either reading C(counters.failures) counts real write failures only, RV(recon.failure_samples) shows
    them, and the situations flagged C(EXCEPTION) are in RV(recon.exception_situations)."
  - With O(mappings) the module reconciles several mappings one after the other in one task, each exactly as
    O(mapping) would, and stops at the first one that fails; the mappings after it are not started. One task
    instead of a loop saves a module start per mapping, which adds up over many tenants.
author:
  - idmops.pingidm contributors (@idmops)
extends_documentation_fragment:
  - idmops.pingidm.connection
  - idmops.pingidm.connection.actiongroup_idm
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: partial
    details:
      - On IDM 7.5 or later, check mode runs a dry run (C(analyze=true&persistAssociations=true)) that decides
        the actions without executing them. It tells situations and actions, not whether an update would change a
        target. V(changed) comes from the definite changes only - entries the real run would create, delete, link
        or unlink (RV(recon.predicted)). The linked entries it would apply the mapping to again (C(CONFIRMED) with
        C(UPDATE), or a script action) are RV(recon.may_update), with a warning that IDM cannot tell which of them
        differ. So a converged tenant reports V(changed=false) with that warning.
      - A mapping in O(changed_mappings), or one that does not exist on the server yet, is not dry-run, since a dry run
        against the server's old mapping tells nothing. It counts as V(changed=true), RV(dry_run_skipped) is
        true and the message says why. So the check run of a first apply succeeds.
      - On servers older than 7.5 the other mappings get no dry run; the module returns V(skipped=true) with the
        reason.
      - With O(wait=false) the dry run is started and not waited for, and the task reports V(changed=true) as the
        real run does; a run already active is adopted with O(on_running=wait) (V(changed=false)), as the real
        run would.
  diff_mode:
    support: none
options:
  mapping:
    description:
      - Name of the mapping to reconcile, for example C(systemScimAccount_managedUser).
      - Exactly one of O(mapping) and O(mappings) is required.
    type: str
  mappings:
    description:
      - Names of mappings to reconcile in this order; each run starts after the previous one ended.
      - Every name is checked against the server's mappings before the first run starts.
      - The results are in RV(recons). The task stops at the first mapping whose run fails (see O(fail_on)) and
        reports the runs so far.
      - Needs O(wait=true); O(source_id) cannot be used with it. O(wait_timeout) applies to each mapping.
    type: list
    elements: str
  source_id:
    description:
      - Reconcile only this source object id (C(_action=reconById)).
      - Sent as both C(id) (IDM 7.x/8) and C(ids) (OpenIDM 5.x); each server reads its own name.
    type: str
  wait:
    description:
      - Wait for the run to end and report its counters.
      - With V(false) the module returns right after the start with the run id and V(changed=true); a run of the
        mapping that is already active is adopted instead with O(on_running=wait) (V(changed=false)).
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait in total, for a run of the same mapping that is already active (O(on_running=wait))
        and for this run; with O(mappings), for each mapping.
    type: int
    default: 600
  cancel_on_timeout:
    description:
      - When O(wait_timeout) passes, cancel the run (C(POST recon/<id>?_action=cancel)) before failing.
      - With V(false) the run goes on and the task fails with its id.
      - A run of the same mapping started by someone else is never canceled.
    type: bool
    default: true
  on_running:
    description:
      - What to do when a run of this mapping is already active (from C(GET recon)).
      - V(wait) adopts it, that is, waits for it to end (within O(wait_timeout); it is never canceled, it is not this
        task's run) and reports it as this task's result, without starting another run. Two plays that
        reconcile the same tenant at once so run the mapping once. In check mode V(wait) behaves as V(queue).
      - V(queue) waits for it to end, then starts a new run.
      - V(fail) fails the task and names the active run.
      - V(start) starts another run anyway.
    type: str
    choices: [wait, queue, fail, start]
    default: wait
  fail_on:
    description:
      - Outcomes that fail the task. V(failed) is a run in state C(FAILED), V(canceled) a run in state
        C(CANCELED).
      - V(entry_failures) is a run with entries IDM could not write (C(counters.failures) above 0, see above);
        the message names the first two from the run's audit. Without it, such a run passes with a warning that
        names them.
      - V(exception_situations) is a run with entries in situations whose action in the mapping's policies (or
        IDM's default) is C(EXCEPTION), counted from C(situationSummary) (RV(recon.exception_situations)). IDM
        reports them as successful entries, so this is the way to fail on them.
      - The run is returned in RV(recon) in every case.
    type: list
    elements: str
    choices: [failed, canceled, entry_failures, exception_situations]
    default: [failed, canceled]
  changed_mappings:
    description:
      - Mappings this play changes (or would change, in check mode) before the recon, for example the names the
        M(idmops.pingidm.mapping) task reported in its RV(idmops.pingidm.mapping#module:mappings) result.
      - In check mode these mappings get no dry run and count as changed (see the check mode attribute). Also
        list the mappings of a connector that would be created or changed.
      - Without effect in a real run. In check mode, a mapping that does not exist on the server counts as
        changed in any case; when this option is given and does not list it, a warning says that the real run
        fails unless the play creates it.
    type: list
    elements: str
  overrides:
    description:
      - Request body of the start action; it overrides mapping settings for this run only, for example
        C(sourceQuery), C(targetQuery) or C(runTargetPhase).
    type: dict
notes:
  - IDM keeps about 100 finished runs in memory; use M(idmops.pingidm.recon_info) to read them later.
seealso:
  - module: idmops.pingidm.recon_info
"""

EXAMPLES = r"""
- name: Pull SCIM accounts into managed users
  idmops.pingidm.recon:
    idm_url: https://idm.example.com
    username: openidm-admin
    password: "{{ idm_admin_password }}"
    mapping: systemScimAccount_managedUser
  register: pull

- name: Show what the run did
  ansible.builtin.debug:
    msg: "{{ pull.recon.summary }}"

- name: Reconcile one SCIM account, fail on any entry that failed or that the mapping flags EXCEPTION
  idmops.pingidm.recon:
    mapping: systemScimAccount_managedUser
    source_id: 2819c223-7f76-453a-919d-413861904646
    fail_on: [failed, canceled, entry_failures, exception_situations]

- name: Push the mappings (check mode - what would change)
  idmops.pingidm.mapping:
    template: sync.json.j2
  register: pushed

- name: Reconcile them; in check mode the mappings that would change are not dry-run but count as changed
  idmops.pingidm.recon:
    mappings: [systemScimAccount_managedUser, managedUser_systemScimAccount]
    changed_mappings: "{{ pushed.mappings }}"

- name: The sample's four mappings in order, in one task
  idmops.pingidm.recon:
    mappings:
      - systemScimAccount_managedUser
      - managedUser_systemScimAccount
      - systemScimGroup_managedRole
      - managedRole_systemScimGroup
  register: sample

- name: One line per mapping
  ansible.builtin.debug:
    msg: "{{ sample.recons | map(attribute='recon.summary') | list }}"

- name: Start a long recon and return at once
  idmops.pingidm.recon:
    mapping: managedUser_systemScimAccount
    wait: false
    on_running: fail
"""

RETURN = r"""
recon:
  description: The run, normalised from C(GET recon/<id>).
  returned: with O(mapping), when a run was started, adopted or dry-run
  type: dict
  contains:
    id:
      description: Run id.
      type: str
      sample: 05f63bce-4aaa-492e-9e86-a702d5c9d6c0-1144
    mapping:
      description: Mapping name.
      type: str
    state:
      description: C(ACTIVE), C(SUCCESS), C(FAILED) or C(CANCELED).
      type: str
    stage:
      description: IDM stage, for example C(COMPLETED_SUCCESS).
      type: str
    stage_description:
      description: IDM's text for the stage.
      type: str
    started:
      description: Server time the run started (ISO-8601 UTC).
      type: str
    ended:
      description: Server time the run ended; null while active.
      type: str
    duration_ms:
      description: Run duration in milliseconds as the server reports it.
      type: int
    counters:
      description:
        - C(created), C(updated), C(unchanged), C(deleted) (target objects), C(links_created), C(links_deleted),
          C(source_processed), C(source_total), C(target_processed), C(succeeded), C(failures).
        - A counter the server does not report is null, never a guessed 0.
        - C(failures) counts entries IDM could not write; entries whose action is C(EXCEPTION) are never among them
          (see RV(recon.exception_situations)), also on servers that count them in C(statusSummary.FAILURE).
      type: dict
      sample: {"created": 50, "updated": 0, "unchanged": 0, "deleted": 0, "links_created": 50, "failures": 0}
    situation_summary:
      description: Situations with a count above 0.
      type: dict
      sample: {"ABSENT": 50}
    status_summary:
      description: C(SUCCESS)/C(FAILURE) entry counts as the server reports them.
      type: dict
    exception_situations:
      description: Situations with a count above 0 whose action in the mapping's policies is C(EXCEPTION).
      type: dict
      sample: {"MISSING": 2}
    failure_samples:
      description:
        - Up to 5 failed entries of the run from C(audit/recon), each with C(sourceObjectId), C(targetObjectId),
          C(situation), C(action) and C(message) (one line, at most 300 characters, IDM's failed policy
          requirements added). Empty without failures or when the audit is not readable (403, 404).
      type: list
      elements: dict
      sample: [{"sourceObjectId": "managed/user/6d1f", "targetObjectId": "system/scim/account/abc",
                "situation": "CONFIRMED", "action": "UPDATE", "message": "400 invalidPath"}]
    predicted:
      description: Dry run only. Entries the real run would certainly C(create), C(delete), C(link), C(unlink).
      type: dict
      sample: {"create": 3, "delete": 0, "link": 3, "unlink": 0}
    may_update:
      description:
        - Dry run only (0 otherwise). Linked entries the real run would apply the mapping to again; IDM writes only
          those whose target differs, which a dry run cannot tell. Not part of V(changed).
      type: int
      sample: 20
    has_changes:
      description: The run wrote something (a dry run would write something).
      type: bool
    change_basis:
      description: C(counters) when the counters decided, C(situations) when the situations and policies did.
      type: str
    implied_changes:
      description: C(SITUATION:ACTION) pairs that imply a write, when C(change_basis) is C(situations).
      type: list
      elements: str
    dry_run:
      description: True for the check-mode C(analyze) run.
      type: bool
    summary:
      description:
        - One line for humans. Failed entries are named with the first audit sample; entries flagged C(EXCEPTION)
          are listed; durations under 0.1 s are in ms. A dry run says what it would certainly do and how many
          linked entries may be updated, and never says "no changes" while that count is above 0.
      type: str
      sample: "managedUser_systemScimAccount: 0 created, 3 updated, 0 deleted, 1 failed (CONFIRMED/UPDATE on
        account/abc: 400 invalidPath), flagged EXCEPTION: MISSING 2 in 1.2 s"
recons:
  description:
    - With O(mappings), one entry per mapping reconciled so far, in order; on a failure the last entry is the
      failed mapping's.
    - Each entry has C(mapping), C(changed), C(waited_for), C(adopted) (when a run was started or adopted), C(msg)
      and C(recon), the run as in RV(recon); C(dry_run_skipped) in check mode for a new or changed mapping.
  returned: with O(mappings)
  type: list
  elements: dict
  sample:
    - mapping: systemScimAccount_managedUser
      changed: true
      waited_for: []
      adopted: false
      msg: "systemScimAccount_managedUser: 50 created, 0 updated, 0 deleted, 0 failed in 1.2 s"
      recon: {"id": "05f63bce-4aaa-492e-9e86-a702d5c9d6c0-1144", "state": "SUCCESS"}
dry_run_skipped:
  description: Check mode, O(mapping) only. True when the mapping got no dry run (see O(changed_mappings)).
  returned: in check mode, when the mapping is new or in O(changed_mappings)
  type: bool
waited_for:
  description: Ids of active runs of the same mapping the module waited for before it started its own.
  returned: with O(mapping)
  type: list
  elements: str
adopted:
  description: True when the start failed at the HTTP level but the server had started the run, which was adopted.
  returned: when a run was started
  type: bool
available_mappings:
  description: Mappings the server has, when O(mapping) is unknown.
  returned: on that failure
  type: list
  elements: str
"""

from ansible_collections.idmops.pingidm.plugins.module_utils._mappings import shadowed_warning
from ansible_collections.idmops.pingidm.plugins.module_utils._module import IdmModule, ModuleFailure, ModuleSpec
from ansible_collections.idmops.pingidm.plugins.module_utils._recon import ReconRunner
from ansible_collections.idmops.pingidm.plugins.module_utils._recon_summary import FAIL_ON_CHOICES
from ansible_collections.idmops.pingidm.plugins.module_utils._recon_task import (
    ON_RUNNING_CHOICES, execute, execute_all)


def module_spec():
    return ModuleSpec(
        dict(
            mapping=dict(type="str"),
            mappings=dict(type="list", elements="str"),
            source_id=dict(type="str"),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=600),
            cancel_on_timeout=dict(type="bool", default=True),
            on_running=dict(type="str", default="wait", choices=list(ON_RUNNING_CHOICES)),
            fail_on=dict(type="list", elements="str", default=["failed", "canceled"], choices=list(FAIL_ON_CHOICES)),
            overrides=dict(type="dict"),
            changed_mappings=dict(type="list", elements="str"),
        ),
        mutually_exclusive=[("mapping", "mappings"), ("source_id", "mappings")],
        required_one_of=[("mapping", "mappings")],
    )


def run(module):
    params = module.params
    if params["mappings"] is not None:
        if not params["mappings"] or not all(params["mappings"]):
            raise ModuleFailure("mappings must list at least one mapping name, and no empty names.")
        if not params["wait"]:
            raise ModuleFailure("mappings runs each mapping after the previous one ended, so it needs wait=true; "
                                "use one task per mapping with wait=false to start runs without waiting.")
    runner = ReconRunner(module.client)
    if params["mappings"] is not None:
        result = execute_all(module, runner)
    else:
        result = execute(module, runner, params["mapping"])
    reconciled = [params["mapping"]] if params["mapping"] else params["mappings"]
    shadowed = [name for name in runner.shadowed if name in reconciled]
    if shadowed:
        module.warn(shadowed_warning(shadowed))
    return result


def main():
    IdmModule(module_spec()).execute(run)


if __name__ == "__main__":
    main()
