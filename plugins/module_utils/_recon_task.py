# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The recon module's run of one mapping or several in order: on_running, check-mode dry runs, wait, report.

PRIVATE to the collection: names here can change without notice. ``module`` is the recon module (its params,
check mode and warnings); the IDM calls go through ``_recon.ReconRunner``.
"""

from __future__ import annotations

from ansible_collections.idmops.pingidm.plugins.module_utils._http import ApiError
from ansible_collections.idmops.pingidm.plugins.module_utils._module import ModuleFailure
from ansible_collections.idmops.pingidm.plugins.module_utils._recon import ReconTimeout, active_runs, last_duration
from ansible_collections.idmops.pingidm.plugins.module_utils._recon_summary import (
    failure_reasons, run_id, sample_text)

ON_RUNNING_CHOICES = ("wait", "queue", "fail", "start")


def _warn_about(module, recon):
    """Warnings a run's result needs: failures the task does not fail on, updates a dry run cannot predict."""
    failures = recon["counters"].get("failures") or 0
    if failures and "entry_failures" not in module.params["fail_on"] and not recon.get("dry_run"):
        samples = recon.get("failure_samples") or []
        module.warn("Recon %s of '%s': %d %s failed%s. Add entry_failures to fail_on to fail the task on it."
                    % (recon.get("id"), recon.get("mapping"), failures, "entry" if failures == 1 else "entries",
                       ": " + "; ".join(sample_text(s) for s in samples[:2]) if samples else ""))
    if recon.get("dry_run") and recon.get("may_update"):
        module.warn("Check mode: the real run of '%s' would apply the mapping again to %d linked %s; IDM writes only "
                    "those whose target differs, which a dry run cannot tell, so they are not counted as changed."
                    % (recon.get("mapping"), recon["may_update"], "entry" if recon["may_update"] == 1 else "entries"))


def _not_dry_run(module, runner, mapping):
    """In check mode: why ``mapping`` gets no dry run (it is new, or this play changes it), or None."""
    changed_mappings = module.params["changed_mappings"] or []
    if mapping in changed_mappings:
        return ("Check mode: mapping '%s' would be created or updated by this play: a dry run against the "
                "server's old mapping tells nothing; the new mapping will be applied to every entry, so the recon "
                "counts as changed." % mapping)
    if not runner.has_mapping(mapping):
        if module.params["changed_mappings"] is not None:
            module.warn("Mapping '%s' does not exist on %s and is not in changed_mappings; the real run fails "
                        "unless this play creates it." % (mapping, runner.client.base_url))
        return ("Check mode: mapping '%s' does not exist on the server yet: no dry run is possible; once created, "
                "its first run will write entries, so the recon counts as changed." % mapping)
    return None


def _handle_running(runner, params, mapping, deadline, check_mode):
    """Apply on_running; returns (waited_for ids, the runs listed before our start, id of a run to adopt)."""
    runs = runner.list_runs()
    running = active_runs(runs, mapping)
    waited = []
    if running and params["on_running"] == "fail":
        first = running[0]
        raise ModuleFailure("A recon of '%s' is already running (id %s, started %s) and on_running=fail."
                            % (mapping, run_id(first), first.get("started")), running=[run_id(r) for r in running])
    # A real run adopts the active run; so does a check-mode run that does not wait (it would read nothing from
    # a dry run). A check-mode run that waits needs its own dry run: the active run's counters predict nothing.
    if running and params["on_running"] == "wait" and (not check_mode or not params["wait"]):
        return [], runs, run_id(running[0])
    if running and params["on_running"] in ("wait", "queue"):
        try:
            waited, runs = runner.wait_for_idle(mapping, deadline, runs)
        except ReconTimeout as exc:
            raise ModuleFailure("The recon of '%s' that was already running (id %s) did not end within %d s; "
                                "nothing was started and it was not canceled (it is not this task's run)."
                                % (mapping, run_id(exc.recon), params["wait_timeout"]),
                                waited_for=[run_id(r) for r in running])
    return waited, runs, None


