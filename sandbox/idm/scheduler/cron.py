"""Quartz cron expressions: parsing (with a message that says which field is wrong and why) and fire times.

The syntax is Quartz's ``CronExpression``, all of it (the ``CronTrigger`` tutorial that IDM's docs point to):
6 or 7 fields ``seconds minutes hours day-of-month month day-of-week [year]``; ``*``, lists ``,``, ranges ``-``
(also wrapping, ``22-2``), increments ``/`` (``*/2``, ``5/15``, ``10-40/10``); months ``1-12`` or ``JAN-DEC``;
days of week ``1-7`` (1 = Sunday) or ``SUN-SAT``; years 1970-2099; exactly one of day-of-month and day-of-week is
``?``; day-of-month ``L``, ``L-n``, ``LW``, ``nW``; day-of-week ``L`` (Saturday), ``nL``, ``n#k``. Case does not
matter. ``L``/``W``/``#`` items stand alone in their field (as Quartz requires). An expression that never fires
(``0 0 0 30 2 ?``) parses; the scheduler refuses to schedule it, as Quartz does.

Fire times are wall times (naive datetimes); ``sandbox.idm.scheduler.schedule`` turns them into instants in a
schedule's time zone.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta

MONTH_NAMES = {
    name: i + 1
    for i, name in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"))
}
DAY_NAMES = {name: i + 1 for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
# name, lowest value, highest value, value names
FIELDS: tuple[tuple[str, int, int, Mapping[str, int] | None], ...] = (
    ("second", 0, 59, None),
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day-of-month", 1, 31, None),
    ("month", 1, 12, MONTH_NAMES),
    ("day-of-week", 1, 7, DAY_NAMES),
    ("year", 1970, 2099, None),
)
DAY_OF_MONTH, DAY_OF_WEEK = 3, 5
LAST_YEAR = 2099


class CronError(ValueError):
    """An expression Quartz would not parse; the text says which field and why."""


def _number(text: str, name: str, low: int, high: int, names: Mapping[str, int] | None) -> int:
    if names and text in names:
        return names[text]
    if not text.isdigit():
        raise CronError(f"{name}: '{text}' is not a number{' or a name' if names else ''}")
    value = int(text)
    if not low <= value <= high:
        raise CronError(f"{name} values must be between {low} and {high} (got {value})")
    return value


def _step(step_text: str, name: str, high: int) -> int:
    if not step_text.isdigit() or int(step_text) == 0:
        raise CronError(f"{name}: the increment after '/' must be a positive number (got '{step_text}')")
    step = int(step_text)
    if name != "year" and step > high:
        raise CronError(f"{name}: increment {step} is larger than {high}")
    return step


def _parse_values(text: str, name: str, low: int, high: int, names: Mapping[str, int] | None) -> frozenset[int]:
    """The set of values of a field without special characters: ``*``, lists, ranges, increments."""
    values = set()
    for item in text.split(","):
        if item == "":
            raise CronError(f"{name}: empty list item in '{text}'")
        base, slash, step_text = item.partition("/")
        step = _step(step_text, name, high) if slash else 1
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _number(first, name, low, high, names), _number(last, name, low, high, names)
        else:
            start = _number(base, name, low, high, names)
            end = high if slash else start
        span = (end - start) % (high - low + 1)  # a range may wrap around (22-2, FRI-MON)
        for offset in range(0, span + 1, step):
            values.add(low + (start - low + offset) % (high - low + 1))
    return frozenset(values)


@dataclass(frozen=True)
class DaySpec:
    """Day-of-month or day-of-week rule. ``kind``: values | last | last_weekday | nearest_weekday | last_of | nth."""

    kind: str
    values: frozenset[int] = frozenset()
    number: int = 0  # L-n offset, nW day, nL / n#k weekday
    nth: int = 0  # k of n#k


def _parse_day_of_month(text: str) -> DaySpec:
    if "L" not in text and "W" not in text:
        return DaySpec("values", _parse_values(text, *FIELDS[DAY_OF_MONTH]))
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


def _parse_day_of_week(text: str) -> DaySpec:
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
    return DaySpec("values", _parse_values(text, *FIELDS[DAY_OF_WEEK]))


def _split_fields(text: object) -> list[str]:
    """The fields of an expression, upper-cased, after the checks that concern the expression as a whole."""
    if not isinstance(text, str) or not text.strip():
        raise CronError("the cron expression is empty")
    fields = text.upper().split()
    if len(fields) < 6:
        raise CronError(
            f"a Quartz cron expression has 6 or 7 fields (seconds first), got {len(fields)}: "
            "'seconds minutes hours day-of-month month day-of-week [year]'"
        )
    if len(fields) > 7:
        raise CronError(f"a Quartz cron expression has 6 or 7 fields, got {len(fields)}")
    day_fields = (DAY_OF_MONTH, DAY_OF_WEEK)
    for index, value in enumerate(fields):
        name = FIELDS[index][0]
        if "?" in value and (index not in day_fields or value != "?"):
            raise CronError(f"'?' can only be the whole day-of-month or day-of-week field (got '{value}' as {name})")
        if index not in day_fields and re.search(r"[LW#]", re.sub(r"[A-Z]{3}", "", value)):
            raise CronError(f"{name}: 'L', 'W' and '#' are only allowed in day-of-month or day-of-week")
    if (fields[DAY_OF_MONTH] == "?") == (fields[DAY_OF_WEEK] == "?"):
        raise CronError(
            "exactly one of day-of-month and day-of-week must be '?' (Quartz does not support both, nor neither)"
        )
    return fields


def _quartz_weekday(year: int, month: int, day: int) -> int:
    """1 = Sunday ... 7 = Saturday."""
    return (calendar.weekday(year, month, day) + 1) % 7 + 1


def _days_of_month(spec: DaySpec, year: int, month: int, last: int) -> list[int]:
    if spec.kind == "values":
        return sorted(d for d in spec.values if d <= last)
    if spec.kind == "last":
        return [last - spec.number] if last - spec.number >= 1 else []
    if spec.kind == "last_weekday":
        weekday = _quartz_weekday(year, month, last)
        return [last - {7: 1, 1: 2}.get(weekday, 0)]
    day = spec.number  # nearest_weekday: never leaves the month
    if day > last:
        return []
    weekday = _quartz_weekday(year, month, day)
    if weekday == 7:
        day = day - 1 if day > 1 else day + 2
    elif weekday == 1:
        day = day + 1 if day < last else day - 2
    return [day]


def _days_of_week(spec: DaySpec, year: int, month: int, last: int) -> list[int]:
    if spec.kind == "values":
        return [d for d in range(1, last + 1) if _quartz_weekday(year, month, d) in spec.values]
    matching = [d for d in range(1, last + 1) if _quartz_weekday(year, month, d) == spec.number]
    if spec.kind == "last_of":
        return matching[-1:]
    return matching[spec.nth - 1 : spec.nth]


class CronExpression:
    """A parsed Quartz cron expression; ``next_after(naive_datetime)`` gives the next fire time in wall time."""

    def __init__(self, text: str) -> None:
        fields = _split_fields(text)
        self.text = text
        self.seconds = sorted(_parse_values(fields[0], *FIELDS[0]))
        self.minutes = sorted(_parse_values(fields[1], *FIELDS[1]))
        self.hours = sorted(_parse_values(fields[2], *FIELDS[2]))
        self.day_of_month = None if fields[DAY_OF_MONTH] == "?" else _parse_day_of_month(fields[DAY_OF_MONTH])
        self.months = sorted(_parse_values(fields[4], *FIELDS[4]))
        self.day_of_week = None if fields[DAY_OF_WEEK] == "?" else _parse_day_of_week(fields[DAY_OF_WEEK])
        self.years = sorted(_parse_values(fields[6], *FIELDS[6])) if len(fields) == 7 else None

    def _days(self, year: int, month: int) -> list[int]:
        last = calendar.monthrange(year, month)[1]
        if self.day_of_month is not None:
            return _days_of_month(self.day_of_month, year, month, last)
        assert self.day_of_week is not None  # exactly one of the two is '?'
        return _days_of_week(self.day_of_week, year, month, last)

    def _first_time(self, not_before: time | None) -> tuple[int, int, int] | None:
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

    def next_after(self, after: datetime) -> datetime | None:
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


def is_valid_cron(text: str) -> bool:
    try:
        CronExpression(text)
    except CronError:
        return False
    return True
