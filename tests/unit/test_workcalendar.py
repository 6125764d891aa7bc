"""The working calendar of NĐ 30/2020 deadlines: same-day receipt and due days, in Huế's
time, across evenings, weekends, Tết and make-up working Saturdays."""

from __future__ import annotations

import datetime as dt

import pytest

from core import workcalendar
from core.workcalendar import WorkCalendar, zone_named

ICT = dt.timezone(dt.timedelta(hours=7))
# Tết Bính Ngọ 2026: Monday 16 to Friday 20 February off, with the weekends around them
TET_2026 = [dt.date(2026, 2, 16) + dt.timedelta(days=n) for n in range(5)]


def at(y: int, m: int, d: int, hh: int = 9, mm: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=ICT)


def close(y: int, m: int, d: int) -> dt.datetime:
    return at(y, m, d, 17, 0)


CAL = WorkCalendar.of(holidays=TET_2026)


@pytest.mark.parametrize(("arrived", "due"), [
    (at(2026, 11, 25, 9), close(2026, 11, 25)),  # Wednesday morning: that evening
    (at(2026, 11, 25, 6, 45), close(2026, 11, 25)),  # before opening: still that day
    (at(2026, 11, 25, 16, 59), close(2026, 11, 25)),
    (at(2026, 11, 25, 17, 0), close(2026, 11, 26)),  # at closing: the next working day
    (at(2026, 11, 25, 22), close(2026, 11, 26)),
    (at(2026, 11, 27, 17, 30), close(2026, 11, 30)),  # Friday evening: Monday
    (at(2026, 11, 28, 10), close(2026, 11, 30)),  # Saturday: Monday
    (at(2026, 11, 29, 23, 59), close(2026, 11, 30)),  # Sunday night: Monday
])
def test_receipt_is_due_the_same_working_day_or_the_next(arrived: dt.datetime,
                                                         due: dt.datetime) -> None:
    assert CAL.same_day_due(arrived) == due


@pytest.mark.parametrize(("arrived", "due"), [
    (at(2026, 2, 13, 16), close(2026, 2, 13)),  # the last afternoon before Tết
    (at(2026, 2, 13, 17, 30), close(2026, 2, 23)),  # that evening: after the whole break
    (at(2026, 2, 14, 10), close(2026, 2, 23)),
    (at(2026, 2, 17, 10), close(2026, 2, 23)),  # the first day of the year
    (at(2026, 2, 20, 18), close(2026, 2, 23)),
    (at(2026, 2, 23, 8), close(2026, 2, 23)),  # back at work
])
def test_a_tet_holiday_run_and_its_weekends_are_skipped(arrived: dt.datetime,
                                                        due: dt.datetime) -> None:
    assert CAL.same_day_due(arrived) == due


def test_a_make_up_saturday_is_a_working_day() -> None:
    worked = WorkCalendar.of(holidays=[dt.date(2026, 4, 30), dt.date(2026, 5, 1)],
                             extra_working_days=[dt.date(2026, 5, 9)])
    assert worked.is_working_day(dt.date(2026, 5, 9))
    assert not worked.is_working_day(dt.date(2026, 5, 1))
    # arrives on the eve of 30/4 after hours: Monday 4 May; on Friday 8 May evening: Saturday
    assert worked.same_day_due(at(2026, 4, 29, 19)) == close(2026, 5, 4)
    assert worked.same_day_due(at(2026, 5, 8, 19)) == close(2026, 5, 9)
    assert worked.same_day_due(at(2026, 5, 9, 10)) == close(2026, 5, 9)


def test_moments_are_read_in_the_calendars_zone() -> None:
    # 02:00 UTC is 09:00 in Huế; 11:00 UTC on a Friday is 18:00 there, after hours
    utc = dt.UTC
    assert CAL.same_day_due(dt.datetime(2026, 11, 27, 2, tzinfo=utc)) == close(2026, 11, 27)
    assert CAL.same_day_due(dt.datetime(2026, 11, 27, 11, tzinfo=utc)) == close(2026, 11, 30)
    # the hub stores UTC; a moment read back without its zone is taken as UTC
    assert CAL.same_day_due(dt.datetime(2026, 11, 27, 11)) == close(2026, 11, 30)
    assert CAL.same_day_due(at(2026, 11, 25, 9)).utcoffset() == dt.timedelta(hours=7)


def test_working_hours_are_configurable() -> None:
    short = WorkCalendar.of(opens=dt.time(8), closes=dt.time(11, 30))
    assert short.same_day_due(at(2026, 11, 25, 11)) == at(2026, 11, 25, 11, 30)
    assert short.same_day_due(at(2026, 11, 25, 12)) == at(2026, 11, 26, 11, 30)


@pytest.mark.parametrize(("day", "due"), [
    (dt.date(2026, 11, 25), close(2026, 11, 25)),  # a working day: its end
    (dt.date(2026, 11, 28), close(2026, 11, 30)),  # a Saturday: the next working day
    (dt.date(2026, 2, 17), close(2026, 2, 23)),  # in Tết: after it
])
def test_a_due_day_ends_with_its_working_hours_or_moves_past_days_off(
        day: dt.date, due: dt.datetime) -> None:
    assert CAL.day_due(day) == due


def test_nonsense_calendars_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="open before they close"):
        WorkCalendar.of(opens=dt.time(17), closes=dt.time(7, 30))
    with pytest.raises(ValueError, match="1 .Monday. to 7"):
        WorkCalendar.of(weekdays=[0, 1])
    with pytest.raises(ValueError, match="not a known time zone"):
        WorkCalendar.of(timezone="Asia/Hue")
    never = WorkCalendar.of(weekdays=[])
    with pytest.raises(ValueError, match="no working day within"):
        never.same_day_due(at(2026, 11, 25))


def test_vietnam_needs_no_time_zone_database(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> dt.tzinfo:
        raise workcalendar.ZoneInfoNotFoundError(name)

    monkeypatch.setattr(workcalendar, "ZoneInfo", missing)
    zone = zone_named("Asia/Ho_Chi_Minh")
    assert dt.datetime(2026, 1, 1, tzinfo=zone).utcoffset() == dt.timedelta(hours=7)
    with pytest.raises(ValueError):
        zone_named("Europe/Paris")
