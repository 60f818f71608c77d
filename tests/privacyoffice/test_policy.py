"""Pure rules of the privacy office: erasure exceptions, deadlines, the canary's validity."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quietshelf.privacyoffice import policy


def _exc(**kw):
    base = dict(
        open_loans=0,
        unresolved_fees=0,
        unresolved_minor=0,
        money_text="0.00 NOK",
        open_holds=0,
        settled_fees=0,
        fee_retention_days=1095,
        fee_rule="wait",
    )
    base.update(kw)
    return policy.erasure_exceptions(**base)


def test_nothing_to_keep_means_no_exception_prv_dsr_4():
    assert _exc() == []


def test_loan_out_blocks_and_says_so_in_plain_words_prv_dsr_4():
    found = _exc(open_loans=2)
    assert [e.code for e in found] == ["open_loans"] and found[0].blocking
    assert "2 items are still on loan" in found[0].message


def test_unresolved_fees_wait_or_are_kept_per_setting_prv_dsr_4():
    wait = _exc(unresolved_fees=1, unresolved_minor=2500, money_text="25.00 NOK")
    keep = _exc(unresolved_fees=1, unresolved_minor=2500, money_text="25.00 NOK", fee_rule="keep")
    assert wait[0].blocking and "waits" in wait[0].message and "25.00 NOK" in wait[0].message
    assert not keep[0].blocking and "financial record" in keep[0].message


def test_blocking_exceptions_come_first_prv_dsr_4():
    found = _exc(open_holds=1, settled_fees=3, open_loans=1)
    assert found[0].blocking and all(not e.blocking for e in found[1:])
    assert {e.code for e in found} == {"open_loans", "open_holds", "financial_records"}
    assert "1095 days" in next(e.message for e in found if e.code == "financial_records")


@pytest.mark.parametrize("days", [0, -1, 367, 3650, "x", None])
def test_canary_validity_out_of_range_is_refused_prv_gov_2(days):
    assert policy.canary_validity_error(days)


@given(st.integers(min_value=1, max_value=366))
def test_canary_validity_in_range_is_accepted_prv_gov_2(days):
    assert policy.canary_validity_error(days) is None


def test_canary_goes_stale_the_day_after_its_last_valid_day_prv_gov_2():
    last = dt.date(2026, 3, 31)
    assert not policy.canary_stale(valid_until=last, today=last)
    assert policy.canary_stale(valid_until=last, today=last + dt.timedelta(days=1))


@given(st.dates(), st.integers(min_value=1, max_value=90))
def test_deadline_and_urgency_prv_dsr_6(received, days):
    due = policy.case_due_on(received, deadline_days=days)
    assert (due - received).days == days
    assert policy.case_urgency(due_on=due, today=received, remind_days=0) in {"ok", "soon"}
    if due < dt.date.max:
        after = due + dt.timedelta(days=1)
        assert policy.case_urgency(due_on=due, today=after, remind_days=7) == "overdue"


def test_one_reminder_a_day_only_when_due_soon_or_overdue_prv_dsr_6():
    today = dt.date(2026, 5, 10)
    due = dt.date(2026, 5, 12)
    assert policy.remind_today(due_on=due, today=today, remind_days=7, last_reminded_on=None)
    assert not policy.remind_today(due_on=due, today=today, remind_days=7, last_reminded_on=today)
    far = dt.date(2026, 6, 30)
    assert not policy.remind_today(due_on=far, today=today, remind_days=7, last_reminded_on=None)
