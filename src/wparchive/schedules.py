"""When a site's scheduled harvest is next due: the `schedule` of a site in sites.toml, a name
("hourly", "daily", "weekly", "monthly") or the five fields of a crontab line ("17 3 * * *"), in UTC.

A leaf module: the configuration validates schedules with it, the job queue asks it for the next time.
Small on purpose: numbers, `*`, ranges `a-b`, steps `*/n` and `a-b/n`, and lists `a,b`; no month or day
names. As in cron, when both the day of the month and the day of the week are restricted, either one
matching is enough.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

NAMED = {"hourly": "0 * * * *", "daily": "0 0 * * *", "weekly": "0 0 * * 0", "monthly": "0 0 1 * *"}
# name, lowest, highest; the day of the week counts 0 (Sunday) to 6, and 7 is Sunday too
_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of the month", 1, 31), ("month", 1, 12),
           ("day of the week", 0, 7))
# 29 February, when asked for alone, comes at most eight years apart (2096 → 2104)
_DAYS_AHEAD = 366 * 9


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: the minutes, hours, days, months and weekdays it names (in UTC)."""

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 is Sunday
    any_day: bool
    any_weekday: bool

    def next_after(self, moment: datetime) -> datetime:
        """The first minute after moment (a naive datetime in UTC) that the schedule names."""
        start = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.date()
        for _ in range(_DAYS_AHEAD):
            if self._names_day(day):
                today = day == start.date()
                for hour in self.hours:
                    if today and hour < start.hour:
                        continue
                    first = start.minute if today and hour == start.hour else 0
                    minute = next((m for m in self.minutes if m >= first), None)
                    if minute is not None:
                        return datetime.combine(day, time(hour, minute))
            day += timedelta(days=1)
        raise ValueError(f"the schedule {self.text!r} names no day")  # parse_schedule refuses such a schedule

    def _names_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        on_day = day.day in self.days
        on_weekday = (day.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return on_day and on_weekday
        return on_day or on_weekday


def parse_schedule(text: str) -> Schedule:
    """The Schedule that text names, or ValueError saying what is wrong with it."""
    spelled = NAMED.get(text.strip().lower(), text)
    fields = spelled.split()
    if len(fields) != 5:
        raise ValueError(f"schedule {text!r} is neither {', '.join(NAMED)} nor five fields "
                         "(minute hour day-of-month month day-of-week, in UTC), such as \"17 3 * * *\"")
    values = [_field(value, name, low, high) for value, (name, low, high) in zip(fields, _FIELDS, strict=True)]
    weekdays = frozenset(day % 7 for day in values[4])
    schedule = Schedule(text=text, minutes=tuple(sorted(values[0])), hours=tuple(sorted(values[1])),
                        days=frozenset(values[2]), months=frozenset(values[3]), weekdays=weekdays,
                        any_day=fields[2] == "*", any_weekday=fields[4] == "*")
    if schedule.any_weekday and not any(day <= calendar.monthrange(2024, month)[1]  # 2024: a leap year
                                        for month in schedule.months for day in schedule.days):
        raise ValueError(f"schedule {text!r} names no day that exists (such as 31 February)")
    return schedule


def _field(value: str, name: str, low: int, high: int) -> set[int]:
    """The numbers one field names."""
    numbers: set[int] = set()
    for part in value.split(","):
        span, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if span == "*":
                first, last = low, high
            else:
                first_text, dash, last_text = span.partition("-")
                first = int(first_text)
                last = int(last_text) if dash else (high if step_text else first)
        except ValueError:
            raise ValueError(f"the {name} field {value!r} is not a number, *, a range a-b, a step */n or a list "
                             "of these") from None
        if step < 1 or not low <= first <= last <= high:
            raise ValueError(f"the {name} field {value!r} is out of range: it counts {low} to {high}")
        numbers.update(range(first, last + 1, step))
    return numbers
