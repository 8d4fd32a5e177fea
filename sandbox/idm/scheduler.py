"""IDM's scheduler for the sandbox: ``config/schedule/<name>`` objects fire on time, as IDM's Quartz scheduler fires
them, and ``/openidm/scheduler`` answers the read-only calls of IDM's REST API.

Sources: PingIDM 7.x/8 schedules guide ("Configure schedules", "Persistent schedules", "Schedule synchronization"),
the 8.1 REST reference "Schedules", and the OpenIDM code of the same design (``ScheduleConfig``, ``TriggerType``,
``JobRequestHandler.addSchedule``, ``SynchronizationService.execute``).

Schedule objects (what ``ScheduleConfig`` reads; everything else in the object is stored and ignored):

* ``enabled`` (default true), ``persisted`` (false), ``concurrentExecution`` (false): booleans, or the strings
  "true"/"false". ``misfirePolicy`` ``fireAndProceed`` (default) or ``doNothing``; ``type`` ``cron`` (default) or
  ``simple``; ``schedule`` (the cron expression, required for cron); ``timeZone`` (an IANA id or ``GMT+hh:mm``;
  default: this machine's zone); ``startTime``/``endTime`` as ``yyyy-MM-ddTHH:mm:ss`` in that zone;
  ``invokeService`` (required; ``sync`` is ``org.forgerock.openidm.sync``), ``invokeContext``,
  ``invokeLogLevel`` (default info).
* A bad object is stored by the config service (IDM's config store does not validate schedules either) but not
  scheduled: the reason is logged and the job does not exist (``scheduler/job/<name>`` is 404), as when IDM's
  ``ScheduleConfigService`` fails to activate. A changed object replaces the job (a fresh trigger).
* ``enabled: false`` keeps the job without a trigger: listed, never fired.

Firing (Quartz semantics the docs describe):

* ``invokeService: sync`` with ``invokeContext.action`` ``reconcile`` (legacy spelling) or ``recon`` runs the
  recon of ``invokeContext.mapping`` and waits for it (the scheduler's thread is busy for the whole run, as in
  ``SynchronizationService.execute``); other string entries of ``invokeContext`` are passed as recon parameters.
  ``reconById`` works the same way with ``ids``. ``invokeService: script`` evaluates ``invokeContext.script``
  with ``input`` bound to ``invokeContext.input``. Other services (``provisioner`` liveSync, ``taskscanner``) and
  inline mapping objects are not imitated: such a fire is logged as failed.
* ``concurrentExecution: false`` (a Quartz StatefulJob): a fire time reached while the previous run of the same
  schedule is still running waits until it ends; then it fires at once if it is at most the misfire threshold
  (Quartz's default, 60 s) late, else the misfire policy decides: ``fireAndProceed`` fires once now,
  ``doNothing`` skips to the next fire time after now. Either way, missed fire times never pile up.
  ``concurrentExecution: true`` fires on time in parallel (at most ``threadCount`` 10 jobs at once).
* ``persisted: true`` keeps the trigger's next fire time in SQLite: after a restart, fire times missed while the
  server was down follow the same misfire rule. Non-persisted schedules start afresh from the restart.
* ``type: simple`` fires at ``startTime`` (or 3 s after it is scheduled, like IDM), then every ``repeatInterval``
  ms, ``repeatCount`` more times (default -1, forever, as in the 7.x examples); a late fire fires now.

Cron expressions: Quartz ``CronExpression`` syntax, all of it (``CronTrigger`` tutorial that IDM's docs point to):
6 or 7 fields ``seconds minutes hours day-of-month month day-of-week [year]``; ``*``, lists ``,``, ranges ``-``
(also wrapping, ``22-2``), increments ``/`` (``*/2``, ``5/15``, ``10-40/10``); months ``1-12`` or ``JAN-DEC``;
days of week ``1-7`` (1 = Sunday) or ``SUN-SAT``; years 1970-2099; exactly one of day-of-month and day-of-week is
``?``; day-of-month ``L``, ``L-n``, ``LW``, ``nW``; day-of-week ``L`` (Saturday), ``nL``, ``n#k``. Case does not
matter. ``L``/``W``/``#`` items stand alone in their field (as Quartz requires). An expression that never fires
(``0 0 0 30 2 ?``) cannot be scheduled, as in Quartz. Daylight saving gaps move a fire time forward (Java's lenient
calendar); a repeated hour fires once.

REST (``/openidm/scheduler``): ``POST ?_action=validateQuartzCronExpression`` with ``{"cronExpression": ...}`` ->
``{"valid": bool}``; ``GET scheduler/job?_queryFilter=...`` (or ``_queryId=query-all-ids``) and
``GET scheduler/job/<name>`` -> the schedule as ``ScheduleConfig.getConfig()`` returns it plus ``nextRunDate`` (UTC
ISO-8601, null when it will not fire); ``POST scheduler/job?_action=listCurrentlyExecutingJobs|pauseJobs|resumeJobs``.
Choices where the sources are silent: the ``triggers`` list of a job is not returned; creating, changing or deleting
jobs through ``scheduler/job`` (bypassing the config service) answers 501 - use ``config/schedule/<name>``.
"""

