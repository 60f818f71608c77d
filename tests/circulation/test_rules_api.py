"""/api/v1/circulation/rules and /calendars: the loan-rule matrix, the explainer, branch
calendars and closed periods (CIR-1, issue "Circulation" item 11).

Every route: a success, a permission denial (circulation.manage_rules; the explainer also
takes circulation.checkout) and bad input answering {"error": {...}} with a 4xx.
"""

from __future__ import annotations

import itertools

import pytest
from django.test import Client

from quietshelf.accounts.testing import make_staff, signed_in_client
from quietshelf.circulation import services
from quietshelf.circulation.models import BranchCalendar, ClosedPeriod, LoanRule

BASE = "/api/v1/circulation"
_n = itertools.count(1)


def call(client, method, url, data=None):
    return getattr(client, method)(BASE + url, data=data, content_type="application/json")


def assert_error(r, status, code=None):
    assert r.status_code == status, r.content
    body = r.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]


@pytest.fixture
def admin(circ):
    return signed_in_client(make_staff(f"rules-admin{next(_n)}", roles=["administrator"]))


@pytest.fixture
def desk(desk_staff):
    return signed_in_client(desk_staff)


@pytest.fixture
def reader_staff(circ):
    return signed_in_client(make_staff(f"reports{next(_n)}", roles=["report-reader"]))


# --- GET /rules ------------------------------------------------------------------------------


def test_rules_list_for_rule_managers_cir1(admin, circ):
    r = admin.get(f"{BASE}/rules")
    assert r.status_code == 200
    rules = r.json()
    assert [x["id"] for x in rules] == [circ["rule"].pk]
    assert rules[0]["loan_period"] == 21 and rules[0]["patron_group_id"] is None
    assert rules[0]["hold_limit"] == 5


def test_rules_list_denied_without_manage_rules_cir1(desk, circ):
    assert_error(desk.get(f"{BASE}/rules"), 403)
    assert_error(Client().get(f"{BASE}/rules"), 401)


# --- POST /rules -----------------------------------------------------------------------------


def test_rule_create_for_a_new_cell_cir1(admin, circ):
    r = call(
        admin,
        "post",
        "/rules",
        {
            "item_type_id": circ["laptop"].pk,
            "branch_id": circ["north"].pk,
            "loan_period": 4,
            "period_unit": "hours",
            "renewals_allowed": 0,
            "holds_allowed": False,
            "note": "Laptops, in the house",
        },
    )
    assert r.status_code == 201, r.content
    body = r.json()
    rule = LoanRule.objects.get(pk=body["id"])
    assert (rule.item_type_id, rule.branch_id, rule.patron_group_id) == (
        circ["laptop"].pk,
        circ["north"].pk,
        None,
    )
    assert body["period_unit"] == "hours" and body["loan_period"] == 4
    assert body["fine_per_day_minor"] == 0  # unset: the model's default
    # the same cell again is a conflict, not a silent change
    err = assert_error(
        call(
            admin,
            "post",
            "/rules",
            {"item_type_id": circ["laptop"].pk, "branch_id": circ["north"].pk, "loan_period": 9},
        ),
        409,
        "rule_exists",
    )
    assert err["details"]["rule_id"] == rule.pk
    rule.refresh_from_db()
    assert rule.loan_period == 4


def test_rule_create_denied_without_manage_rules_cir1(desk, circ):
    assert_error(call(desk, "post", "/rules", {"item_type_id": circ["laptop"].pk}), 403)
    assert LoanRule.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"loan_period": 0}, 422, "invalid_input"),
        ({"renewals_allowed": -1}, 422, "invalid_input"),
        ({"period_unit": "weeks"}, 422, "invalid_input"),
        ({"loan_period": "lots"}, 422, "invalid_input"),
        ({"colour": "blue"}, 422, "invalid_input"),
        ({"note": "x" * 201}, 422, "invalid_input"),
        ({"loan_period": 2**40}, 422, "invalid_input"),
        ({"loan_period": None}, 422, "invalid_input"),  # never null, as the OpenAPI says
        ({"holds_allowed": 1}, 422, "invalid_input"),  # JSON true/false only
        ({"loan_period": False}, 422, "invalid_input"),  # not a number
        ({"branch_id": 987654}, 404, "dimension_not_found"),
    ],
)
def test_rule_create_bad_input_cir1(admin, circ, payload, status, code):
    payload = {"item_type_id": circ["book"].pk, **payload}
    assert_error(call(admin, "post", "/rules", payload), status, code)
    assert LoanRule.objects.count() == 1


def test_rule_create_bad_json_cir1(admin, circ):
    r = admin.post(f"{BASE}/rules", data="{not json", content_type="application/json")
    assert r.status_code == 400 and set(r.json()) == {"error"}


