"""Pure rules: the loan-rule matrix, calendars, due dates, fines, amounts (CIR-1, CIR-4)."""

from __future__ import annotations

import datetime as dt

import pytest

from quietshelf.circulation import policy
from quietshelf.core.errors import InvalidInput

R = policy.RuleKey
TZ = dt.UTC
MON = dt.date(2026, 1, 5)  # a Monday


def test_rule_most_specific_wins_cir1():
    rules = [R(1, None, None, None), R(2, 7, None, None), R(3, 7, 3, None), R(4, None, 3, 9)]
    assert policy.select_rule(rules, patron_group_id=7, item_type_id=3, branch_id=1) == 3
    assert policy.select_rule(rules, patron_group_id=8, item_type_id=5, branch_id=1) == 1


def test_rule_ties_go_to_branch_then_item_type_then_group_cir1():
    rules = [R(1, 7, None, None), R(2, None, 3, None), R(3, None, None, 9)]
    assert policy.select_rule(rules, patron_group_id=7, item_type_id=3, branch_id=9) == 3
    assert policy.select_rule(rules, patron_group_id=7, item_type_id=3, branch_id=1) == 2
    rules2 = [R(1, 7, 3, None), R(2, 7, None, 9), R(3, None, 3, 9)]
    assert policy.select_rule(rules2, patron_group_id=7, item_type_id=3, branch_id=9) == 3


def test_explain_rule_says_why_cir1():
    choice = policy.explain_rule(
        [R(1, None, None, None), R(2, None, 3, None)],
        patron_group_id=1,
        item_type_id=3,
        branch_id=1,
    )
    assert choice.rule_id == 2
    assert "item type 3" in choice.why and "2 rule(s) matched" in choice.why


def test_no_matching_rule_is_a_clear_error_never_a_default_cir1():
    with pytest.raises(policy.NoLoanRule) as exc:
        policy.select_rule([R(1, 5, None, None)], patron_group_id=7, item_type_id=3, branch_id=1)
    assert exc.value.code == "no_loan_rule"
    with pytest.raises(policy.NoLoanRule):
        policy.select_rule([], patron_group_id=None, item_type_id=3, branch_id=1)


def test_calendar_single_days_ranges_and_weekly_closures():
    cal = policy.make_calendar(
        closed_weekdays=[7],
        closed_ranges=[(MON, MON), (dt.date(2026, 1, 7), dt.date(2026, 1, 9))],
    )
    assert not cal.is_open(MON)
    assert cal.is_open(MON + dt.timedelta(days=1))
    assert not cal.is_open(dt.date(2026, 1, 8))
    assert not cal.is_open(dt.date(2026, 1, 11))  # Sunday
    assert cal.next_open_day(dt.date(2026, 1, 7)) == dt.date(2026, 1, 10)
    assert cal.next_open_day(dt.date(2026, 1, 11)) == dt.date(2026, 1, 12)


def test_due_date_moves_to_next_open_day():
    cal = policy.make_calendar(closed_weekdays=[6, 7])
    start = dt.datetime(2026, 1, 5, 10, 0, tzinfo=TZ)  # Monday
    due = policy.due_at(start=start, period=5, unit="days", calendar=cal)  # Saturday -> Monday
    assert due.date() == dt.date(2026, 1, 12)
    assert (due.hour, due.minute) == (23, 59)


def test_calendar_with_every_day_closed_stops_with_clear_error():
    cal = policy.make_calendar(closed_weekdays=range(1, 8))
    with pytest.raises(policy.CalendarClosed) as exc:
        policy.due_at(start=dt.datetime(2026, 1, 5, tzinfo=TZ), period=1, unit="days", calendar=cal)
    assert exc.value.code == "calendar_all_closed"
    # closed "forever" by a huge range: the bounded search stops too
    cal2 = policy.make_calendar(closed_ranges=[(dt.date(2026, 1, 1), dt.date(2040, 1, 1))])
    with pytest.raises(policy.CalendarClosed):
        cal2.next_open_day(dt.date(2026, 1, 6))


def test_hourly_loan_respects_opening_hours():
    cal = policy.make_calendar(closed_weekdays=[7], opens=dt.time(9), closes=dt.time(20))
    start = dt.datetime(2026, 1, 5, 12, 0, tzinfo=TZ)
    assert policy.due_at(start=start, period=4, unit="hours", calendar=cal) == start.replace(
        hour=16
    )
    late = dt.datetime(2026, 1, 5, 18, 0, tzinfo=TZ)  # +4h = 22:00, after closing
    assert policy.due_at(start=late, period=4, unit="hours", calendar=cal) == dt.datetime(
        2026, 1, 6, 9, 0, tzinfo=TZ
    )
    saturday = dt.datetime(2026, 1, 10, 18, 0, tzinfo=TZ)  # -> Sunday closed -> Monday 09:00
    assert policy.due_at(start=saturday, period=4, unit="hours", calendar=cal) == dt.datetime(
        2026, 1, 12, 9, 0, tzinfo=TZ
    )


