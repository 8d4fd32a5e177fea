# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Reconciliation runs on PingIDM: start, poll, summarise, decide ``changed``.

PRIVATE to the collection: names here can change without notice.

The first half is pure logic (summary parsing, counters, the poll schedule); the second half
(``ReconRunner``) talks to IDM through ``_client.IdmClient``.

Summary shapes handled (see idm-rest-contract.md §4.1):
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

from ansible_collections.idmops.pingidm.plugins.module_utils import _client, _compare, _vocabulary
from ansible_collections.idmops.pingidm.plugins.module_utils._client import ApiError
from ansible_collections.idmops.pingidm.plugins.module_utils._mappings import ServerMappings
from ansible_collections.idmops.pingidm.plugins.module_utils._vocabulary import (
    DEFAULT_POLICY_ACTIONS, EXCEPTION_ACTION, policy_actions)

TERMINAL_STATES = ("SUCCESS", "FAILED", "CANCELED")
ACTIVE_STATE = "ACTIVE"
FAIL_ON_CHOICES = ("failed", "canceled", "entry_failures", "exception_situations")
ON_RUNNING_CHOICES = ("wait", "queue", "fail", "start")

# Stages after the source phase: usually short, so poll at a short interval there.
LATE_STAGES = frozenset(("ACTIVE_RECONCILING_TARGET", "ACTIVE_LINK_CLEANUP", "ACTIVE_PROCESSING_RESULTS",
                         "ACTIVE_CANCELING"))

POLL_INITIAL = 0.1
POLL_FACTOR = 1.5
POLL_CAP = 2.0
POLL_FLOOR = 0.1
LATE_STAGE_CAP = 0.5

AUDIT_PATH = "audit/recon"
FAILURE_SAMPLES = 5            # failed entries read from the audit of a run
MESSAGE_LIMIT = 300            # characters of an audit message kept in a sample


class ReconError(Exception):
    """A recon problem the module reports with fail_json; ``recon`` is the normalised run, if any."""

    def __init__(self, message, recon=None, **extra):
        super(ReconError, self).__init__(message)
        self.recon = recon
        self.extra = extra


class ReconTimeout(ReconError):
    """The wait deadline passed while the run was still active."""


# --- pure logic -------------------------------------------------------------------------------------------

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


def runs_from_response(body):
    """The list of run summaries from ``GET recon``: ``{"reconciliations": [...]}``, ``{"result": [...]}`` or a list."""
    if isinstance(body, list):
        return [run for run in body if isinstance(run, dict)]
    if isinstance(body, dict):
        for key in ("reconciliations", "result"):
            if isinstance(body.get(key), list):
                return [run for run in body[key] if isinstance(run, dict)]
    return []


def run_id(raw):
    return raw.get("_id") or raw.get("id") if isinstance(raw, dict) else None


def active_runs(runs, mapping):
    return [run for run in runs if run.get("mapping") == mapping and run.get("state") == ACTIVE_STATE]


def runs_started_since(runs, mapping, since, known_ids=(), slack_seconds=2.0):
    """Runs of ``mapping`` that can be ours: not among ``known_ids`` and started at/after ``since``.

    ``since`` is controller time (naive UTC); ``slack_seconds`` absorbs a small clock difference with the server.
    With ``known_ids`` from a listing taken before the attempt, the id test alone is decisive.
    """
    known = set(known_ids or ())
    earliest = since - timedelta(seconds=slack_seconds) if since is not None else None
    found = []
    for run in runs:
        if run.get("mapping") != mapping or run_id(run) in known:
            continue
        started = parse_timestamp(run.get("started"))
        if earliest is not None and (started is None or started < earliest):
            continue
        found.append(run)
    found.sort(key=lambda run: parse_timestamp(run.get("started")) or datetime.min)
    return found


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
    for situation, count in nonzero_situations(raw).items():
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
    message = _client.unescape(message.strip().splitlines()[0] if message.strip() else "")
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


