"""The scheduler service: one job per valid ``config/schedule/<name>`` object, fired from one dispatcher thread as
IDM's Quartz scheduler fires it.

Sources: PingIDM 7.x/8 schedules guide ("Configure schedules", "Persistent schedules", "Schedule synchronization"),
and the OpenIDM code of the same design (``ScheduleConfig``, ``TriggerType``, ``JobRequestHandler.addSchedule``,
``SynchronizationService.execute``).

* A bad object is stored by the config service (IDM's config store does not validate schedules either) but not
  scheduled: the reason is logged and kept in ``errors``, and the job does not exist, as when IDM's
  ``ScheduleConfigService`` fails to activate. A changed object replaces the job (a fresh trigger).
  ``enabled: false`` keeps the job without a trigger: listed, never fired.
* ``invokeService: sync`` with ``invokeContext.action`` ``reconcile`` (legacy spelling) or ``recon`` runs the
  recon of ``invokeContext.mapping`` and waits for it (the scheduler's thread is busy for the whole run, as in
  ``SynchronizationService.execute``); other string entries of ``invokeContext`` are passed as recon parameters.
  ``reconByQuery``/``reconById`` are accepted but run a full recon too, as IDM's ``execute()`` reconciles with
  ``ReconAction.recon`` whatever the action (OpenIDM SynchronizationService.java L276-308): ``ids`` is not used.
  ``invokeService: script`` evaluates ``invokeContext.script`` with ``input`` bound to ``invokeContext.input``.
  Other services (``provisioner`` liveSync, ``taskscanner``) and inline mapping objects are not imitated: such a
  fire is logged as failed.
* ``concurrentExecution: false`` (a Quartz StatefulJob): a fire time reached while the previous run of the same
  schedule is still running waits until it ends; then it fires at once if it is at most the misfire threshold
  (Quartz's default, 60 s) late, else the misfire policy decides: ``fireAndProceed`` fires once now,
  ``doNothing`` skips to the next fire time after now. Either way, missed fire times never pile up.
  ``concurrentExecution: true`` fires on time in parallel (at most ``threadCount`` 10 jobs at once).
* ``persisted: true`` keeps the trigger's next fire time in SQLite: after a restart, fire times missed while the
  server was down follow the same misfire rule. Non-persisted schedules start afresh from the restart.
* A simple trigger that is late fires now.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from .. import queryfilter
from ..config import ConfigService
from ..errors import IdmError
from ..scripts import ScriptEngine
from ..store import Store
from ..sync.recon import ReconService
from .cron import is_valid_cron
from .jobs import Fire, Job, TriggerRow, TriggerStore, same_schedule
from .schedule import DO_NOTHING, SERVICE_PREFIX, ScheduleConfig, ScheduleError

log = logging.getLogger("sandbox.idm.scheduler")

CONFIG_PREFIX = "schedule"
MISFIRE_THRESHOLD = 60.0  # org.quartz.jobStore.misfireThreshold default, seconds
THREAD_COUNT = 10  # scheduler.json threadPool.threadCount default
NEVER_FIRES = "Based on configured schedule, the given trigger will never fire."
RECON_ACTIONS = ("reconcile", "recon", "reconByQuery", "reconById")  # ReconAction.isReconAction() + legacy


class SchedulerService:
    """Keeps one Job per valid ``schedule/<name>`` and fires them from one dispatcher thread.

    Collaborators: the store (persisted triggers), the config service (the schedule objects and their changes),
    the recon service (``invokeService: sync``) and the script engine (``invokeService: script``).
    """

    def __init__(
        self,
        store: Store,
        configs: ConfigService,
        recon: ReconService,
        scripts: ScriptEngine,
        clock: Callable[[], float] = time.time,
        misfire_threshold: float = MISFIRE_THRESHOLD,
        thread_count: int = THREAD_COUNT,
    ) -> None:
        self.configs = configs
        self.recon = recon
        self.scripts = scripts
        self.triggers = TriggerStore(store)
        self.clock = clock
        self.misfire_threshold = misfire_threshold
        self.thread_count = thread_count
        self.errors: dict[str, str] = {}  # name -> why the object is not scheduled
        self._jobs: dict[str, Job] = {}
        self._cond = threading.Condition()
        self._paused = False
        self._stopping = False
        self._active = 0
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------------------------------
    def start(self) -> SchedulerService:
        """Schedule the stored schedule objects, follow their changes, and start the dispatcher thread."""
        stored = self.triggers.load()
        listing = self.configs.list()["configurations"]
        names = [c["_id"].split("/", 1)[1] for c in listing if c["_id"].startswith(CONFIG_PREFIX + "/")]
        for name in names:
            self._schedule(name, self.configs.get(f"{CONFIG_PREFIX}/{name}"), stored.get(name))
        with self._cond:
            for name in set(stored) - set(names):
                self.triggers.forget(name)
        self.configs.subscribe(CONFIG_PREFIX, self._on_config)
        self._thread = threading.Thread(target=self._dispatch, name="idm-scheduler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops firing. Runs in progress are not waited for: the recon service cancels them when it closes."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # --- schedule objects -> jobs ----------------------------------------------------------------------------------
    def _on_config(self, config_id: str, value: dict[str, Any] | None, _wait: bool) -> None:
        name = config_id.split("/", 1)[1] if "/" in config_id else None
        if not name:
            return
        if value is None:
            with self._cond:
                self._jobs.pop(name, None)
                self.errors.pop(name, None)
                self.triggers.forget(name)
                self._cond.notify_all()
            return
        self._schedule(name, value, None)

    def _schedule(self, name: str, raw: dict[str, Any] | None, stored: TriggerRow | None) -> None:
        raw = {k: v for k, v in (raw or {}).items() if k not in ("_id", "_rev")}
        with self._cond:
            self._jobs.pop(name, None)
            self._cond.notify_all()
            job = self._new_job(name, raw, stored)
            if job is None:
                self.triggers.forget(name)
                return
            self._jobs[name] = job
            if job.config.persisted:
                self.triggers.save(job)
            else:
                self.triggers.forget(name)  # a schedule that stopped being persisted leaves no stale trigger
        config = job.config
        log.info(
            "Job %s scheduled with schedule %s, timezone %s, enabled %s",
            name,
            config.schedule,
            config.zone.name,
            config.enabled,
        )

    def _new_job(self, name: str, raw: dict[str, Any], stored: TriggerRow | None) -> Job | None:
        """The job of a schedule object, or None when IDM would not schedule it (the reason goes to ``errors``)."""
        try:
            config = ScheduleConfig(raw)
        except ScheduleError as exc:
            return self._refuse(name, str(exc))
        self.errors.pop(name, None)
        job = Job(name, raw, config)
        if not config.enabled:
            return job
        if stored is not None and config.persisted and same_schedule(stored, raw):
            job.next_fire, job.previous_fire = stored[1], stored[2]
            return job
        job.next_fire = config.first_fire(self.clock())
        if job.next_fire is None:
            return self._refuse(name, NEVER_FIRES)  # Quartz refuses such a trigger; IDM logs the failure
        return job

    def _refuse(self, name: str, reason: str) -> None:
        self.errors[name] = reason
        log.error("schedule %s is not scheduled: %s", name, reason)

    # --- dispatching -----------------------------------------------------------------------------------------------
    def _blocked(self, job: Job) -> bool:
        return job.running > 0 and not job.config.concurrent_execution

    def _dispatch(self) -> None:
        while True:
            self._flush()
            with self._cond:
                if self._stopping:
                    break
                now = self.clock()
                starts = self._due(now)
                if not starts and not self.triggers.pending:
                    timeout = self._idle_timeout(now)
                    if timeout > 0:
                        self._cond.wait(timeout)
            for job, record in starts:
                threading.Thread(target=self._run, args=(job, record), name=f"schedule-{job.name}", daemon=True).start()
        self._flush()

    def _flush(self) -> None:
        with self._cond:
            pending = self.triggers.take()
        self.triggers.write(pending)

    def _due(self, now: float) -> list[tuple[Job, Fire]]:
        """The runs to start now, as far as free threads allow (lock held)."""
        starts = []
        for job in sorted(self._jobs.values(), key=lambda j: j.next_fire or 0):
            if job.next_fire is None or job.next_fire > now or self._paused or self._blocked(job):
                continue
            if self._active >= self.thread_count:
                break
            record = self._fire_due(job, now)
            if record is not None:
                starts.append((job, record))
        return starts

    def _idle_timeout(self, now: float) -> float:
        """How long the dispatcher may sleep: until the next fire time, at most a second (lock held)."""
        waits = [j.next_fire - now for j in self._jobs.values() if j.next_fire is not None and not self._blocked(j)]
        return 1.0 if self._paused or not waits else min(max(min(waits), 0.0), 1.0)

    def _fire_due(self, job: Job, now: float) -> Fire | None:
        """Quartz's decision for a trigger whose fire time has come (lock held). Returns the Fire to run, or None
        when the misfire policy skips it; the caller starts the run."""
        scheduled = job.next_fire
        assert scheduled is not None  # only due jobs come here
        late = now - scheduled
        misfired = late > self.misfire_threshold
        config = job.config
        if misfired and config.type == "cron" and config.misfire_policy == DO_NOTHING:
            job.next_fire = config.fire_after(now)
            log.info("schedule %s misfired (%.0f s late): skipped (doNothing)", job.name, late)
            self.triggers.save(job)
            return None
        job.fired += 1
        if misfired or (config.type == "simple" and late > 0):
            job.next_fire = config.fire_after(now, job.fired)  # fire once now, then the normal schedule
        else:
            job.next_fire = config.fire_after(scheduled, job.fired)
        job.previous_fire = now
        job.running += 1
        self._active += 1
        record = Fire(scheduled=scheduled, started=now)
        job.record(record)
        self.triggers.save(job)
        return record

    def _run(self, job: Job, record: Fire) -> None:
        try:
            record.detail = self._invoke(job.config)
            record.outcome = "SUCCESS"
        except Exception as exc:
            record.outcome = "FAILED"
            record.detail = exc.message if isinstance(exc, IdmError) else str(exc)
            if not self._stopping:
                log.warning("scheduled job %s failed: %s", job.name, record.detail)
        finally:
            with self._cond:
                record.ended = self.clock()
                job.running -= 1
                self._active -= 1
                self._cond.notify_all()

    def _invoke(self, config: ScheduleConfig) -> Any:
        service = config.invoke_service.removeprefix(SERVICE_PREFIX)
        context = config.invoke_context if isinstance(config.invoke_context, dict) else {}
        if service == "sync":
            return self._invoke_sync(context)
        if service == "script":
            return self.scripts.evaluate(context.get("script"), {"input": context.get("input")})
        raise IdmError(501, f"The sandbox scheduler does not run invokeService '{config.invoke_service}'")

    def _invoke_sync(self, context: dict[str, Any]) -> Any:
        """A full recon of a named mapping (whatever the recon action, see the module docstring), waited for; returns
        the recon id."""
        action = context.get("action")
        if action not in RECON_ACTIONS:
            raise IdmError(400, f"Action '{action}' configured in schedule not supported.")
        mapping = context.get("mapping")
        if not isinstance(mapping, str):
            raise IdmError(501, "The sandbox runs scheduled recons of named mappings only (no inline mapping)")
        params = {k: v for k, v in context.items() if isinstance(v, str) and k != "action"}
        params.update(mapping=mapping, waitForCompletion="true")
        started = self.recon.start_action("recon", params, None)
        return started.get("_id")

    # --- reading and control (the REST routes and tests use these) -------------------------------------------------
    def job(self, name: str) -> Job | None:
        with self._cond:
            return self._jobs.get(name)

    def history(self, name: str) -> list[Fire]:
        """Fires of a job so far (newest last), for tests."""
        with self._cond:
            job = self._jobs.get(name)
            return list(job.history) if job else []

    def describe_job(self, name: str) -> dict[str, Any]:
        """``scheduler/job/<name>``; 404 when no such job is scheduled."""
        job = self.job(name)
        if job is None:
            raise IdmError(404, f"Schedule does not exist: {name}")
        return job.describe()

    def query_jobs(self, query_filter: str = "true", ids_only: bool = False) -> list[dict[str, Any]]:
        """The jobs (sorted by name) that match a CREST filter, or all their ids."""
        with self._cond:
            jobs = sorted(self._jobs.values(), key=lambda j: j.name)
            if ids_only:
                return [{"_id": j.name} for j in jobs]
            node = queryfilter.parse(query_filter)
            return [d for d in (j.describe() for j in jobs) if queryfilter.matches(node, d)]

    def executing_jobs(self) -> list[dict[str, Any]]:
        """The schedules (as IDM reads them) of the jobs running now."""
        with self._cond:
            return [j.config.as_json() for j in self._jobs.values() if j.running]

    def set_paused(self, paused: bool) -> None:
        """``pauseJobs``/``resumeJobs``: a paused scheduler fires nothing; runs in progress go on."""
        with self._cond:
            self._paused = paused
            self._cond.notify_all()

    @staticmethod
    def valid_cron_expression(expression: str) -> bool:
        """``validateQuartzCronExpression``: whether Quartz would parse ``expression``."""
        return is_valid_cron(expression)
