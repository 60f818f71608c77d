"""Desk pages for the rule matrix (CIR-1 explainer) and branch calendars."""

from __future__ import annotations

import datetime as dt

from quietshelf.accounts.testing import make_staff, signed_in_client
from quietshelf.circulation.models import BranchCalendar, ClosedPeriod, LoanRule


def test_rules_page_explains_and_admin_saves_a_rule_cir1(circ, desk_staff):
    desk = signed_in_client(desk_staff)
    r = desk.get(
        "/staff/desk/rules/",
        {
            "x-patron_group": circ["adult"].pk,
            "x-item_type": circ["book"].pk,
            "x-branch": circ["north"].pk,
        },
    )
    assert r.status_code == 200 and b"matched with 0 of 3 dimensions set" in r.content
    assert b"Save rule" not in r.content  # the desk may not edit rules
    assert desk.post("/staff/desk/rules/", {"r-loan_period": 7}).status_code == 403
    admin = signed_in_client(make_staff("ruleadmin", roles=["administrator", "circulation-desk"]))
    data = {
        "r-item_type": circ["laptop"].pk, "r-loan_period": 4, "r-period_unit": "hours",
        "r-renewals_allowed": 0, "r-fine_per_day_minor": 0, "r-grace_days": 0,
        "r-lost_fee_policy": "price", "r-lost_default_minor": 0, "r-processing_fee_minor": 0,
        "r-holds_allowed": "on",
    }  # fmt: skip
    r = admin.post("/staff/desk/rules/", data)
    assert r.status_code == 302, r.content[:500]
    rule = LoanRule.objects.get(item_type=circ["laptop"])
    assert (rule.loan_period, rule.period_unit) == (4, "hours")


def test_calendar_page_sets_weekly_closures_and_closed_days(circ):
    admin = signed_in_client(make_staff("caladmin", roles=["administrator", "circulation-desk"]))
    r = admin.post(
        "/staff/desk/calendar/",
        {"calendar": "1", "branch": circ["north"].pk, "closed_weekdays": ["6", "7"]},
    )
    assert r.status_code == 302
    assert BranchCalendar.objects.get(branch=circ["north"]).closed_weekdays == [6, 7]
    day = dt.date(2026, 12, 24)
    r = admin.post(
        "/staff/desk/calendar/",
        {"period": "1", "branch": circ["north"].pk, "first": day.isoformat(), "note": "Eve"},
    )
    assert r.status_code == 302
    assert ClosedPeriod.objects.filter(branch=circ["north"], first=day, last=day).exists()
    r = admin.post(
        "/staff/desk/calendar/",
        {"period": "1", "branch": circ["north"].pk, "first": "2026-12-31", "last": "2026-12-01"},
        follow=True,
    )
    assert b"ends before it starts" in r.content
