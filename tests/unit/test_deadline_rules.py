"""Which replies meet a recipient's NĐ 30/2020 duties, and when a duty is late."""

from __future__ import annotations

import datetime as dt

import pytest

from core.workcalendar import WorkCalendar
from routing import deadlines as rules
from routing.deadlines import Reply

ICT = dt.timezone(dt.timedelta(hours=7))
CAL = WorkCalendar.of()
REACHED = dt.datetime(2026, 11, 25, 9, tzinfo=ICT)  # a Wednesday morning
EVENING = dt.datetime(2026, 11, 25, 17, tzinfo=ICT)


def t(hour: int, minute: int = 0, day: int = 25) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=ICT)


@pytest.mark.parametrize("code", ["01", "02", "03", "04", "05", "06"])
def test_any_status_01_to_06_confirms_receipt(code: str) -> None:
    duty = rules.receipt(CAL, REACHED, [Reply(t(10), code)])
    assert (duty.due_at, duty.met_at, duty.met_by) == (EVENING, t(10), f"status {code}")
    assert not duty.overdue(t(18)) and not duty.met_late


@pytest.mark.parametrize("code", ["13", "15", "16"])
def test_recall_statuses_confirm_nothing(code: str) -> None:
    duty = rules.receipt(CAL, REACHED, [Reply(t(10), code)])
    assert duty.met_at is None
    assert not duty.overdue(t(16, 59)) and duty.overdue(t(17)) and duty.overdue(t(9, day=26))


def test_the_earliest_confirmation_counts_and_a_late_one_is_recorded_as_late() -> None:
    replies = [Reply(t(11, day=26), "03"), Reply(t(10, day=26), "01")]
    duty = rules.receipt(CAL, REACHED, replies)
    assert duty.met_at == t(10, day=26) and duty.met_by == "status 01"
    assert duty.met_late and not duty.overdue(t(12, day=26))


def test_nothing_is_due_before_the_document_reaches_the_recipient() -> None:
    duty = rules.receipt(CAL, None, [])
    assert duty.due_at is None and not duty.overdue(t(9, day=30))
    assert rules.answer(CAL, None, dt.date(2026, 11, 26), []) == rules.Duty(
        rules.ANSWER, None)


@pytest.mark.parametrize(("code", "answers"), [
    ("06", True), ("02", True), ("01", False), ("03", False), ("04", False), ("05", False)])
def test_only_completed_or_rejected_answers(code: str, answers: bool) -> None:
    duty = rules.answer(CAL, REACHED, dt.date(2026, 11, 27), [Reply(t(10, day=26), code)])
    assert duty is not None and duty.due_at == t(17, day=27)
    assert (duty.met_at is not None) is answers
    assert duty.overdue(t(17, day=27)) is not answers


def test_an_answering_document_meets_both_duties() -> None:
    reply = Reply(t(15, day=26))
    receipt = rules.receipt(CAL, REACHED, [reply])
    answer = rules.answer(CAL, REACHED, dt.date(2026, 11, 27), [reply])
    assert answer is not None
    assert (receipt.met_by, answer.met_by) == ("document", "document")
    assert receipt.met_late and not answer.met_late


def test_a_document_without_a_due_date_has_no_answer_duty() -> None:
    assert rules.answer(CAL, REACHED, None, []) is None


@pytest.mark.parametrize(("text", "day"), [
    ("2026/11/27", dt.date(2026, 11, 27)),
    ("27/11/2026", dt.date(2026, 11, 27)),
    ("2026-11-27", dt.date(2026, 11, 27)),
    ("2026-11-27T17:00:00+07:00", dt.date(2026, 11, 27)),
    ("", None), ("   ", None), (None, None), ("31/04/2026", None), ("soon", None), (5, None),
])
def test_due_dates_are_read_in_every_form_the_hub_accepts(text: object,
                                                          day: dt.date | None) -> None:
    assert rules.due_date(text) == day