def execute_all(module, runner):
    """O(mappings): each mapping in order, as execute() does it; stop at the first failure."""
    # Bad input changes nothing: every name is checked before the first run starts (in check mode a mapping the
    # play creates does not exist yet: execute() reports it).
    if not module.check_mode:
        for mapping in module.params["mappings"]:
            runner.check_mapping(mapping)
    recons, changed = [], False
    for mapping in module.params["mappings"]:
        try:
            outcome = execute(module, runner, mapping)
        except (ModuleFailure, ApiError) as exc:
            failed = dict(exc.result) if isinstance(exc, ModuleFailure) else exc.as_result()
            entry = dict(mapping=mapping, changed=bool(failed.pop("changed", False)), msg=str(exc), failed=True)
            if failed.get("recon") is not None:
                entry["recon"] = failed.pop("recon")
            entry.update((k, v) for k, v in failed.items()
                         if k in ("waited_for", "adopted", "recon_id", "status", "running"))
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
            raise ModuleFailure(text, **extra)
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
        reason = _not_dry_run(module, runner, mapping)
        if reason is not None:
            result.update(changed=True, dry_run_skipped=True, msg=reason)
            return result
        supported, version = runner.supports_analyze()
        if not supported:
            shown = ".".join(str(part) for part in version) if version else "of unknown version"
            result.update(skipped=True, msg="Check mode: IDM %s cannot dry-run a recon (analyze needs 7.5 or "
                                            "later); nothing was started." % shown)
            return result

    waited, runs, running_id = _handle_running(runner, params, mapping, deadline, module.check_mode)
    result["waited_for"] = waited
    if running_id is not None:
        # on_running=wait: the active run is this task's run; nothing is started.
        result.update(adopted=True, waited_for=[running_id])
        if not params["wait"]:
            raw = runner.get_or_none(running_id) or {"_id": running_id, "mapping": mapping, "state": "ACTIVE"}
            result.update(recon=runner.describe(raw, mapping, dry_run=False),
                          msg="A recon of '%s' was already running (id %s); adopted it, not waiting."
                              % (mapping, running_id))
            return result
        return _wait_and_report(module, runner, mapping, running_id, deadline, result, ours=False)
    recon_id, adopted = runner.start(mapping, source_id=params["source_id"], overrides=params["overrides"],
                                     analyze=module.check_mode, known_ids=[run_id(run) for run in runs])
    result["adopted"] = adopted

    if not params["wait"]:
        raw = runner.get_or_none(recon_id) or {"_id": recon_id, "mapping": mapping, "state": "ACTIVE"}
        recon = runner.describe(raw, mapping, dry_run=module.check_mode)
        # Outcome unknown: a started run counts as a change, so check mode (a dry run started, not waited for)
        # predicts the same.
        if module.check_mode:
            msg = ("Check mode: started dry run %s of '%s' (not waiting); the real run would start a recon, which "
                   "counts as changed." % (recon_id, mapping))
        else:
            msg = "Started recon %s of '%s' (not waiting)." % (recon_id, mapping)
        result.update(changed=True, recon=recon, msg=msg)
        return result

    try:
        # A single-object run takes a fraction of a whole mapping's run: no expected duration then.
        expected = last_duration(runs, mapping) if params["source_id"] is None else None
        return _wait_and_report(module, runner, mapping, recon_id, deadline, result, expected=expected)
    except ApiError as exc:
        # Keep the run id in the failure: the run goes on on the server and can be read with recon_info.
        raise ModuleFailure("Lost contact with IDM while waiting for recon %s of '%s': %s"
                            % (recon_id, mapping, exc), recon_id=recon_id, status=exc.status,
                            waited_for=waited, adopted=adopted)


def _wait_and_report(module, runner, mapping, recon_id, deadline, result, ours=True, expected=None):
    params = module.params
    waited, adopted = result["waited_for"], result["adopted"]
    try:
        raw = runner.wait(recon_id, deadline, expected)
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

    recon = runner.describe(raw, mapping, dry_run=module.check_mode)
    result.update(recon=recon, changed=recon["has_changes"], msg=recon["summary"])
    _warn_about(module, recon)
    reasons = failure_reasons(recon, params["fail_on"])
    if reasons:
        raise ModuleFailure("Recon %s of '%s': %s. %s" % (recon_id, mapping, "; ".join(reasons), recon["summary"]),
                            recon=recon, changed=recon["has_changes"] and not module.check_mode, waited_for=waited,
                            adopted=adopted)
    return result


def _raise_timeout(module, runner, mapping, raw, recon_id, what, waited, adopted):
    params = module.params
    recon = runner.describe(raw, mapping, dry_run=module.check_mode)
    raise ModuleFailure("The recon %s of '%s' did not end within %d s; %s. Progress: %s"
                        % (recon_id, mapping, params["wait_timeout"], what, recon["summary"]), recon=recon,
                        changed=recon["has_changes"] and not module.check_mode, waited_for=waited, adopted=adopted)
