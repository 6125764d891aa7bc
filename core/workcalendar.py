"""Working days and hours of a Vietnamese office: when a same-day duty or a due day ends.

Pure arithmetic (no clock, no I/O): the deadlines of NĐ 30/2020 are computed here and the
scanner (hub/deadlines.py) only compares them with its clock. Rules:

- a working day is a configured weekday (Monday to Friday by default) that is not a holiday,
  or a weekend day declared a working day (the make-up days, "làm bù", that pay for a bridged
  holiday);
- a working day ends at the configured closing time (17:00 by default);
- what must be done "the same working day" (confirming receipt) is due when the day it
  arrived ends; arriving after closing time or on a day off, it is due when the next working
  day ends (before opening time on a working day it is still due that day);
- what is due on a named day (a document's DueDate) is due when that day's working hours
  end; a named day off moves it to the end of the next working day (Bộ luật Dân sự 2015,
  article 148: a term ending on a day off ends with the next working day).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

VIETNAM = "Asia/Ho_Chi_Minh"
# Vietnam has kept UTC+7 without daylight saving since 1975: exact where tzdata is missing
_VIETNAM_FIXED = dt.timezone(dt.timedelta(hours=7), "ICT")
# no configured calendar has a year without a working day; a longer search is a mistake
_SEARCH_DAYS = 366


def zone_named(name: str) -> dt.tzinfo:
    """The time zone called `name` (IANA). Raises ValueError for a name that is not one.

    Asia/Ho_Chi_Minh works also where the system has no time zone database.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        if name == VIETNAM:
            return _VIETNAM_FIXED
        raise ValueError(f"{name!r} is not a known time zone (IANA name, e.g. {VIETNAM})"
                         ) from exc


@dataclass(frozen=True)
class WorkCalendar:
    """An office's working days and hours in its own time zone.

    `weekdays` are ISO numbers (Monday 1 .. Sunday 7). Raises ValueError when opening is not
    before closing or a weekday is not 1-7.
    """

    zone: dt.tzinfo = field(default_factory=lambda: zone_named(VIETNAM))
    opens: dt.time = dt.time(7, 30)
    closes: dt.time = dt.time(17, 0)
    weekdays: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    holidays: frozenset[dt.date] = frozenset()
    extra_working_days: frozenset[dt.date] = frozenset()

    def __post_init__(self) -> None:
        if not self.opens < self.closes:
            raise ValueError(f"working hours must open before they close "
                             f"({self.opens:%H:%M} to {self.closes:%H:%M})")
        if not self.weekdays <= set(range(1, 8)):
            raise ValueError(f"weekdays are 1 (Monday) to 7 (Sunday), not "
                             f"{sorted(self.weekdays - set(range(1, 8)))}")

    @classmethod
    def of(cls, *, timezone: str = VIETNAM, opens: dt.time = dt.time(7, 30),
           closes: dt.time = dt.time(17, 0), weekdays: Iterable[int] = (1, 2, 3, 4, 5),
           holidays: Iterable[dt.date] = (),
           extra_working_days: Iterable[dt.date] = ()) -> WorkCalendar:
        """A calendar from plain values (settings). Raises ValueError as the constructor."""
        return cls(zone_named(timezone), opens, closes, frozenset(weekdays),
                   frozenset(holidays), frozenset(extra_working_days))

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.extra_working_days:
            return True
        return day.isoweekday() in self.weekdays and day not in self.holidays

    def next_working_day(self, day: dt.date) -> dt.date:
        """The first working day after `day`. Raises ValueError when there is none within a
        year (a calendar with no weekdays and no extra working days)."""
        for n in range(1, _SEARCH_DAYS + 1):
            candidate = day + dt.timedelta(days=n)
            if self.is_working_day(candidate):
                return candidate
        raise ValueError(f"no working day within {_SEARCH_DAYS} days after {day}")

    def close_of(self, day: dt.date) -> dt.datetime:
        """When the working hours of `day` end, as an aware moment."""
        return dt.datetime.combine(day, self.closes, tzinfo=self.zone)

    def local(self, moment: dt.datetime) -> dt.datetime:
        """`moment` in the calendar's zone; a naive moment is taken as UTC."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(self.zone)

    def same_day_due(self, arrived: dt.datetime) -> dt.datetime:
        """When something that arrived at `arrived` must be done "the same working day".

        Raises ValueError as next_working_day.
        """
        here = self.local(arrived)
        day = here.date()
        if self.is_working_day(day) and here.time() < self.closes:
            return self.close_of(day)
        return self.close_of(self.next_working_day(day))

    def day_due(self, day: dt.date) -> dt.datetime:
        """When something due on `day` is late: the end of that working day, or of the next
        working day when `day` is a day off. Raises ValueError as next_working_day."""
        return self.close_of(day if self.is_working_day(day) else self.next_working_day(day))
