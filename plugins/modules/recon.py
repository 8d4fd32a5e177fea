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
  - An unknown mapping fails with a message that lists the mappings the server has.
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
        the actions without executing them; V(changed) then tells whether the real run would write something
        (from the situations and the mapping's policies; C(CONFIRMED) updates are not predicted).
      - On older servers check mode starts nothing and returns V(skipped=true) with the reason.
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
      - With V(false) the module returns right after the start with the run id and V(changed=true).
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
        C(CANCELED), V(entry_failures) a run with C(statusSummary.FAILURE) above 0 (for example entries whose
        policy is C(EXCEPTION)).
      - The run is returned in RV(recon) in every case.
    type: list
    elements: str
    choices: [failed, canceled, entry_failures]
    default: [failed, canceled]
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

- name: Reconcile one SCIM account, fail on any entry that failed
  idmops.pingidm.recon:
    mapping: systemScimAccount_managedUser
    source_id: 2819c223-7f76-453a-919d-413861904646
    fail_on: [failed, canceled, entry_failures]

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
      type: dict
      sample: {"created": 50, "updated": 0, "unchanged": 0, "deleted": 0, "links_created": 50, "failures": 0}
    situation_summary:
      description: Situations with a count above 0.
      type: dict
      sample: {"ABSENT": 50}
    status_summary:
      description: C(SUCCESS)/C(FAILURE) entry counts.
      type: dict
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
      description: One line for humans.
      type: str
      sample: "systemScimAccount_managedUser: 50 created, 0 updated, 0 deleted, 0 failed in 1.2 s"
recons:
  description:
    - With O(mappings), one entry per mapping reconciled so far, in order; on a failure the last entry is the
      failed mapping's.
    - Each entry has C(mapping), C(changed), C(waited_for), C(adopted) (when a run was started or adopted), C(msg)
      and C(recon), the run as in RV(recon).
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

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.idmops.pingidm.plugins.module_utils._client import (
    ApiError, client_from_module, fail_on_api_error, idm_argument_spec, idm_module_kwargs)
from ansible_collections.idmops.pingidm.plugins.module_utils._recon import (
    FAIL_ON_CHOICES, ON_RUNNING_CHOICES, ReconError, ReconRunner, ReconTimeout, active_runs, failure_reasons,
    normalise, run_id)


def _normalised(runner, raw, mapping, dry_run=False):
    recon = normalise(raw, dry_run=dry_run)
    if recon["change_basis"] == "situations":
        # Only now is the mapping's policy table worth a request (5.x servers, dry runs).
        recon = normalise(raw, actions=runner.actions_for(mapping), dry_run=dry_run)
    return recon


def _handle_running(runner, params, mapping, deadline, check_mode):
    """Apply on_running; returns (waited_for ids, run ids known before our start, id of a run to adopt)."""
    runs = runner.list_runs()
    running = active_runs(runs, mapping)
    waited = []
    if running and params["on_running"] == "fail":
        first = running[0]
        raise ReconError("A recon of '%s' is already running (id %s, started %s) and on_running=fail."
                         % (mapping, run_id(first), first.get("started")), running=[run_id(r) for r in running])
    if running and params["on_running"] == "wait" and not check_mode:
        return [], [], run_id(running[0])
    if running and params["on_running"] in ("wait", "queue"):
        try:
            waited, runs = runner.wait_for_idle(mapping, deadline, runs)
        except ReconTimeout as exc:
            raise ReconError("The recon of '%s' that was already running (id %s) did not end within %d s; "
                             "nothing was started and it was not canceled (it is not this task's run)."
                             % (mapping, run_id(exc.recon), params["wait_timeout"]),
                             waited_for=[run_id(r) for r in running])
    return waited, [run_id(run) for run in runs], None


def execute_all(module, runner):
    """O(mappings): each mapping in order, as execute() does it; stop at the first failure."""
    # Bad input changes nothing: every name is checked before the first run starts.
    for mapping in module.params["mappings"]:
        runner.check_mapping(mapping)
    recons, changed = [], False
    for mapping in module.params["mappings"]:
        try:
            outcome = execute(module, runner, mapping)
        except (ReconError, ApiError) as exc:
            failed = dict(exc.extra) if isinstance(exc, ReconError) else exc.as_result()
            entry = dict(mapping=mapping, changed=bool(failed.pop("changed", False)), msg=str(exc), failed=True)
            if isinstance(exc, ReconError) and exc.recon is not None:
                entry["recon"] = exc.recon
            entry.update((k, v) for k, v in failed.items() if k in ("waited_for", "adopted", "recon_id", "status", "running"))
            recons.append(entry)
            text = str(exc)
            if "'%s'" % mapping not in text:
                text = "Recon of '%s': %s" % (mapping, text)
            later = module.params["mappings"][len(recons):]
            if later:
                text += " Not started: %s." % ", ".join(later)
            extra = dict(changed=changed or entry["changed"], recons=recons)
            if "available_mappings" in failed:
                extra["available_mappings"] = failed["available_mappings"]
            raise ReconError(text, **extra)
        changed = changed or outcome["changed"]
        recons.append(dict(outcome, mapping=mapping))
    if all(entry.get("skipped") for entry in recons):
        return dict(changed=False, skipped=True, recons=recons, msg=recons[0]["msg"])
    return dict(changed=changed, recons=recons,
                msg="; ".join(entry.get("msg", "") for entry in recons))


def execute(module, runner, mapping):
    params = module.params
    result = dict(changed=False, waited_for=[])
    deadline = runner.clock.now() + params["wait_timeout"]

    if module.check_mode:
        runner.check_mapping(mapping)
        supported, version = runner.supports_analyze()
        if not supported:
            shown = ".".join(str(part) for part in version) if version else "of unknown version"
            result.update(skipped=True, msg="Check mode: IDM %s cannot dry-run a recon (analyze needs 7.5 or "
                                            "later); nothing was started." % shown)
            return result

    waited, known_ids, running_id = _handle_running(runner, params, mapping, deadline, module.check_mode)
    result["waited_for"] = waited
    if running_id is not None:
        # on_running=wait: the active run is this task's run; nothing is started.
        result.update(adopted=True, waited_for=[running_id])
        if not params["wait"]:
            raw = runner.get_or_none(running_id) or {"_id": running_id, "mapping": mapping, "state": "ACTIVE"}
            result.update(recon=_normalised(runner, raw, mapping, dry_run=False),
                          msg="A recon of '%s' was already running (id %s); adopted it, not waiting."
                              % (mapping, running_id))
            return result
        return _wait_and_report(module, runner, mapping, running_id, deadline, result, ours=False)
    recon_id, adopted = runner.start(mapping, source_id=params["source_id"], overrides=params["overrides"],
                                     analyze=module.check_mode, known_ids=known_ids)
    result["adopted"] = adopted

    if not params["wait"]:
        raw = runner.get_or_none(recon_id) or {"_id": recon_id, "mapping": mapping, "state": "ACTIVE"}
        recon = _normalised(runner, raw, mapping, dry_run=module.check_mode)
        # Outcome unknown: a started run counts as a change (a dry run never does).
        result.update(changed=not module.check_mode, recon=recon,
                      msg="Started recon %s of '%s' (not waiting)." % (recon_id, mapping))
        return result

    try:
        return _wait_and_report(module, runner, mapping, recon_id, deadline, result)
    except ApiError as exc:
        # Keep the run id in the failure: the run goes on on the server and can be read with recon_info.
        raise ReconError("Lost contact with IDM while waiting for recon %s of '%s': %s"
                         % (recon_id, mapping, exc), recon_id=recon_id, status=exc.status,
                         waited_for=waited, adopted=adopted)


def _wait_and_report(module, runner, mapping, recon_id, deadline, result, ours=True):
    params = module.params
    waited, adopted = result["waited_for"], result["adopted"]
    try:
        raw = runner.wait(recon_id, deadline)
    except ReconTimeout as timeout:
        if not ours:
            raw = timeout.recon
            what = "it was not canceled (it is not this task's run)"
        elif params["cancel_on_timeout"]:
            raw = runner.cancel(recon_id)
            what = "it was canceled (state now %s)" % raw.get("state")
        else:
            raw = timeout.recon
            what = "it is still running (cancel_on_timeout=false)"
        if raw.get("state") not in ("SUCCESS", "FAILED"):
            _raise_timeout(module, runner, mapping, raw, recon_id, what, waited, adopted)
        # else: it ended on its own before the cancel took effect; report it like any finished run

    recon = _normalised(runner, raw, mapping, dry_run=module.check_mode)
    result.update(recon=recon, changed=recon["has_changes"], msg=recon["summary"])
    reasons = failure_reasons(recon, params["fail_on"])
    if reasons:
        raise ReconError("Recon %s of '%s': %s. %s" % (recon_id, mapping, "; ".join(reasons), recon["summary"]),
                         recon=recon, changed=recon["has_changes"] and not module.check_mode, waited_for=waited,
                         adopted=adopted)
    return result


def _raise_timeout(module, runner, mapping, raw, recon_id, what, waited, adopted):
    params = module.params
    recon = _normalised(runner, raw, mapping, dry_run=module.check_mode)
    raise ReconError("The recon %s of '%s' did not end within %d s; %s. Progress: %s"
                     % (recon_id, mapping, params["wait_timeout"], what, recon["summary"]), recon=recon,
                     changed=recon["has_changes"] and not module.check_mode, waited_for=waited, adopted=adopted)


def main():
    argument_spec = idm_argument_spec()
    argument_spec.update(
        mapping=dict(type="str"),
        mappings=dict(type="list", elements="str"),
        source_id=dict(type="str"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=600),
        cancel_on_timeout=dict(type="bool", default=True),
        on_running=dict(type="str", default="wait", choices=list(ON_RUNNING_CHOICES)),
        fail_on=dict(type="list", elements="str", default=["failed", "canceled"], choices=list(FAIL_ON_CHOICES)),
        overrides=dict(type="dict"),
    )
    kwargs = idm_module_kwargs()
    kwargs.update(mutually_exclusive=[("mapping", "mappings"), ("source_id", "mappings")],
                  required_one_of=[("mapping", "mappings")])
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True, **kwargs)
    if module.params["mappings"] is not None:
        if not module.params["mappings"] or not all(module.params["mappings"]):
            module.fail_json(msg="mappings must list at least one mapping name, and no empty names.")
        if not module.params["wait"]:
            module.fail_json(msg="mappings runs each mapping after the previous one ended, so it needs wait=true; "
                                 "use one task per mapping with wait=false to start runs without waiting.")
    client = client_from_module(module)
    runner = ReconRunner(client)
    try:
        if module.params["mappings"] is not None:
            result = execute_all(module, runner)
        else:
            result = execute(module, runner, module.params["mapping"])
    except ReconError as exc:
        extra = dict(exc.extra)
        extra.setdefault("changed", False)
        if exc.recon is not None:
            extra["recon"] = exc.recon
        module.fail_json(msg=str(exc), **extra)
    except ApiError as exc:
        fail_on_api_error(module, exc, changed=False)
    finally:
        client.close()
    module.exit_json(**result)


if __name__ == "__main__":
    main()