import calendar
import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import queryfilter
from .crest import page
from .errors import IdmError
from .rest.http import Response

log = logging.getLogger("sandbox.idm.scheduler")

CONFIG_PREFIX = "schedule"
MISFIRE_THRESHOLD = 60.0        # org.quartz.jobStore.misfireThreshold default, seconds
THREAD_COUNT = 10               # scheduler.json threadPool.threadCount default
SIMPLE_FIRST_DELAY = 3.0        # TriggerType.SIMPLE_TRIGGER_FIRE_LATENCY_CONSTANT
FIRE_AND_PROCEED, DO_NOTHING = "fireAndProceed", "doNothing"
SERVICE_PREFIX = "org.forgerock.openidm."
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
HISTORY = 20

SCHEMA = """
CREATE TABLE IF NOT EXISTS scheduler_triggers (
    name TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    next_fire REAL,
    previous_fire REAL
);
"""

# --- cron expressions ------------------------------------------------------------------------------------------------

MONTH_NAMES = {name: i + 1 for i, name in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"))}
DAY_NAMES = {name: i + 1 for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
FIELDS = (("second", 0, 59, None), ("minute", 0, 59, None), ("hour", 0, 23, None),
          ("day-of-month", 1, 31, None), ("month", 1, 12, MONTH_NAMES), ("day-of-week", 1, 7, DAY_NAMES),
          ("year", 1970, 2099, None))
LAST_YEAR = 2099


class CronError(ValueError):
    """An expression Quartz would not parse; the text says which field and why."""


def _number(text, name, low, high, names):
    if names and text in names:
        return names[text]
    if not text.isdigit():
        raise CronError(f"{name}: '{text}' is not a number{' or a name' if names else ''}")
    value = int(text)
    if not low <= value <= high:
        raise CronError(f"{name} values must be between {low} and {high} (got {value})")
    return value


def _parse_values(text, name, low, high, names):
    """The set of values of a field without special characters: ``*``, lists, ranges, increments."""
    values = set()
    for item in text.split(","):
        if item == "":
            raise CronError(f"{name}: empty list item in '{text}'")
        base, slash, step_text = item.partition("/")
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{name}: the increment after '/' must be a positive number (got '{step_text}')")
            step = int(step_text)
            if name != "year" and step > high:
                raise CronError(f"{name}: increment {step} is larger than {high}")
        else:
            step = 1
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _number(first, name, low, high, names), _number(last, name, low, high, names)
        else:
            start = _number(base, name, low, high, names)
            end = high if slash else start
        span = (end - start) % (high - low + 1)   # a range may wrap around (22-2, FRI-MON)
        for offset in range(0, span + 1, step):
            values.add(low + (start - low + offset) % (high - low + 1))
    return frozenset(values)


@dataclass(frozen=True)
class DaySpec:
    """Day-of-month or day-of-week rule. ``kind``: values | last | last_weekday | nearest_weekday | last_of | nth."""
    kind: str
    values: frozenset = frozenset()
    number: int = 0      # L-n offset, nW day, nL / n#k weekday
    nth: int = 0         # k of n#k


def _parse_day_of_month(text):
    if "L" in text or "W" in text:
        if "," in text or "/" in text:
            raise CronError("day-of-month: 'L' and 'W' cannot be combined with other days")
        if text == "L":
            return DaySpec("last")
        if text == "LW":
            return DaySpec("last_weekday")
        match = re.fullmatch(r"L-(\d+)", text)
        if match:
            offset = int(match.group(1))
            if offset > 30:
                raise CronError("day-of-month: the offset from the last day must be at most 30")
            return DaySpec("last", number=offset)
        match = re.fullmatch(r"(\d+)W", text)
        if match:
            return DaySpec("nearest_weekday", number=_number(match.group(1), "day-of-month", 1, 31, None))
        raise CronError(f"day-of-month: '{text}' is not a valid use of 'L' or 'W'")
    return DaySpec("values", _parse_values(text, "day-of-month", 1, 31, None))


def _parse_day_of_week(text):
    if "#" in text:
        match = re.fullmatch(r"([A-Z]{3}|\d)#(\d)", text)
        if not match:
            raise CronError(f"day-of-week: '{text}' is not a valid 'n#k' (for example 6#3, the third Friday)")
        nth = int(match.group(2))
        if not 1 <= nth <= 5:
            raise CronError("day-of-week: the k of 'n#k' must be between 1 and 5")
        return DaySpec("nth", number=_number(match.group(1), "day-of-week", 1, 7, DAY_NAMES), nth=nth)
    if "L" in text:
        if text == "L":
            return DaySpec("values", frozenset({7}))
        match = re.fullmatch(r"([A-Z]{3}|\d)L", text)
        if not match:
            raise CronError(f"day-of-week: '{text}' is not a valid 'nL' (for example 6L, the last Friday)")
        return DaySpec("last_of", number=_number(match.group(1), "day-of-week", 1, 7, DAY_NAMES))
    return DaySpec("values", _parse_values(text, "day-of-week", 1, 7, DAY_NAMES))


def _quartz_weekday(year, month, day):
    """1 = Sunday ... 7 = Saturday."""
    return (calendar.weekday(year, month, day) + 1) % 7 + 1


class CronExpression:
    """A parsed Quartz cron expression; ``next_after(naive_datetime)`` gives the next fire time in wall time."""

    def __init__(self, text):
        if not isinstance(text, str) or not text.strip():
            raise CronError("the cron expression is empty")
        self.text = text
        fields = text.upper().split()
        if len(fields) < 6:
            raise CronError(f"a Quartz cron expression has 6 or 7 fields (seconds first), got {len(fields)}: "
                            "'seconds minutes hours day-of-month month day-of-week [year]'")
        if len(fields) > 7:
            raise CronError(f"a Quartz cron expression has 6 or 7 fields, got {len(fields)}")
        for index, value in enumerate(fields):
            if "?" in value and (index not in (3, 5) or value != "?"):
                raise CronError(f"'?' can only be the whole day-of-month or day-of-week field (got '{value}' as "
                                f"{FIELDS[index][0]})")
            if index not in (3, 5) and re.search(r"[LW#]", re.sub(r"[A-Z]{3}", "", value)):
                raise CronError(f"{FIELDS[index][0]}: 'L', 'W' and '#' are only allowed in day-of-month or "
                                "day-of-week")
        if (fields[3] == "?") == (fields[5] == "?"):
            raise CronError("exactly one of day-of-month and day-of-week must be '?' (Quartz does not support "
                            "both, nor neither)")
        self.seconds = sorted(_parse_values(fields[0], *FIELDS[0]))
        self.minutes = sorted(_parse_values(fields[1], *FIELDS[1]))
        self.hours = sorted(_parse_values(fields[2], *FIELDS[2]))
        self.day_of_month = None if fields[3] == "?" else _parse_day_of_month(fields[3])
        self.months = sorted(_parse_values(fields[4], *FIELDS[4]))
        self.day_of_week = None if fields[5] == "?" else _parse_day_of_week(fields[5])
        self.years = sorted(_parse_values(fields[6], *FIELDS[6])) if len(fields) == 7 else None

    def _days(self, year, month):
        last = calendar.monthrange(year, month)[1]
        spec = self.day_of_month
        if spec is not None:
            if spec.kind == "values":
                return sorted(d for d in spec.values if d <= last)
            if spec.kind == "last":
                return [last - spec.number] if last - spec.number >= 1 else []
            if spec.kind == "last_weekday":
                weekday = _quartz_weekday(year, month, last)
                return [last - {7: 1, 1: 2}.get(weekday, 0)]
            day = spec.number          # nearest_weekday: never leaves the month
            if day > last:
                return []
            weekday = _quartz_weekday(year, month, day)
            if weekday == 7:
                day = day - 1 if day > 1 else day + 2
            elif weekday == 1:
                day = day + 1 if day < last else day - 2
            return [day]
        spec = self.day_of_week
        if spec.kind == "values":
            return [d for d in range(1, last + 1) if _quartz_weekday(year, month, d) in spec.values]
        matching = [d for d in range(1, last + 1) if _quartz_weekday(year, month, d) == spec.number]
        if spec.kind == "last_of":
            return matching[-1:]
        return matching[spec.nth - 1:spec.nth]

    def _first_time(self, not_before):
        for hour in self.hours:
            if not_before is not None and hour < not_before.hour:
                continue
            same_hour = not_before is not None and hour == not_before.hour
            for minute in self.minutes:
                if same_hour and minute < not_before.minute:
                    continue
                same_minute = same_hour and minute == not_before.minute
                for second in self.seconds:
                    if same_minute and second < not_before.second:
                        continue
                    return hour, minute, second
        return None

    def next_after(self, after):
        """The first matching wall time strictly after ``after`` (naive datetime), or None (never again)."""
        start = after.replace(microsecond=0) + timedelta(seconds=1)
        years = self.years or range(start.year, LAST_YEAR + 1)
        for year in years:
            if year < start.year:
                continue
            for month in self.months:
                if (year, month) < (start.year, start.month):
                    continue
                for day in self._days(year, month):
                    if (year, month, day) < (start.year, start.month, start.day):
                        continue
                    same_day = (year, month, day) == (start.year, start.month, start.day)
                    found = self._first_time(start.time() if same_day else None)
                    if found:
                        return datetime(year, month, day, *found)
        return None


def is_valid_cron(text):
    try:
        CronExpression(text)
    except CronError:
        return False
    return True


# --- time zones -------------------------------------------------------------------------------------------------------

class Zone:
    """Wall time <-> epoch seconds in a schedule's time zone (None: this machine's zone, like the JVM default)."""

    def __init__(self, name=None):
        self.name = name
        self._tz = None
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

    def wall(self, epoch):
        if self._tz is None:
            return datetime.fromtimestamp(epoch)
        return datetime.fromtimestamp(epoch, self._tz).replace(tzinfo=None)

    def epoch(self, wall):
        if self._tz is None:
            return wall.timestamp()
        return wall.replace(tzinfo=self._tz).timestamp()


def iso_utc(epoch):
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# --- schedule objects -------------------------------------------------------------------------------------------------

class ScheduleError(ValueError):
    """A schedule object IDM would not schedule; the text is what IDM logs."""


def _flag(config, key, default):
    value = config.get(key)
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() == "true"        # Boolean.parseBoolean
    if isinstance(value, bool):
        return value
    raise ScheduleError(f"{key} must be a boolean, got {json.dumps(value)}")


class ScheduleConfig:
    """One ``schedule/<name>`` object, read as IDM's ScheduleConfig reads it."""

    def __init__(self, config):
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
        self.cron = None
        if self.type == "cron":
            if not isinstance(self.schedule, str) or not self.schedule.strip():
                raise ScheduleError("A schedule of type cron must provide a cron schedule")
            if self.misfire_policy not in (FIRE_AND_PROCEED, DO_NOTHING):
                raise ScheduleError(f"Invalid misfire policy: {self.misfire_policy}")
            try:
                self.cron = CronExpression(self.schedule)
            except CronError as exc:
                raise ScheduleError(f"Invalid cron expression '{self.schedule}': {exc}") from None
        self.repeat_interval = config.get("repeatInterval") or 0
        self.repeat_count = config.get("repeatCount", -1)
        if self.type == "simple":
            if not isinstance(self.repeat_interval, int) or isinstance(self.repeat_interval, bool) \
                    or self.repeat_interval < 0:
                raise ScheduleError("repeatInterval must be a number of milliseconds")
            if not isinstance(self.repeat_count, int) or isinstance(self.repeat_count, bool) \
                    or self.repeat_count < -1:
                raise ScheduleError("repeatCount must be -1 (forever) or a number of repeats")
            if self.repeat_count != 0 and self.repeat_interval <= 0:
                raise ScheduleError("a repeating simple schedule needs a repeatInterval > 0")
        service = config.get("invokeService")
        if not isinstance(service, str) or not service.strip():
            raise ScheduleError("Invalid scheduler configuration, the invokeService property needs to be set but "
                                "is empty.")
        self.invoke_service = service if "." in service else SERVICE_PREFIX + service
        self.invoke_context = config.get("invokeContext")
        self.invoke_log_level = config.get("invokeLogLevel") or "info"
        try:
            self.zone = Zone(config.get("timeZone") or None)
        except ValueError as exc:
            raise ScheduleError(str(exc)) from None
        self.start_time = self._time(config, "startTime")
        self.end_time = self._time(config, "endTime")

    def _time(self, config, key):
        text = config.get(key)
        if text in (None, ""):
            return None
        try:
            return self.zone.epoch(datetime.strptime(text, TIME_FORMAT))
        except (TypeError, ValueError):
            raise ScheduleError(f"{key} must be a date and time as yyyy-MM-ddTHH:mm:ss, got {text!r}") from None

    def as_json(self):
        """What IDM's ``ScheduleConfig.getConfig()`` returns (``scheduler/job`` answers)."""
        def fmt(epoch):
            return None if epoch is None else self.zone.wall(epoch).strftime(TIME_FORMAT)
        return {"enabled": self.enabled, "persisted": self.persisted, "misfirePolicy": self.misfire_policy,
                "schedule": self.schedule, "type": self.type, "invokeService": self.invoke_service,
                "invokeContext": self.invoke_context, "invokeLogLevel": self.invoke_log_level,
                "timeZone": self.zone.name, "startTime": fmt(self.start_time), "endTime": fmt(self.end_time),
                "concurrentExecution": self.concurrent_execution}

    # trigger -------------------------------------------------------------------------------------------------------
    def first_fire(self, now):
        """First fire time (epoch) of a new trigger scheduled at ``now``, or None."""
        if self.type == "simple":
            first = self.start_time if self.start_time is not None else now + SIMPLE_FIRST_DELAY
            return self._bounded(first)
        # Quartz: the first match after startTime - 1 s; a start in the past is a misfire the dispatcher handles.
        return self.fire_after(self.start_time - 1 if self.start_time is not None else now)

    def fire_after(self, epoch, fired=None):
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
        wall = self.cron.next_after(self.zone.wall(epoch))
        return self._bounded(None if wall is None else self.zone.epoch(wall))

    def _bounded(self, epoch):
        if epoch is None or (self.end_time is not None and epoch > self.end_time):
            return None
        return epoch


# --- the scheduler ----------------------------------------------------------------------------------------------------

@dataclass
class Fire:
    scheduled: float
    started: float
    ended: float = None
    outcome: str = "running"     # running | SUCCESS | FAILED
    detail: object = None        # recon id, script result or the error text


@dataclass
class Job:
    name: str
    raw: dict
    config: ScheduleConfig
    next_fire: float = None
    previous_fire: float = None
    fired: int = 0
    running: int = 0
    history: list = field(default_factory=list)


class SchedulerService:
    """Keeps one Job per valid ``schedule/<name>`` and fires them from one dispatcher thread."""

    def __init__(self, server, clock=time.time, misfire_threshold=MISFIRE_THRESHOLD, thread_count=THREAD_COUNT):
        self.server = server
        self.clock = clock
        self.misfire_threshold = misfire_threshold
        self.thread_count = thread_count
        self.errors = {}        # name -> why the object is not scheduled
        self._jobs = {}
        self._cond = threading.Condition()
        self._paused = False
        self._stopping = False
        self._active = 0
        self._pending = {}      # trigger rows to write: name -> (config, next_fire, previous_fire) or None (delete)
        server.store.ensure_schema(SCHEMA)
        self._thread = None

    # lifecycle ---------------------------------------------------------------------------------------------------
    def start(self):
        stored = {name: (config, next_fire, previous)
                  for name, config, next_fire, previous in self.server.store.query(
                      "SELECT name, config, next_fire, previous_fire FROM scheduler_triggers")}
        listing = self.server.config.list()["configurations"]
        names = [c["_id"].split("/", 1)[1] for c in listing if c["_id"].startswith(CONFIG_PREFIX + "/")]
        for name in names:
            self._schedule(name, self.server.config.get(f"{CONFIG_PREFIX}/{name}"), stored.get(name))
        with self._cond:
            for name in set(stored) - set(names):
                self._forget(name)
        self.server.config.subscribe(CONFIG_PREFIX, self._on_config)
        self._thread = threading.Thread(target=self._dispatch, name="idm-scheduler", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stops firing. Runs in progress are not waited for: the recon service cancels them when it closes."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # config -> jobs ----------------------------------------------------------------------------------------------
    def _on_config(self, config_id, value, _wait):
        name = config_id.split("/", 1)[1] if "/" in config_id else None
        if not name:
            return
        if value is None:
            with self._cond:
                self._jobs.pop(name, None)
                self.errors.pop(name, None)
                self._forget(name)
                self._cond.notify_all()
            return
        self._schedule(name, value, None)

    def _schedule(self, name, raw, stored):
        raw = {k: v for k, v in (raw or {}).items() if k not in ("_id", "_rev")}
        with self._cond:
            self._jobs.pop(name, None)
            self._cond.notify_all()
            try:
                config = ScheduleConfig(raw)
            except ScheduleError as exc:
                self.errors[name] = str(exc)
                self._forget(name)
                log.error("schedule %s is not scheduled: %s", name, exc)
                return
            self.errors.pop(name, None)
            job = Job(name, raw, config)
            if config.enabled:
                same = stored is not None and config.persisted and json.loads(stored[0]) == raw
                if same:
                    job.next_fire, job.previous_fire = stored[1], stored[2]
                else:
                    job.next_fire = config.first_fire(self.clock())
                    if job.next_fire is None:
                        # Quartz refuses a trigger that will never fire; IDM logs the failure.
                        self.errors[name] = "Based on configured schedule, the given trigger will never fire."
                        log.error("schedule %s is not scheduled: %s", name, self.errors[name])
                        self._forget(name)
                        return
            self._jobs[name] = job
            if config.persisted:
                self._save(job)
            else:
                self._forget(name)      # a schedule that stopped being persisted leaves no stale trigger
        log.info("Job %s scheduled with schedule %s, timezone %s, enabled %s", name, config.schedule,
                 config.zone.name, config.enabled)

    # Trigger rows are written by the dispatcher thread only, outside the lock: a config write made inside a
    # store batch (which holds the store's lock) then never waits for a scheduler that waits for the store.
    def _save(self, job):
        """Queue the trigger row of a persisted job (lock held)."""
        if job.config.persisted:
            self._pending[job.name] = (json.dumps(job.raw), job.next_fire, job.previous_fire)

    def _forget(self, name):
        """Queue the removal of a trigger row (lock held)."""
        self._pending[name] = None

    def _flush(self):
        with self._cond:
            pending, self._pending = self._pending, {}
        for name, row in pending.items():
            try:
                if row is None:
                    self.server.store.execute("DELETE FROM scheduler_triggers WHERE name = ?", (name,))
                else:
                    self.server.store.execute(
                        "INSERT OR REPLACE INTO scheduler_triggers (name, config, next_fire, previous_fire) "
                        "VALUES (?, ?, ?, ?)", (name,) + row)
            except Exception:  # pylint: disable=broad-except
                log.debug("could not write the trigger of %s", name, exc_info=True)

    # dispatching ---------------------------------------------------------------------------------------------------
    def _blocked(self, job):
        return job.running > 0 and not job.config.concurrent_execution

    def _dispatch(self):
        while True:
            self._flush()
            starts = []
            with self._cond:
                if self._stopping:
                    break
                now = self.clock()
                for job in sorted(self._jobs.values(), key=lambda j: j.next_fire or 0):
                    if job.next_fire is None or job.next_fire > now or self._paused or self._blocked(job):
                        continue
                    if self._active >= self.thread_count:
                        break
                    record = self._fire_due(job, now)
                    if record is not None:
                        starts.append((job, record))
                if not starts and not self._pending:
                    waits = [j.next_fire - now for j in self._jobs.values()
                             if j.next_fire is not None and not self._blocked(j)]
                    timeout = 1.0 if self._paused or not waits else min(max(min(waits), 0.0), 1.0)
                    if timeout > 0:
                        self._cond.wait(timeout)
            for job, record in starts:
                threading.Thread(target=self._run, args=(job, record), name=f"schedule-{job.name}",
                                 daemon=True).start()
        self._flush()

    def _fire_due(self, job, now):
        """Quartz's decision for a trigger whose fire time has come (lock held). Returns the Fire to run, or None
        when the misfire policy skips it; the caller starts the run."""
        scheduled = job.next_fire
        late = now - scheduled
        misfired = late > self.misfire_threshold
        config = job.config
        if misfired and config.type == "cron" and config.misfire_policy == DO_NOTHING:
            job.next_fire = config.fire_after(now)
            log.info("schedule %s misfired (%.0f s late): skipped (doNothing)", job.name, late)
            self._save(job)
            return None
        job.fired += 1
        if misfired or (config.type == "simple" and late > 0):
            job.next_fire = config.fire_after(now, job.fired)        # fire once now, then the normal schedule
        else:
            job.next_fire = config.fire_after(scheduled, job.fired)
        job.previous_fire = now
        job.running += 1
        self._active += 1
        record = Fire(scheduled=scheduled, started=now)
        job.history.append(record)
        del job.history[:-HISTORY]
        self._save(job)
        return record

    def _run(self, job, record):
        try:
            record.detail = self._invoke(job.config)
            record.outcome = "SUCCESS"
        except Exception as exc:  # pylint: disable=broad-except
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

    def _invoke(self, config):
        service = config.invoke_service[len(SERVICE_PREFIX):] if config.invoke_service.startswith(SERVICE_PREFIX) \
            else config.invoke_service
        context = config.invoke_context if isinstance(config.invoke_context, dict) else {}
        if service == "sync":
            action = context.get("action")
            if action not in ("reconcile", "recon", "reconById"):
                raise IdmError(400, f"Action '{action}' configured in schedule not supported.")
            mapping = context.get("mapping")
            if not isinstance(mapping, str):
                raise IdmError(501, "The sandbox runs scheduled recons of named mappings only (no inline mapping)")
            params = {k: v for k, v in context.items() if isinstance(v, str) and k != "action"}
            params.update(mapping=mapping, waitForCompletion="true")
            started = self.server.router.action("recon", "reconById" if action == "reconById" else "recon",
                                                params)
            return started.get("_id")
        if service == "script":
            script = context.get("script")
            return self.server.scripts.evaluate(script, {"input": context.get("input")})
        raise IdmError(501, f"The sandbox scheduler does not run invokeService '{config.invoke_service}'")

    # reading -------------------------------------------------------------------------------------------------------
    def job(self, name):
        with self._cond:
            return self._jobs.get(name)

    def history(self, name):
        """Fires of a job so far (newest last), for tests: list of Fire."""
        with self._cond:
            job = self._jobs.get(name)
            return list(job.history) if job else []

    def describe(self, job):
        out = {"_id": job.name}
        out.update(job.config.as_json())
        out["nextRunDate"] = iso_utc(job.next_fire)
        return out

    # REST ----------------------------------------------------------------------------------------------------------
    def handle(self, request):
        path = [p for p in request.path if p]
        if not path:
            if request.method != "POST":
                raise IdmError(405, f"Method {request.method} not allowed on scheduler")
            if request.action != "validateQuartzCronExpression":
                raise IdmError(400, f"Unknown action: {request.action}")
            body = request.body if isinstance(request.body, dict) else {}
            expression = body.get("cronExpression")
            if not isinstance(expression, str):
                raise IdmError(400, "Error performing action validateQuartzCronExpression: cronExpression missing")
            return Response(200, {"valid": is_valid_cron(expression)})
        if path[0] != "job" or len(path) > 2:
            raise IdmError(404, "Not Found")
        if len(path) == 2:
            if request.method != "GET":
                raise IdmError(501, "The sandbox manages schedules through config/schedule/<name> only")
            job = self.job(path[1])
            if job is None:
                raise IdmError(404, f"Schedule does not exist: {path[1]}")
            return Response(200, self.describe(job))
        if request.method == "GET":
            return self._query(request)
        if request.method == "POST":
            return self._job_action(request.action)
        raise IdmError(501, "The sandbox manages schedules through config/schedule/<name> only")

    def _query(self, request):
        query_id = request.query.get("_queryId")
        if query_id is not None and query_id != "query-all-ids":
            raise IdmError(400, "only query-id of 'query-all-ids' is supported.")
        with self._cond:
            jobs = sorted(self._jobs.values(), key=lambda j: j.name)
            if query_id:
                items = [{"_id": j.name} for j in jobs]
            else:
                node = queryfilter.parse(request.query.get("_queryFilter", "true"))
                items = [d for d in (self.describe(j) for j in jobs) if queryfilter.matches(node, d)]
        return Response(200, page(items, None, request.query.get("_pagedResultsCookie")))

    def _job_action(self, action):
        with self._cond:
            if action == "listCurrentlyExecutingJobs":
                return Response(200, [j.config.as_json() for j in self._jobs.values() if j.running])
            if action in ("pauseJobs", "resumeJobs"):
                self._paused = action == "pauseJobs"
                self._cond.notify_all()
                return Response(200, {"success": True})
        if action == "create":
            raise IdmError(501, "The sandbox manages schedules through config/schedule/<name> only")
        raise IdmError(400, f"Unknown action: {action}")


def install(server):
    service = SchedulerService(server).start()
    server.register_endpoint("scheduler", service.handle)
    return service
