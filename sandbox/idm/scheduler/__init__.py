"""IDM's scheduler for the sandbox: ``config/schedule/<name>`` objects fire on time, as IDM's Quartz scheduler fires
them, and ``/openidm/scheduler`` answers the read-only calls of IDM's REST API (``sandbox.idm.rest.scheduler``).

Sources: PingIDM 7.x/8 schedules guide ("Configure schedules", "Persistent schedules", "Schedule synchronization"),
the 8.1 REST reference "Schedules", and the OpenIDM code of the same design (``ScheduleConfig``, ``TriggerType``,
``JobRequestHandler.addSchedule``, ``SynchronizationService.execute``).

Modules: ``cron`` (Quartz cron expressions: parsing and fire times), ``schedule`` (schedule objects as IDM reads
them, time zones, a trigger's fire times), ``jobs`` (jobs, their fires and the persisted triggers), ``service``
(``SchedulerService``: jobs from the config service, the dispatcher thread, misfires, running recons and scripts).
Nothing here wires itself in: ``sandbox.idm.server.IdmServer`` builds the service and its routes.
"""

from __future__ import annotations

from .cron import CronError, CronExpression, is_valid_cron
from .jobs import Fire, Job
from .schedule import DO_NOTHING, FIRE_AND_PROCEED, ScheduleConfig, ScheduleError
from .service import SchedulerService

__all__ = [
    "DO_NOTHING",
    "FIRE_AND_PROCEED",
    "CronError",
    "CronExpression",
    "Fire",
    "Job",
    "ScheduleConfig",
    "ScheduleError",
    "SchedulerService",
    "is_valid_cron",
]