def poll_delays(initial=POLL_INITIAL, factor=POLL_FACTOR, cap=POLL_CAP):
    """Endless backoff schedule: 0.1, 0.15, 0.225, ... capped at 2 s."""
    delay = initial
    while True:
        yield delay
        delay = min(cap, delay * factor)


def _source_progress(raw):
    processed = _int_or_none(_dig(raw, "progress", "source", "existing", "processed"))
    total = _int_or_none(_dig(raw, "progress", "source", "existing", "total"))
    return processed, total


class PollPlanner(object):
    """Chooses the wait before the next ``GET recon/<id>``, so the task ends soon after the run.

    - The backoff (0.1 s growing by half to 2 s) restarts whenever the run enters a new phase (querying, reconciling
      source entries, the final phases), because the end of a phase is when the end of the run gets close.
    - While source entries are reconciled, the remaining time is estimated from the rate between the last two
      polls (or processed/duration for the first one) and the next poll is planned for then.
    - Once every source entry is processed, or in the target/clean-up/results stages, the backoff starts at
      ``floor`` (0.1 s) and stops at ``late_cap`` (0.5 s): these phases are usually short.
    """

    def __init__(self, initial=POLL_INITIAL, cap=POLL_CAP, floor=POLL_FLOOR, late_cap=LATE_STAGE_CAP):
        self.initial, self.cap, self.floor, self.late_cap = initial, cap, floor, late_cap
        self._phase = None
        self._delays = None
        self._sample = None  # (controller time, processed) of the last poll in the source phase

    def next_delay(self, raw, now):
        stage = raw.get("stage") if isinstance(raw, dict) else None
        processed, total = _source_progress(raw if isinstance(raw, dict) else {})
        source_done = stage == "ACTIVE_RECONCILING_SOURCE" and total is not None and processed is not None \
            and processed >= total
        phase = "late" if (stage in LATE_STAGES or source_done) else stage
        if phase != self._phase:
            self._phase = phase
            # the final phases are usually a few hundred ms: start polling them at the floor
            start = self.floor if phase == "late" else self.initial
            self._delays = poll_delays(start, POLL_FACTOR, self.late_cap if phase == "late" else self.cap)
            self._sample = None
        delay = next(self._delays)
        if phase == "late":
            return max(self.floor, min(delay, self.late_cap))
        if stage == "ACTIVE_RECONCILING_SOURCE" and processed and total:
            rate = None
            if self._sample and now > self._sample[0] and processed > self._sample[1]:
                rate = (processed - self._sample[1]) / (now - self._sample[0])
            else:
                elapsed = _int_or_none(raw.get("duration"))
                if elapsed:
                    rate = processed / (elapsed / 1000.0)
            self._sample = (now, processed)
            if rate:
                delay = min(delay, (total - processed) / rate)
        return max(self.floor, delay)


# --- talking to IDM -----------------------------------------------------------------------------------------

class SystemClock(object):
    """Deadline clock and sleep: the shared ``_client.monotonic``/``_client.sleep``, looked up at call time so
    the unit tests' virtual clock replaces both in one place."""

    @staticmethod
    def now():
        return _client.monotonic()

    @staticmethod
    def sleep(seconds):
        _client.sleep(seconds)


_VERSION_RE = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


def parse_version(text):
    match = _VERSION_RE.search(text or "")
    if not match:
        return None
    return tuple(int(part or 0) for part in match.groups())


ANALYZE_MIN_VERSION = (7, 5, 0)
# As many tries as the client gives any other call (1 + 3 retries); between them GET recon looks for a
# run the server started although its answer was lost.
START_ATTEMPTS = 4


