# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a reconciliation run did: counters, ``changed``, dry-run predictions, failures, the summary line.

PRIVATE to the collection: names here can change without notice. Pure functions of IDM's run summaries (and of
the run's audit entries); ``_recon.ReconRunner`` reads those from IDM.

Summary shapes handled (docs/idm-rest.md, reconciliation):
- 7.x/8: ``progress.target.{created,updated,unchanged,deleted}`` and ``progress.links.created``;
- 5.x: only ``progress.target.created`` and ``progress.links.created``; updates and deletions are then
  derived from ``situationSummary`` and the mapping's policies (situation -> action).

Entry failures: IDM counts entries whose action is EXCEPTION as SUCCESS in ``statusSummary`` (OpenIDM
SourceRecon/TargetRecon; 7.x/8 unconfirmed), while other servers count them as FAILURE. ``counters.failures`` is
the number of real failures under both readings: the run's audit (``audit/recon``) shows which failed entries are
EXCEPTION entries, and those are counted in ``exception_situations`` instead.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

from ansible_collections.idmops.pingidm.plugins.module_utils import _compare, _http, _vocabulary
from ansible_collections.idmops.pingidm.plugins.module_utils._vocabulary import DEFAULT_POLICY_ACTIONS, EXCEPTION_ACTION

TERMINAL_STATES = ("SUCCESS", "FAILED", "CANCELED")
ACTIVE_STATE = "ACTIVE"
FAIL_ON_CHOICES = ("failed", "canceled", "entry_failures", "exception_situations")
MESSAGE_LIMIT = 300            # characters of an audit message kept in a sample