# --- PUT /rules/{id} -----------------------------------------------------------------------


def test_rule_update_changes_given_fields_only_cir1(admin, circ):
    rule = circ["rule"]
    r = call(admin, "put", f"/rules/{rule.pk}", {"renewals_allowed": 5, "max_loans": None})
    assert r.status_code == 200, r.content
    rule.refresh_from_db()
    assert rule.renewals_allowed == 5 and rule.max_loans is None
    assert rule.loan_period == 21 and rule.fine_per_day_minor == 500  # kept


def test_rule_update_denied_without_manage_rules_cir1(desk, circ):
    rule = circ["rule"]
    assert_error(call(desk, "put", f"/rules/{rule.pk}", {"renewals_allowed": 9}), 403)
    rule.refresh_from_db()
    assert rule.renewals_allowed == 2


def test_rule_update_bad_input_cir1(admin, circ):
    rule = circ["rule"]
    assert_error(
        call(admin, "put", "/rules/999999", {"renewals_allowed": 1}), 404, "rule_not_found"
    )
    assert_error(call(admin, "put", f"/rules/{rule.pk}", {"grace_days": -3}), 422)
    assert_error(
        call(admin, "put", f"/rules/{rule.pk}", {"branch_id": circ["south"].pk}), 422
    )  # the cell is not a field of the update
    assert_error(call(admin, "put", f"/rules/{rule.pk}", {"holds_allowed": None}), 422)
    assert_error(call(admin, "put", "/rules/abc", {}), 422)
    rule.refresh_from_db()
    assert rule.grace_days == 0 and rule.branch_id is None and rule.holds_allowed


# --- GET /rules/explain ------------------------------------------------------------------------


def test_rules_explain_names_the_rule_and_why_cir1(admin, desk, circ):
    laptop_rule = services.rule_save(
        actor=None, item_type_id=circ["laptop"].pk, loan_period=3, renewals_allowed=0
    )
    url = f"{BASE}/rules/explain?patron_group={circ['adult'].pk}&item_type={circ['laptop'].pk}"
    url += f"&branch={circ['north'].pk}"
    for client in (admin, desk):  # rule managers and desk staff (check-out) alike
        r = client.get(url)
        assert r.status_code == 200, r.content
        body = r.json()
        assert body["rule_id"] == laptop_rule.pk and body["loan_period"] == 3
        assert body["why"]
    r = desk.get(f"{BASE}/rules/explain?patron_group=&item_type={circ['book'].pk}&branch=")
    assert r.status_code == 200 and r.json()["rule_id"] == circ["rule"].pk


def test_rules_explain_denied_without_checkout_or_manage_rules_cir1(reader_staff, circ):
    assert_error(reader_staff.get(f"{BASE}/rules/explain?item_type={circ['book'].pk}"), 403)


def test_rules_explain_bad_input_cir1(admin, circ):
    # Ids or empty, as the OpenAPI description's pattern says (issue 18).
    assert_error(admin.get(f"{BASE}/rules/explain?item_type=book"), 422, "invalid_input")
    assert_error(admin.get(f"{BASE}/rules/explain?branch=-1"), 422, "invalid_input")
    err = assert_error(
        admin.get(f"{BASE}/rules/explain?item_type=987654"), 404, "dimension_not_found"
    )
    assert err["details"]["fields"] == ["item_type_id"]
    LoanRule.objects.all().delete()
    services.config_changed()
    # No rule covers the cell: that rule is not found (404, issue 18).
    assert_error(
        admin.get(f"{BASE}/rules/explain?item_type={circ['book'].pk}"), 404, "no_loan_rule"
    )


# --- calendars ------------------------------------------------------------------------------


def test_calendar_get_and_put_cir1(admin, circ):
    north = circ["north"].pk
    r = admin.get(f"{BASE}/calendars/{north}")
    assert r.status_code == 200
    assert r.json() == {
        "branch_id": north,
        "closed_weekdays": [],
        "opens": None,
        "closes": None,
        "closed_periods": [],
    }
    r = call(
        admin,
        "put",
        f"/calendars/{north}",
        {"closed_weekdays": [7, 6, 7], "opens": "09:00", "closes": "17:30"},
    )
    assert r.status_code == 200, r.content
    assert r.json()["closed_weekdays"] == [6, 7] and r.json()["closes"] == "17:30:00"
    cal = BranchCalendar.objects.get(branch_id=north)
    assert cal.closed_weekdays == [6, 7]
    assert admin.get(f"{BASE}/calendars/{north}").json()["opens"] == "09:00:00"
    # PRV-ACC-1: a calendar change is on record with who made it
    from quietshelf.privacy.models import AuditEntry

    entry = AuditEntry.objects.get(object_type="circulation.branchcalendar", action="changed")
    assert entry.object_id == str(cal.pk) and entry.actor_type == "staff"


