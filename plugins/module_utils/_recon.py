# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Reconciliation runs on PingIDM: list, start, poll, cancel, and read what is needed to describe a run.

PRIVATE to the collection: names here can change without notice. ``ReconRunner`` talks to IDM through
``_client.IdmClient``; what a run summary means is ``_recon_summary``'s business.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

from ansible_collections.idmops.pingidm.plugins.module_utils import _http
from ansible_collections.idmops.pingidm.plugins.module_utils._http import ApiError
from ansible_collections.idmops.pingidm.plugins.module_utils._mappings import ServerMappings
from ansible_collections.idmops.pingidm.plugins.module_utils._module import ModuleFailure
from ansible_collections.idmops.pingidm.plugins.module_utils._recon_summary import (
    ACTIVE_STATE, TERMINAL_STATES, AuditFacts, counters, duration_ms, exception_situations, failure_sample,
    nonzero_situations, normalise, parse_timestamp, run_id, source_progress, utc_now)
from ansible_collections.idmops.pingidm.plugins.module_utils._vocabulary import EXCEPTION_ACTION, policy_actions

# Stages after the source phase: usually short, so poll at a short interval there.
LATE_STAGES = frozenset(("ACTIVE_RECONCILING_TARGET", "ACTIVE_LINK_CLEANUP", "ACTIVE_PROCESSING_RESULTS",
                         "ACTIVE_CANCELING"))

POLL_INITIAL = 0.1
POLL_FACTOR = 1.5
POLL_CAP = 2.0
POLL_FLOOR = 0.1
LATE_STAGE_CAP = 0.5
# The longest first wait when the previous run's duration is known: a short re-run ends within it (one poll);
# a longer run is then estimated from its progress.
FIRST_POLL_CAP = 0.3

AUDIT_PATH = "audit/recon"
FAILURE_SAMPLES = 5            # failed entries read from the audit of a run


def last_duration(runs, mapping):
    """Seconds the latest successful run of ``mapping`` in a ``GET recon`` listing took; None when there is none."""
    finished = [run for run in runs if run.get("mapping") == mapping and run.get("state") == "SUCCESS"]
    if not finished:
        return None
    latest = max(finished, key=lambda run: parse_timestamp(run.get("started")) or datetime.min)
    milliseconds = duration_ms(latest)
    return milliseconds / 1000.0 if milliseconds else None


class ReconTimeout(Exception):
    """The wait deadline passed while the run was still active; ``recon`` is the last summary read."""

    def __init__(self, recon):
        super(ReconTimeout, self).__init__("timed out")
        self.recon = recon


def runs_from_response(body):
    """The list of run summaries from ``GET recon``: ``{"reconciliations": [...]}``, ``{"result": [...]}`` or a list."""
    if isinstance(body, list):
        return [run for run in body if isinstance(run, dict)]
    if isinstance(body, dict):
        for key in ("reconciliations", "result"):
            if isinstance(body.get(key), list):
                return [run for run in body[key] if isinstance(run, dict)]
    return []


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


def poll_delays(initial=POLL_INITIAL, factor=POLL_FACTOR, cap=POLL_CAP):
    """Endless backoff schedule: 0.1, 0.15, 0.225, ... capped at 2 s."""
    delay = initial
    while True:
        yield delay
        delay = min(cap, delay * factor)


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
        processed, total = source_progress(raw if isinstance(raw, dict) else {})
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
                elapsed = duration_ms(raw)
                if elapsed:
                    rate = processed / (elapsed / 1000.0)
            self._sample = (now, processed)
            if rate:
                delay = min(delay, (total - processed) / rate)
        return max(self.floor, delay)


# --- talking to IDM -----------------------------------------------------------------------------------------

class SystemClock(object):
    """Deadline clock and sleep: the shared ``_http.monotonic``/``_http.sleep``, looked up at call time so
    the unit tests' virtual clock replaces both in one place."""

    @staticmethod
    def now():
        return _http.monotonic()

    @staticmethod
    def sleep(seconds):
        _http.sleep(seconds)


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
        """The mapping's config, or a ModuleFailure naming the mappings the server has."""
        found = self.mappings()
        if name in found:
            return found[name]
        names = ", ".join(sorted(found)) or "none"
        raise ModuleFailure("Mapping '%s' does not exist on %s. Mappings on the server: %s."
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
                raise ModuleFailure("IDM accepted the recon of '%s' but returned no run id: %r" % (mapping, body))
            return recon_id, False
        raise ModuleFailure("Could not start the recon of '%s' after %d attempts (no run was started): %s"
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
        except ModuleFailure as missing:
            return missing
        except ApiError:
            pass
        return ModuleFailure("IDM refused to start the recon of '%s': %s" % (mapping, exc), status=exc.status)

    # wait / cancel -------------------------------------------------------------------------------------

    def wait(self, recon_id, deadline, expected=None):
        """Poll until the run is no longer ACTIVE; returns the last summary. ReconTimeout at ``deadline``.

        The first poll comes after the first backoff step (a run that has just been started is still active), or,
        when ``expected`` tells how long the previous run of the mapping took, just after that for a short run
        (one poll) and after ``FIRST_POLL_CAP`` for a longer one: a run that writes nothing is often much shorter
        than one that created everything, and from the first poll on the planner estimates the rest from the run's
        progress.
        """
        planner = PollPlanner(self.poll_initial, self.poll_cap)
        first = min(expected * 1.1, FIRST_POLL_CAP) if expected else self.poll_initial
        self.clock.sleep(max(0.0, min(deadline - self.clock.now(), first)))
        raw = self.get(recon_id)
        while raw.get("state") not in TERMINAL_STATES:
            now = self.clock.now()
            remaining = deadline - now
            if remaining <= 0:
                raise ReconTimeout(raw)
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
