"""Schedule objects (``config/schedule/<name>``) read as IDM's ``ScheduleConfig`` reads them, their time zones, and
their triggers' fire times (epoch seconds).

What is read (everything else in the object is stored and ignored):

* ``enabled`` (default true), ``persisted`` (false), ``concurrentExecution`` (false): booleans, or the strings
  "true"/"false". ``misfirePolicy`` ``fireAndProceed`` (default) or ``doNothing``; ``type`` ``cron`` (default) or
  ``simple``; ``schedule`` (the cron expression, required for cron); ``timeZone`` (an IANA id or ``GMT+hh:mm``;
  default: this machine's zone); ``startTime``/``endTime`` as ``yyyy-MM-ddTHH:mm:ss`` in that zone;
  ``invokeService`` (required; ``sync`` is ``org.forgerock.openidm.sync``), ``invokeContext``,
  ``invokeLogLevel`` (default info).
* A cron trigger's first fire time is the first match after ``startTime`` - 1 s (Quartz); a start in the past is a
  misfire the scheduler handles. Daylight saving gaps move a fire time forward (Java's lenient calendar); a
  repeated hour fires once.
* ``type: simple`` fires at ``startTime`` (or 3 s after it is scheduled, like IDM), then every ``repeatInterval``
  ms, ``repeatCount`` more times (default -1, forever, as in the 7.x examples).
* No fire time after ``endTime``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .cron import CronError, CronExpression

FIRE_AND_PROCEED, DO_NOTHING = "fireAndProceed", "doNothing"
SERVICE_PREFIX = "org.forgerock.openidm."
SIMPLE_FIRST_DELAY = 3.0  # TriggerType.SIMPLE_TRIGGER_FIRE_LATENCY_CONSTANT
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


class Zone:
    """Wall time <-> epoch seconds in a schedule's time zone (None: this machine's zone, like the JVM default)."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self._tz: tzinfo | None = None
        if name is None:
            return
        match = re.fullmatch(r"GMT([+-])(\d\d):(\d\d)", name)
        if match:
            sign = 1 if match.group(1) == "+" else -1
            self._tz = timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))
            return
        try:
            self._tz = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"Scheduler configured timezone is not understood: {name}") from None

    def wall(self, epoch: float) -> datetime:
        if self._tz is None:
            return datetime.fromtimestamp(epoch)
        return datetime.fromtimestamp(epoch, self._tz).replace(tzinfo=None)

    def epoch(self, wall: datetime) -> float:
        if self._tz is None:
            return wall.timestamp()
        return wall.replace(tzinfo=self._tz).timestamp()