class ReconRunner(object):
    """Start, watch and cancel runs through an IdmClient."""

    def __init__(self, client, clock=None, poll_initial=POLL_INITIAL, poll_cap=POLL_CAP,
                 start_attempts=START_ATTEMPTS, start_backoff=0.5):
        self.client = client
        self.clock = clock or SystemClock()
        self.poll_initial = poll_initial
        self.poll_cap = poll_cap
        self.start_attempts = start_attempts
        self.start_backoff = start_backoff
        self._mappings = None
        self.shadowed = []
        self._version = False  # not read yet; None when the server did not tell

    # reads ---------------------------------------------------------------------------------------------

    def list_runs(self):
        return runs_from_response(self.client.get("recon"))

    def get(self, recon_id):
        return self.client.get("recon/%s" % recon_id)

    def get_or_none(self, recon_id):
        return self.client.get_or_none("recon/%s" % recon_id)

    def mappings(self):
        """name -> mapping config, from ``config/sync`` plus per-mapping ``config/mapping/<name>`` (7.x)."""
        if self._mappings is None:
            server = ServerMappings.read(self.client)
            self._mappings, self.shadowed = server.by_name, server.shadowed
        return self._mappings

    def has_mapping(self, name):
        return name in self.mappings()

    def check_mapping(self, name):
        """The mapping's config, or ReconError naming the mappings the server has."""
        found = self.mappings()
        if name in found:
            return found[name]
        names = ", ".join(sorted(found)) or "none"
        raise ReconError("Mapping '%s' does not exist on %s. Mappings on the server: %s."
                         % (name, self.client.base_url, names), available_mappings=sorted(found))

    def actions_for(self, name):
        """situation -> action for the mapping, or None when its config cannot be read."""
        try:
            config = self.mappings().get(name)
        except ApiError:
            return None
        return policy_actions(config) if config else None

    def audit_facts(self, recon_id, status_failures, exception_count):
        """AuditFacts of a run with ``status_failures`` failed entries (statusSummary.FAILURE), from
        ``GET audit/recon``; an audit that cannot be read (403, 404, ...) gives facts that tell nothing."""
        if not status_failures or not recon_id:
            return AuditFacts(complete=True, exceptions_are_failures=False)
        try:
            entries = self._audit_entries(recon_id, 'status eq "FAILURE"', FAILURE_SAMPLES)
            exceptions = [e for e in entries if e.get("action") == EXCEPTION_ACTION]
            real = [e for e in entries if e.get("action") != EXCEPTION_ACTION]
            complete = len(entries) >= status_failures
            if exceptions:
                counted = True
            elif complete or not exception_count:
                counted = False
            else:
                # The first failures hold no EXCEPTION entry, but the run has some: does the server count them?
                flagged = self._audit_entries(recon_id, 'action eq "%s"' % EXCEPTION_ACTION, 1)
                counted = bool(flagged) and flagged[0].get("status") == "FAILURE"
        except ApiError:
            return AuditFacts()
        return AuditFacts([failure_sample(e) for e in real], len(exceptions), complete, counted)

    def _audit_entries(self, recon_id, condition, page_size):
        answer = self.client.get(AUDIT_PATH, params={
            "_queryFilter": "reconId eq %s and %s" % (json.dumps(recon_id), condition), "_pageSize": str(page_size)})
        result = answer.get("result") if isinstance(answer, dict) else None
        # only entry events (not the run's start/summary events), in the order IDM wrote them
        return [e for e in result or [] if isinstance(e, dict) and e.get("entryType") in (None, "entry")]

    def describe(self, raw, mapping=None, dry_run=False):
        """normalise() with what the run needs: the mapping's policies when it has situations, the audit of its
        failed entries when it has some."""
        mapping = mapping or raw.get("mapping")
        actions = self.actions_for(mapping) if mapping and nonzero_situations(raw) else None
        audit = None
        failures = counters(raw)["failures"]
        if failures and not dry_run and raw.get("state") != ACTIVE_STATE:
            audit = self.audit_facts(run_id(raw), failures, sum(exception_situations(raw, actions).values()))
        return normalise(raw, actions=actions, dry_run=dry_run, audit=audit)

    def server_version(self):
        """(major, minor, patch) from info/version, read once per runner; None when unknown."""
        if self._version is not False:
            return self._version
        try:
            info = self.client.get("info/version")
        except ApiError:
            return None  # not cached: a later call may get an answer
        self._version = parse_version((info or {}).get("productVersion")) if isinstance(info, dict) else None
        return self._version

    def supports_analyze(self):
        version = self.server_version()
        return version is not None and version >= ANALYZE_MIN_VERSION, version

    # start ---------------------------------------------------------------------------------------------

    def _start_params(self, mapping, source_id, analyze):
        params = {"mapping": mapping}
        if source_id is not None:
            # 7.x/8 read "id", 5.x reads "ids" (one id); each ignores the other name, so send both.
            params["id"] = source_id
            params["ids"] = source_id
        if analyze:
            params["analyze"] = "true"
            params["persistAssociations"] = "true"
        return params

    def start(self, mapping, source_id=None, overrides=None, analyze=False, known_ids=None):
        """POST the start action; returns the run id.

        A POST is never blindly repeated: after a connection error, timeout or 5xx, ``GET recon`` shows
        whether the server started the run anyway (it is then adopted), and only if not is it sent again.
        Returns (run_id, adopted: bool).
        """
        action = "reconById" if source_id is not None else "recon"
        params = self._start_params(mapping, source_id, analyze)
        last_error = None
        for attempt in range(self.start_attempts):
            if attempt:
                self.clock.sleep(self.start_backoff * (2 ** (attempt - 1)))
            attempt_time = utc_now()
            try:
                body = self.client.post_action("recon", action, params=params, body=overrides or {})
            except ApiError as exc:
                if exc.status is not None and exc.status < 500:
                    raise self._start_refused(mapping, exc)
                last_error = exc
                adopted = self._find_started(mapping, attempt_time, known_ids)
                if adopted:
                    return run_id(adopted), True
                continue
            recon_id = run_id(body) if isinstance(body, dict) else None
            if not recon_id:
                raise ReconError("IDM accepted the recon of '%s' but returned no run id: %r" % (mapping, body))
            return recon_id, False
        raise ReconError("Could not start the recon of '%s' after %d attempts (no run was started): %s"
                         % (mapping, self.start_attempts, last_error), status=last_error.status)

    def _find_started(self, mapping, attempt_time, known_ids):
        try:
            runs = self.list_runs()
        except ApiError:
            return None  # the server is not answering yet; the next attempt will tell
        found = runs_started_since(runs, mapping, attempt_time, known_ids or ())
        return found[0] if found else None

    def _start_refused(self, mapping, exc):
        """Turn a 4xx on start into a clear message; an unknown mapping lists the ones that exist."""
        try:
            self.check_mapping(mapping)
        except ReconError as missing:
            return missing
        except ApiError:
            pass
        return ReconError("IDM refused to start the recon of '%s': %s" % (mapping, exc), status=exc.status)

    # wait / cancel -------------------------------------------------------------------------------------

    def wait(self, recon_id, deadline):
        """Poll until the run is no longer ACTIVE; returns the last summary. ReconTimeout at ``deadline``."""
        planner = PollPlanner(self.poll_initial, self.poll_cap)
        raw = self.get(recon_id)
        while raw.get("state") not in TERMINAL_STATES:
            now = self.clock.now()
            remaining = deadline - now
            if remaining <= 0:
                raise ReconTimeout("timed out", recon=raw)
            self.clock.sleep(min(remaining, planner.next_delay(raw, now)))
            raw = self.get(recon_id)
        return raw

    def cancel(self, recon_id, settle_seconds=10.0):
        """Ask IDM to cancel, then wait (briefly) until the run reports a final state. Returns the last summary."""
        try:
            self.client.post_action("recon/%s" % recon_id, "cancel")
        except ApiError as exc:
            if exc.status != 404:  # 404: already finished and gone from memory
                raise
        try:
            return self.wait(recon_id, self.clock.now() + settle_seconds)
        except ReconTimeout as exc:
            return exc.recon

    def wait_for_idle(self, mapping, deadline, runs=None):
        """Wait until no run of ``mapping`` is ACTIVE. Returns (ids waited for, the last listing)."""
        waited = []
        runs = self.list_runs() if runs is None else runs
        while True:
            running = active_runs(runs, mapping)
            if not running:
                return waited, runs
            for run in running:
                if run_id(run) not in waited:
                    waited.append(run_id(run))
                self.wait(run_id(run), deadline)
            runs = self.list_runs()