def _int_or_none(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None  # IDM uses the string "?" for totals it does not know yet


def _dig(data, *keys):
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


_TS_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$")


def parse_timestamp(text):
    """IDM's ISO-8601 time (``2015-11-23T00:18:34.431Z``) as an aware UTC datetime; None if empty/unparseable.

    Written by hand because datetime.fromisoformat before Python 3.11 rejects ``Z`` and odd fraction lengths.
    """
    if not isinstance(text, str) or not text:
        return None
    match = _TS_RE.match(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0").ljust(6, "0")[:6])
    value = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro)
    offset = timedelta(0)
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return value - offset  # naive UTC


def utc_now():
    """Naive UTC now (same convention as parse_timestamp)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def counters(raw):
    """Flat counters from a run summary. A counter the server does not report is None, never a guessed 0."""
    progress = raw.get("progress") if isinstance(raw.get("progress"), dict) else {}
    target = progress.get("target") if isinstance(progress.get("target"), dict) else {}
    links = progress.get("links") if isinstance(progress.get("links"), dict) else {}
    statuses = raw.get("statusSummary") if isinstance(raw.get("statusSummary"), dict) else {}
    return {
        "source_processed": _int_or_none(_dig(progress, "source", "existing", "processed")),
        "source_total": _int_or_none(_dig(progress, "source", "existing", "total")),
        "target_processed": _int_or_none(_dig(target, "existing", "processed")),
        "created": _int_or_none(target.get("created")),
        "updated": _int_or_none(target.get("updated")),
        "unchanged": _int_or_none(target.get("unchanged")),
        "deleted": _int_or_none(target.get("deleted")),
        "links_created": _int_or_none(links.get("created")),
        "links_deleted": _int_or_none(links.get("deleted")),
        "succeeded": _int_or_none(statuses.get("SUCCESS")),
        "failures": _int_or_none(statuses.get("FAILURE")) or 0,
    }


def nonzero_situations(raw):
    situations = raw.get("situationSummary") if isinstance(raw.get("situationSummary"), dict) else {}
    return dict((name, count) for name, count in sorted(situations.items()) if _int_or_none(count))


_WRITE_COUNTERS = ("created", "updated", "deleted", "links_created", "links_deleted")


def _counter_for(situation, action):
    """The counter that proves the write a situation's action implies, or None (no definite write)."""
    if action == "UPDATE" and situation in _vocabulary.LINKING_UPDATE_SITUATIONS:
        return "links_created"  # the correlated target is linked for sure; whether it is also updated is unknown
    return _vocabulary.ACTION_COUNTERS.get(action)


def change_assessment(raw, actions=None, dry_run=False):
    """(changed, basis, implied) for a finished run, or what a dry run would change.

    - Any non-zero write counter means a change (``basis`` ``counters``).
    - A real run on 7.x/8 (all counters present, all zero) changed nothing.
    - Otherwise (5.x without ``updated``/``deleted``, or an ``analyze`` dry run that writes nothing) the
      situations are crossed with the mapping's policy ``actions`` (IDM defaults when None): a situation
      whose action writes (CREATE, DELETE, LINK, UNLINK, and UPDATE on FOUND, which links) implies a change,
      unless a counter the server did report covers that action (``basis`` ``situations``).
    ``implied`` lists those ``SITUATION:ACTION`` pairs. UPDATE on CONFIRMED is never implied: IDM skips
    updates that change nothing, so only an ``updated`` counter can tell.
    """
    counts = counters(raw)
    if any(counts[name] for name in _WRITE_COUNTERS):
        return True, "counters", []
    if not dry_run and all(counts[name] is not None for name in ("created", "updated", "deleted", "links_created")):
        return False, "counters", []
    actions = actions or DEFAULT_POLICY_ACTIONS
    implied = []
    for situation in nonzero_situations(raw):
        action = actions.get(situation, DEFAULT_POLICY_ACTIONS.get(situation))
        counter = _counter_for(situation, action)
        if counter is None:
            continue
        if not dry_run and counts[counter] is not None:
            continue  # the server counted this kind of write, and the count is 0
        implied.append("%s:%s" % (situation, action))
    return bool(implied), "situations", implied


_PREDICTED_KEYS = {"created": "create", "deleted": "delete", "links_created": "link", "links_deleted": "unlink"}


def dry_run_prediction(raw, actions=None):
    """What an ``analyze`` run says the real run would do: (predicted, may_update).

    ``predicted``: entries the real run would certainly create, delete, link or unlink. ``may_update``: entries it
    would re-apply the mapping to (UPDATE on a linked entry, or an action a script decides): IDM only writes those
    whose target differs, which a dry run cannot tell.
    """
    actions = actions or DEFAULT_POLICY_ACTIONS
    predicted = dict((key, 0) for key in ("create", "delete", "link", "unlink"))
    may_update = 0
    for situation, count in nonzero_situations(raw).items():
        action = actions.get(situation, DEFAULT_POLICY_ACTIONS.get(situation))
        counter = _counter_for(situation, action)
        if counter is not None:
            predicted[_PREDICTED_KEYS[counter]] += _int_or_none(count) or 0
        elif action in ("UPDATE", _vocabulary.SCRIPT_ACTION):
            may_update += _int_or_none(count) or 0
    return predicted, may_update


def exception_situations(raw, actions=None):
    """situation -> count for the run's situations whose action in the mapping's policies is EXCEPTION."""
    actions = actions or DEFAULT_POLICY_ACTIONS
    return dict((situation, count) for situation, count in nonzero_situations(raw).items()
                if actions.get(situation, DEFAULT_POLICY_ACTIONS.get(situation)) == EXCEPTION_ACTION)


# --- failed entries from the audit ------------------------------------------------------------------------------

class AuditFacts(object):
    """What the audit of one run says about its failed entries.

    ``samples``: up to FAILURE_SAMPLES real failures (see failure_sample); ``exception_entries``: the failed
    entries whose action is EXCEPTION that were seen; ``complete``: every failed entry was read;
    ``exceptions_are_failures``: True when the server counts EXCEPTION entries as FAILURE, False when it does
    not, None when the audit could not tell (not readable).
    """

    def __init__(self, samples=(), exception_entries=0, complete=False, exceptions_are_failures=None):
        self.samples = list(samples)
        self.exception_entries = exception_entries
        self.complete = complete
        self.exceptions_are_failures = exceptions_are_failures


def _short_id(object_id):
    """``system/scim/account/abc`` -> ``account/abc``, ``managed/user/x`` -> ``user/x``."""
    parts = str(object_id or "").split("/")
    if parts[0] == "system" and len(parts) > 3:
        return "/".join(parts[2:])
    if len(parts) > 2:
        return "/".join(parts[1:])
    return str(object_id or "")


def _policy_detail(detail):
    """``mail REQUIRED, sn REQUIRED`` from IDM's failed policy detail, or ''."""
    if isinstance(detail, str):
        try:
            detail = json.loads(detail)
        except ValueError:
            return ""
    failed = detail.get("failedPolicyRequirements") if isinstance(detail, dict) else None
    texts = []
    for requirement in failed or []:
        if not isinstance(requirement, dict):
            continue
        names = [r.get("policyRequirement") for r in requirement.get("policyRequirements") or []
                 if isinstance(r, dict) and r.get("policyRequirement")]
        texts.append("%s %s" % (requirement.get("property"), "/".join(names) or "?"))
    return ", ".join(texts)


def failure_sample(entry):
    """The shown part of a failed audit entry: ids, situation, action and the message (short, one line)."""
    message = entry.get("message") or entry.get("exception") or ""
    if not isinstance(message, str):
        message = json.dumps(message)
    message = _http.unescape(message.strip().splitlines()[0] if message.strip() else "")
    detail = _policy_detail(entry.get("messageDetail"))
    if detail and detail not in message:
        message = "%s (%s)" % (message, detail) if message else detail
    if len(message) > MESSAGE_LIMIT:
        message = message[:MESSAGE_LIMIT - 3] + "..."
    sample = dict((key, entry.get(key)) for key in ("sourceObjectId", "targetObjectId", "situation", "action"))
    sample["message"] = message or "no message in the audit entry"
    return _compare.mask(sample)


def sample_text(sample):
    """``CONFIRMED/UPDATE on account/abc: <message>``."""
    where = sample.get("targetObjectId") or sample.get("sourceObjectId")
    what = "/".join(str(part) for part in (sample.get("situation"), sample.get("action")) if part)
    return "%s%s: %s" % (what or "entry", " on %s" % _short_id(where) if where else "", sample.get("message"))


def real_failures(status_failures, exception_count, audit):
    """Failed entries that are real write failures, under both readings of EXCEPTION (see the module doc)."""
    if not status_failures or audit is None or not audit.exceptions_are_failures:
        return status_failures
    if audit.complete:
        return len(audit.samples)
    return max(len(audit.samples), status_failures - max(exception_count, audit.exception_entries))


def duration_ms(raw):
    value = _int_or_none(raw.get("duration"))
    if value is not None:
        return value
    started, ended = parse_timestamp(raw.get("started")), parse_timestamp(raw.get("ended"))
    if started and ended:
        return int((ended - started).total_seconds() * 1000)
    return None


def normalise(raw, actions=None, dry_run=False, audit=None):
    """The ``recon`` return value of the modules for one run summary.

    ``actions``: the mapping's situation -> action (IDM's defaults when None); ``audit``: AuditFacts of the run.
    """
    changed, basis, implied = change_assessment(raw, actions, dry_run)
    counts = counters(raw)
    exceptions = exception_situations(raw, actions)
    counts["failures"] = real_failures(counts["failures"], sum(exceptions.values()), audit)
    recon = {
        "id": run_id(raw),
        "mapping": raw.get("mapping"),
        "state": raw.get("state"),
        "stage": raw.get("stage"),
        "stage_description": raw.get("stageDescription"),
        "started": raw.get("started") or None,
        "ended": raw.get("ended") or None,
        "duration_ms": duration_ms(raw),
        "counters": counts,
        "situation_summary": nonzero_situations(raw),
        "status_summary": dict(raw.get("statusSummary") or {}),
        "exception_situations": exceptions,
        "failure_samples": list(audit.samples) if audit is not None and counts["failures"] else [],
        "dry_run": bool(dry_run),
        "has_changes": changed,
        "change_basis": basis,
        "implied_changes": implied,
        "may_update": 0,
    }
    if dry_run:
        recon["predicted"], recon["may_update"] = dry_run_prediction(raw, actions)
    source_ids = _dig(raw, "parameters", "sourceIds")
    if source_ids:
        recon["source_ids"] = list(source_ids)
    recon["summary"] = summary_line(recon)
    return recon


def _count_text(value):
    return "?" if value is None else str(value)


def duration_text(milliseconds):
    """``45 ms`` under 0.1 s, else ``1.2 s``."""
    if milliseconds < 100:
        return "%d ms" % milliseconds
    return "%.1f s" % (milliseconds / 1000.0)


def _situation_counts(situations):
    return ", ".join("%s %s" % (name, count) for name, count in sorted(situations.items()))


def summary_line(recon):
    """One line for humans, e.g. ``m: 50 created, 0 updated, 0 deleted, 0 failed in 1.2 s``.

    Failed entries are named with the first audit sample; a dry run says what it predicts and what it cannot.
    """
    counts = recon["counters"]
    mapping = recon.get("mapping") or "?"
    if recon.get("dry_run"):
        predicted = recon.get("predicted") or {}
        if any(predicted.values()) or recon.get("may_update"):
            text = "%s: dry run: would create %d, delete %d, link %d, unlink %d" % (
                mapping, predicted.get("create", 0), predicted.get("delete", 0), predicted.get("link", 0),
                predicted.get("unlink", 0))
        else:
            text = "%s: dry run: no changes" % mapping
        if recon.get("may_update"):
            text += "; %d linked entries may be updated (IDM cannot tell which differ)" % recon["may_update"]
    else:
        text = "%s: %s created, %s updated, %s deleted, %s failed" % (
            mapping, _count_text(counts["created"]), _count_text(counts["updated"]),
            _count_text(counts["deleted"]), _count_text(counts["failures"]))
        if counts["failures"]:
            samples = recon.get("failure_samples") or []
            text += " (%s%s)" % (sample_text(samples[0]), ", ..." if counts["failures"] > 1 else "") if samples \
                else " (no details: audit/recon not readable)"
        if counts["links_created"] and counts["links_created"] != (counts["created"] or 0):
            text += ", %d linked" % counts["links_created"]
    if recon.get("exception_situations"):
        text += ", %s EXCEPTION: %s" % ("would flag" if recon.get("dry_run") else "flagged",
                                        _situation_counts(recon["exception_situations"]))
    if recon.get("duration_ms") is not None:
        text += " in %s" % duration_text(recon["duration_ms"])
    if recon.get("state") and recon["state"] != "SUCCESS":
        text += " (%s)" % recon["state"]
    return text


def failure_reasons(recon, fail_on):
    """Why the task must fail according to ``fail_on``; empty list = success."""
    reasons = []
    state = recon.get("state")
    if "failed" in fail_on and state == "FAILED":
        reasons.append("the run FAILED (stage %s)" % recon.get("stage"))
    if "canceled" in fail_on and state == "CANCELED":
        reasons.append("the run was CANCELED")
    failures = recon["counters"].get("failures") or 0
    if "entry_failures" in fail_on and failures > 0:
        samples = recon.get("failure_samples") or []
        reasons.append("%d %s failed%s" % (failures, "entry" if failures == 1 else "entries",
                                           ": " + "; ".join(sample_text(s) for s in samples[:2]) if samples
                                           else " (audit/recon not readable for details)"))
    exceptions = recon.get("exception_situations") or {}
    if "exception_situations" in fail_on and exceptions:
        reasons.append("%d %s in situations the mapping marks EXCEPTION (%s)"
                       % (sum(exceptions.values()), "entry" if sum(exceptions.values()) == 1 else "entries",
                          _situation_counts(exceptions)))
    return reasons


def run_id(raw):
    return raw.get("_id") or raw.get("id") if isinstance(raw, dict) else None


def source_progress(raw):
    """(processed, total) of the source phase; None where IDM does not know yet."""
    processed = _int_or_none(_dig(raw, "progress", "source", "existing", "processed"))
    total = _int_or_none(_dig(raw, "progress", "source", "existing", "total"))
    return processed, total