def iso_utc(epoch: float | None) -> str | None:
    """An instant as IDM's ``nextRunDate`` shows it (UTC, milliseconds), or None."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class ScheduleError(ValueError):
    """A schedule object IDM would not schedule; the text is what IDM logs."""


def _flag(config: dict[str, Any], key: str, default: bool) -> bool:
    value = config.get(key)
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() == "true"  # Boolean.parseBoolean
    if isinstance(value, bool):
        return value
    raise ScheduleError(f"{key} must be a boolean, got {json.dumps(value)}")


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _invoke_service(service: Any) -> str:
    if not isinstance(service, str) or not service.strip():
        raise ScheduleError("Invalid scheduler configuration, the invokeService property needs to be set but is empty.")
    return service if "." in service else SERVICE_PREFIX + service


def _zone(name: str | None) -> Zone:
    try:
        return Zone(name)
    except ValueError as exc:
        raise ScheduleError(str(exc)) from None


class ScheduleConfig:
    """One ``schedule/<name>`` object, read as IDM's ScheduleConfig reads it; ``ScheduleError`` when IDM would not
    schedule it."""

    def __init__(self, config: Any) -> None:
        if not isinstance(config, dict):
            raise ScheduleError("a schedule must be a JSON object")
        self.enabled = _flag(config, "enabled", True)
        self.persisted = _flag(config, "persisted", False)
        self.concurrent_execution = _flag(config, "concurrentExecution", False)
        self.misfire_policy = config.get("misfirePolicy") or FIRE_AND_PROCEED
        self.type = config.get("type") or "cron"
        if self.type not in ("cron", "simple"):
            raise ScheduleError(f"Specified type value invalid: {self.type}")
        self.schedule = config.get("schedule")
        self.cron = self._read_cron() if self.type == "cron" else None
        self.repeat_interval = config.get("repeatInterval") or 0
        self.repeat_count = config.get("repeatCount", -1)
        if self.type == "simple":
            self._check_repeats()
        self.invoke_service = _invoke_service(config.get("invokeService"))
        self.invoke_context = config.get("invokeContext")
        self.invoke_log_level = config.get("invokeLogLevel") or "info"
        self.zone = _zone(config.get("timeZone") or None)
        self.start_time = self._time(config, "startTime")
        self.end_time = self._time(config, "endTime")

    def _read_cron(self) -> CronExpression:
        if not isinstance(self.schedule, str) or not self.schedule.strip():
            raise ScheduleError("A schedule of type cron must provide a cron schedule")
        if self.misfire_policy not in (FIRE_AND_PROCEED, DO_NOTHING):
            raise ScheduleError(f"Invalid misfire policy: {self.misfire_policy}")
        try:
            return CronExpression(self.schedule)
        except CronError as exc:
            raise ScheduleError(f"Invalid cron expression '{self.schedule}': {exc}") from None

    def _check_repeats(self) -> None:
        if not _is_count(self.repeat_interval) or self.repeat_interval < 0:
            raise ScheduleError("repeatInterval must be a number of milliseconds")
        if not _is_count(self.repeat_count) or self.repeat_count < -1:
            raise ScheduleError("repeatCount must be -1 (forever) or a number of repeats")
        if self.repeat_count != 0 and self.repeat_interval <= 0:
            raise ScheduleError("a repeating simple schedule needs a repeatInterval > 0")

    def _time(self, config: dict[str, Any], key: str) -> float | None:
        text = config.get(key)
        if text in (None, ""):
            return None
        try:
            return self.zone.epoch(datetime.strptime(text, TIME_FORMAT))
        except (TypeError, ValueError):
            raise ScheduleError(f"{key} must be a date and time as yyyy-MM-ddTHH:mm:ss, got {text!r}") from None

    def as_json(self) -> dict[str, Any]:
        """What IDM's ``ScheduleConfig.getConfig()`` returns (``scheduler/job`` answers)."""

        def wall_text(epoch: float | None) -> str | None:
            return None if epoch is None else self.zone.wall(epoch).strftime(TIME_FORMAT)

        return {
            "enabled": self.enabled,
            "persisted": self.persisted,
            "misfirePolicy": self.misfire_policy,
            "schedule": self.schedule,
            "type": self.type,
            "invokeService": self.invoke_service,
            "invokeContext": self.invoke_context,
            "invokeLogLevel": self.invoke_log_level,
            "timeZone": self.zone.name,
            "startTime": wall_text(self.start_time),
            "endTime": wall_text(self.end_time),
            "concurrentExecution": self.concurrent_execution,
        }

    # --- the trigger -------------------------------------------------------------------------------------------------
    def first_fire(self, now: float) -> float | None:
        """First fire time (epoch) of a new trigger scheduled at ``now``, or None."""
        if self.type == "simple":
            first = self.start_time if self.start_time is not None else now + SIMPLE_FIRST_DELAY
            return self._bounded(first)
        # Quartz: the first match after startTime - 1 s; a start in the past is a misfire the dispatcher handles.
        return self.fire_after(self.start_time - 1 if self.start_time is not None else now)

    def fire_after(self, epoch: float, fired: int | None = None) -> float | None:
        """The fire time following ``epoch``; for a simple trigger, ``fired`` = fires so far."""
        if self.type == "simple":
            if self.repeat_count != -1 and fired is not None and fired > self.repeat_count:
                return None
            base = self.start_time if self.start_time is not None else epoch
            if self.repeat_interval <= 0:
                return None
            interval = self.repeat_interval / 1000.0
            steps = int((epoch - base) // interval) + 1 if epoch >= base else 0
            return self._bounded(base + steps * interval)
        assert self.cron is not None  # a cron schedule always has its expression
        wall = self.cron.next_after(self.zone.wall(epoch))
        return self._bounded(None if wall is None else self.zone.epoch(wall))

    def _bounded(self, epoch: float | None) -> float | None:
        if epoch is None or (self.end_time is not None and epoch > self.end_time):
            return None
        return epoch
