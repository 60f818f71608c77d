"""CIR-5: when scheduled jobs are due. Pure tests of jobs.schedule."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quietshelf.jobs.schedule import Schedule, ScheduleError


def wall(*parts) -> dt.datetime:
    """A library wall-clock time: schedules work on naive local times."""
    return dt.datetime(*parts, tzinfo=dt.UTC).replace(tzinfo=None)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("daily 01:10", Schedule("daily", hour=1, minute=10)),
        ("Daily at 23:05", Schedule("daily", hour=23, minute=5)),
        ("hourly :05", Schedule("hourly", minute=5)),
        ("hourly 30", Schedule("hourly", minute=30)),
        ("every minute", Schedule("minutes", every=1)),
        ("every 5 minutes", Schedule("minutes", every=5)),
        ("off", Schedule("off")),
    ],
)
def test_cir5_schedule_parses_operator_text(text, expected):
    assert Schedule.parse(text) == expected
    assert Schedule.parse(str(expected)) == expected


@pytest.mark.parametrize(
    "text", ["daily 24:00", "daily 1:60", "hourly :61", "every 0 minutes", "weekly", "", "cron"]
)
def test_cir5_bad_schedule_text_is_refused_with_the_forms_it_accepts(text):
    with pytest.raises(ScheduleError):
        Schedule.parse(text)


def test_cir5_daily_slot_is_today_after_the_hour_and_yesterday_before():
    fines = Schedule.parse("daily 01:00")
    after = fines.latest(wall(2026, 11, 23, 1, 0, 30))
    before = fines.latest(wall(2026, 11, 23, 0, 59))
    assert (after.key, after.day) == ("2026-11-23", dt.date(2026, 11, 23))
    assert (before.key, before.day) == ("2026-11-22", dt.date(2026, 11, 22))
    assert fines.next_start(wall(2026, 11, 23, 0, 59)) == wall(2026, 11, 23, 1, 0)


def test_cir5_minute_and_hour_slots():
    every5 = Schedule.parse("every 5 minutes")
    assert every5.latest(wall(2026, 11, 23, 14, 9, 59)).key == "2026-11-23T14:05"
    assert every5.next_start(wall(2026, 11, 23, 23, 57)) == wall(2026, 11, 24)
    hourly = Schedule.parse("hourly :00")
    assert hourly.latest(wall(2026, 11, 23, 0, 10)).key == "2026-11-23T00"
    assert Schedule.parse("off").latest(wall(2026, 11, 23)) is None


@given(
    st.datetimes(min_value=wall(2000, 1, 1), max_value=wall(2100, 1, 1)),
    st.sampled_from(["daily 01:10", "hourly :30", "every minute", "every 7 minutes"]),
)
def test_cir5_latest_slot_has_begun_and_the_next_has_not(now, text):
    """The slot a worker runs at `now` has started, and a worker down for a while
    catches up with exactly one (the latest) slot."""
    schedule = Schedule.parse(text)
    slot = schedule.latest(now)
    assert slot.starts <= now
    assert schedule.next_start(now) > now.replace(second=0, microsecond=0)
    assert schedule.latest(slot.starts) == slot


def test_cir5_the_hour_the_clocks_go_back_has_its_own_minute_slots():
    """Oslo, 25 October 2026: 02:05 happens twice; notices must go out both times."""
    oslo = ZoneInfo("Europe/Oslo")
    first = dt.datetime(2026, 10, 25, 2, 5, tzinfo=oslo, fold=0)
    second = dt.datetime(2026, 10, 25, 2, 5, tzinfo=oslo, fold=1)
    every = Schedule.parse("every minute")
    assert every.latest(first).key == "2026-10-25T02:05+0200"
    assert every.latest(second).key == "2026-10-25T02:05+0100"
    daily = Schedule.parse("daily 02:30")
    assert daily.latest(first).key == daily.latest(second).key == "2026-10-24"