def test_calendar_denied_without_manage_rules_cir1(desk, circ):
    north = circ["north"].pk
    assert_error(desk.get(f"{BASE}/calendars/{north}"), 403)
    assert_error(call(desk, "put", f"/calendars/{north}", {"closed_weekdays": [7]}), 403)
    assert not BranchCalendar.objects.exists()


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"closed_weekdays": [8]}, 422),
        ({"closed_weekdays": [0]}, 422),
        ({"closed_weekdays": "sunday"}, 422),
        ({"opens": "09:00"}, 400),  # no closing time
        ({"opens": "17:00", "closes": "09:00"}, 400),
        ({"opens": "25:00", "closes": "26:00"}, 422),
        ({"holidays": []}, 422),
    ],
)
def test_calendar_put_bad_input_cir1(admin, circ, payload, status):
    assert_error(call(admin, "put", f"/calendars/{circ['north'].pk}", payload), status)
    assert not BranchCalendar.objects.exists()


def test_calendar_unknown_branch_cir1(admin, circ):
    assert_error(admin.get(f"{BASE}/calendars/987654"), 404, "branch_not_found")
    assert_error(
        call(admin, "put", "/calendars/987654", {"closed_weekdays": [7]}), 404, "branch_not_found"
    )


def test_closed_period_post_cir1(admin, circ):
    north = circ["north"].pk
    r = call(
        admin,
        "post",
        f"/calendars/{north}/closed-periods",
        {"first": "2099-12-24", "last": "2099-12-26", "note": "Christmas"},
    )
    assert r.status_code == 201, r.content
    assert r.json()["last"] == "2099-12-26" and r.json()["note"] == "Christmas"
    r = call(admin, "post", f"/calendars/{north}/closed-periods", {"first": "2099-05-17"})
    assert r.status_code == 201 and r.json()["last"] == "2099-05-17"
    periods = admin.get(f"{BASE}/calendars/{north}").json()["closed_periods"]
    assert [(p["first"], p["last"]) for p in periods] == [
        ("2099-05-17", "2099-05-17"),
        ("2099-12-24", "2099-12-26"),
    ]
    from quietshelf.privacy.models import AuditEntry

    assert (
        AuditEntry.objects.filter(object_type="circulation.closedperiod", action="created").count()
        == 2
    )


def test_closed_period_denied_without_manage_rules_cir1(desk, circ):
    r = call(desk, "post", f"/calendars/{circ['north'].pk}/closed-periods", {"first": "2099-01-01"})
    assert_error(r, 403)
    assert not ClosedPeriod.objects.exists()


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"first": "2099-12-26", "last": "2099-12-24"}, 400),
        ({"first": "26.12.2099"}, 422),
        ({}, 422),
        ({"first": "2099-12-24", "note": "x" * 300}, 422),
    ],
)
def test_closed_period_bad_input_cir1(admin, circ, payload, status):
    url = f"/calendars/{circ['north'].pk}/closed-periods"
    assert_error(call(admin, "post", url, payload), status)
    assert not ClosedPeriod.objects.exists()


def test_closed_period_unknown_branch_cir1(admin, circ):
    r = call(admin, "post", "/calendars/987654/closed-periods", {"first": "2099-01-01"})
    assert_error(r, 404, "branch_not_found")


@pytest.mark.parametrize(
    ("day", "sent", "kept"),
    [
        ("2026-01-15", "09:00:00+01:00", "09:00:00"),  # Oslo in winter is UTC+1
        ("2026-07-15", "09:00:00+01:00", "10:00:00"),  # and UTC+2 in summer
        ("2026-01-15", "08:30:00Z", "09:30:00"),
        ("2026-01-15", "09:00:00", "09:00:00"),  # no offset: the branch's own time
    ],
)
def test_calendar_times_with_an_offset_become_branch_time_cir1_int3(admin, circ, day, sent, kept):
    """Issue 18: a time-zone-aware opening hour answered 500 on SQLite; now it is the
    branch's wall-clock time on both engines."""
    import time_machine

    north = circ["north"].pk
    with time_machine.travel(f"{day} 12:00:00+00:00", tick=False):
        r = call(admin, "put", f"/calendars/{north}", {"opens": sent, "closes": "23:00:00"})
    assert r.status_code == 200, r.content
    assert r.json()["opens"] == kept
    assert BranchCalendar.objects.get(branch_id=north).opens.isoformat() == kept
