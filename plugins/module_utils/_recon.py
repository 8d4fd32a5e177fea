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
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from ansible_collections.idmops.pingidm.plugins.module_utils import _client
from ansible_collections.idmops.pingidm.plugins.module_utils._client import ApiError

TERMINAL_STATES = ("SUCCESS", "FAILED", "CANCELED")
ACTIVE_STATE = "ACTIVE"
FAIL_ON_CHOICES = ("failed", "canceled", "entry_failures")
ON_RUNNING_CHOICES = ("wait", "queue", "fail", "start")

# IDM's default action per situation when a mapping has no policy for it (contract §5.1, code defaults).
DEFAULT_POLICY_ACTIONS = {
    "CONFIRMED": "UPDATE",
    "FOUND": "UPDATE",
    "FOUND_ALREADY_LINKED": "EXCEPTION",
    "ABSENT": "CREATE",
    "AMBIGUOUS": "EXCEPTION",
    "MISSING": "EXCEPTION",
    "UNQUALIFIED": "DELETE",
    "SOURCE_IGNORED": "REPORT",
    "TARGET_IGNORED": "REPORT",
    "LINK_ONLY": "EXCEPTION",
    "ALL_GONE": "NOREPORT",
    "UNASSIGNED": "EXCEPTION",
    "SOURCE_MISSING": "EXCEPTION",
}

# Stages after the source phase: usually short, so poll at a short interval there.
LATE_STAGES = frozenset(("ACTIVE_RECONCILING_TARGET", "ACTIVE_LINK_CLEANUP", "ACTIVE_PROCESSING_RESULTS",
                         "ACTIVE_CANCELING"))

POLL_INITIAL = 0.1
POLL_FACTOR = 1.5
POLL_CAP = 2.0
POLL_FLOOR = 0.1
LATE_STAGE_CAP = 0.5


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


def policy_actions(mapping_config):
    """situation -> action for a mapping: its ``policies`` over IDM's defaults. Script actions map to ``SCRIPT``."""
    actions = dict(DEFAULT_POLICY_ACTIONS)
    policies = mapping_config.get("policies") if isinstance(mapping_config, dict) else None
    for policy in policies or []:
        if not isinstance(policy, dict) or not policy.get("situation"):
            continue
        action = policy.get("action")
        actions[policy["situation"]] = action.upper() if isinstance(action, str) else "SCRIPT"
    return actions


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


# Which counter proves (or disproves) the write a situation's action implies.
_ACTION_COUNTER = {"CREATE": "created", "DELETE": "deleted", "LINK": "links_created", "UNLINK": "links_deleted"}
_WRITE_COUNTERS = ("created", "updated", "deleted", "links_created", "links_deleted")


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
        if situation == "FOUND" and action == "UPDATE":
            counter = "links_created"
        elif action in _ACTION_COUNTER:
            counter = _ACTION_COUNTER[action]
        else:
            continue
        if not dry_run and counts[counter] is not None:
            continue  # the server counted this kind of write, and the count is 0
        implied.append("%s:%s" % (situation, action))
    return bool(implied), "situations", implied


def duration_ms(raw):
    value = _int_or_none(raw.get("duration"))
    if value is not None:
        return value
    started, ended = parse_timestamp(raw.get("started")), parse_timestamp(raw.get("ended"))
    if started and ended:
        return int((ended - started).total_seconds() * 1000)
    return None


def normalise(raw, actions=None, dry_run=False):
    """The ``recon`` return value of the modules for one run summary."""
    changed, basis, implied = change_assessment(raw, actions, dry_run)
    recon = {
        "id": run_id(raw),
        "mapping": raw.get("mapping"),
        "state": raw.get("state"),
        "stage": raw.get("stage"),
        "stage_description": raw.get("stageDescription"),
        "started": raw.get("started") or None,
        "ended": raw.get("ended") or None,
        "duration_ms": duration_ms(raw),
        "counters": counters(raw),
        "situation_summary": nonzero_situations(raw),
        "status_summary": dict(raw.get("statusSummary") or {}),
        "dry_run": bool(dry_run),
        "has_changes": changed,
        "change_basis": basis,
        "implied_changes": implied,
    }
    source_ids = _dig(raw, "parameters", "sourceIds")
    if source_ids:
        recon["source_ids"] = list(source_ids)
    recon["summary"] = summary_line(recon)
    return recon


def _count_text(value):
    return "?" if value is None else str(value)


def summary_line(recon):
    """One line for humans, e.g. ``m: 50 created, 0 updated, 0 deleted, 0 failed in 1.2 s``."""
    counts = recon["counters"]
    text = "%s: %s created, %s updated, %s deleted, %s failed" % (
        recon.get("mapping") or "?", _count_text(counts["created"]), _count_text(counts["updated"]),
        _count_text(counts["deleted"]), _count_text(counts["failures"]))
    if counts["links_created"] and counts["links_created"] != (counts["created"] or 0):
        text += ", %d linked" % counts["links_created"]
    if recon.get("duration_ms") is not None:
        text += " in %.1f s" % (recon["duration_ms"] / 1000.0)
    if recon.get("state") and recon["state"] != "SUCCESS":
        text += " (%s)" % recon["state"]
    if recon.get("dry_run"):
        text += " [dry run: %s]" % (", ".join(recon.get("implied_changes") or []) or "no changes")
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
        reasons.append("%d entries failed (statusSummary.FAILURE)" % failures)
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
        if self._mappings is not None:
            return self._mappings
        found = {}
        sync = self.client.get_or_none("config/sync")
        for mapping in (sync or {}).get("mappings") or []:
            if isinstance(mapping, dict) and mapping.get("name"):
                found[mapping["name"]] = mapping
        try:
            listing = self.client.get("config", params={"_queryFilter": '_id sw "mapping/"'})
        except ApiError as exc:
            if exc.status not in (400, 403, 404, 501):
                raise
            listing = None
        configs = listing.get("result") if isinstance(listing, dict) else None
        for config in configs or []:
            name = config.get("name") or str(config.get("_id", "")).split("/", 1)[-1]
            if name and name not in found:
                found[name] = config
        self._mappings = found
        return found

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