def test_hourly_loan_lasts_its_hours_on_the_nights_the_clocks_change_cir1():
    """CIR-1: a 3-hour loan lasts three hours, also when summer time starts (the clocks
    skip 02:00-03:00) or ends (they repeat 02:00-03:00) in the library's time zone."""
    from zoneinfo import ZoneInfo

    oslo = ZoneInfo("Europe/Oslo")
    cal = policy.make_calendar()
    for start in (
        dt.datetime(2026, 3, 29, 0, 30, tzinfo=oslo),  # summer time starts at 02:00
        dt.datetime(2026, 10, 25, 0, 30, tzinfo=oslo),  # summer time ends at 03:00
        dt.datetime(2026, 6, 10, 0, 30, tzinfo=oslo),  # an ordinary night
    ):
        due = policy.due_at(start=start, period=3, unit="hours", calendar=cal)
        # aware datetimes in one zone subtract as wall clocks: compare the instants
        assert due.astimezone(dt.UTC) - start.astimezone(dt.UTC) == dt.timedelta(hours=3), start
        assert due.tzinfo is oslo  # shown in the library's time, as before
    spring = policy.due_at(
        start=dt.datetime(2026, 3, 29, 0, 30, tzinfo=oslo), period=3, unit="hours", calendar=cal
    )
    assert (spring.hour, spring.minute) == (4, 30)  # 00:30 CET + 3 h = 04:30 CEST


def test_fine_counts_only_open_days_of_the_owning_branch():
    owning = policy.make_calendar(closed_weekdays=[6, 7])
    terms = policy.FineTerms(per_day_minor=100, open_days_only=True)
    # due Friday 9th, returned Monday 12th: Sat and Sun closed -> 1 day
    fine = policy.overdue_fine(
        due=dt.date(2026, 1, 9), returned=dt.date(2026, 1, 12), terms=terms, calendar=owning
    )
    assert fine == 100
    every_day = policy.FineTerms(per_day_minor=100, open_days_only=False)
    assert (
        policy.overdue_fine(
            due=dt.date(2026, 1, 9), returned=dt.date(2026, 1, 12), terms=every_day, calendar=owning
        )
        == 300
    )


def test_fine_grace_period_and_maximum():
    cal = policy.ALWAYS_OPEN
    terms = policy.FineTerms(per_day_minor=100, grace_days=2, max_minor=450)
    d = dt.date(2026, 1, 1)
    assert (
        policy.overdue_fine(due=d, returned=d + dt.timedelta(days=2), terms=terms, calendar=cal)
        == 0
    )
    assert (
        policy.overdue_fine(due=d, returned=d + dt.timedelta(days=3), terms=terms, calendar=cal)
        == 300
    )
    assert (
        policy.overdue_fine(due=d, returned=d + dt.timedelta(days=30), terms=terms, calendar=cal)
        == 450
    )
    assert policy.overdue_fine(due=d, returned=d, terms=terms, calendar=cal) == 0


@pytest.mark.parametrize("bad", [-5, 0, 1.5, "1.50", "abc", None, True, "", 10**13])
def test_amount_must_be_positive_whole_minor_units_cir4(bad):
    with pytest.raises(InvalidInput) as exc:
        policy.parse_amount(bad)
    assert exc.value.code == "invalid_amount"


def test_amount_accepts_integers_and_digit_strings_cir4():
    assert policy.parse_amount(2500) == 2500
    assert policy.parse_amount(" 300 ") == 300
    assert policy.format_minor(2550, "NOK") == "25.50 NOK"


def test_lost_fee_uses_price_or_default():
    assert policy.lost_fee(policy="price", item_price_minor=39900, default_minor=20000) == 39900
    assert policy.lost_fee(policy="price", item_price_minor=None, default_minor=20000) == 20000
    assert policy.lost_fee(policy="default", item_price_minor=39900, default_minor=20000) == 20000


def test_automatic_block_limits_pat3():
    assert policy.over_limits(
        balance_minor=20000, overdue_count=0, fine_limit_minor=20000, overdue_limit=10
    ) == ["debt"]
    assert policy.over_limits(
        balance_minor=0, overdue_count=10, fine_limit_minor=20000, overdue_limit=10
    ) == ["overdue"]
    assert (
        policy.over_limits(balance_minor=99, overdue_count=9, fine_limit_minor=0, overdue_limit=0)
        == []
    )


def test_renewal_refusal_reasons_cir2():
    assert policy.renewal_refusal(renewals_done=2, renewals_allowed=2, holds_by_others=0) == (
        "renewal_limit"
    )
    assert policy.renewal_refusal(renewals_done=0, renewals_allowed=2, holds_by_others=1) == (
        "hold_by_other"
    )
    assert policy.renewal_refusal(renewals_done=1, renewals_allowed=2, holds_by_others=0) == ""


@pytest.mark.parametrize(
    ("status", "circulates", "codes", "overridable"),
    [
        ("available", True, [], True),
        ("in_transit", True, ["item_in_transit"], False),
        ("lost", True, ["item_status"], True),
        ("damaged", True, ["item_status"], True),
        ("withdrawn", True, ["item_status"], False),
        ("available", False, ["not_circulating"], True),
        ("missing", False, ["item_status", "not_circulating"], True),
    ],
)
def test_item_refusals_by_status_and_item_type_cir1(status, circulates, codes, overridable):
    """CIR-1: what an item's status and type refuse, and whether a desk may override it."""
    found = policy.item_refusals(
        status, status_label=status.replace("_", " "), circulates=circulates
    )
    assert [r.code for r in found] == codes
    assert all(r.overridable for r in found) is overridable
    if codes and codes[0] == "item_status":
        assert found[0].params == {"status": status.replace("_", " "), "code": status}
