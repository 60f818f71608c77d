"""Check-out, check-in, renewal as services with every check (CIR-2, CIR-1, PRV-ACC-1)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from quietshelf.catalog.models import ItemStatus
from quietshelf.circulation import selectors, services
from quietshelf.circulation.models import (
    CirculationEvent,
    ClosedPeriod,
    Fee,
    Loan,
    LoanRule,
    Transit,
)
from quietshelf.circulation.policy import NoLoanRule
from quietshelf.core.errors import NotFound, PermissionDenied
from quietshelf.patrons import services as patron_services
from quietshelf.patrons.models import Patron
from quietshelf.privacy.models import AuditEntry
from tests.circulation.conftest import age_loan


def out(item, patron, branch, **kw):
    return services.checkout(
        actor=kw.pop("actor", None),
        item_barcode=item.barcode,
        patron_id=patron.pk,
        branch_id=branch.pk,
        **kw,
    )


def test_checkout_lends_and_sets_due_date_cir2(circ, patron, item):
    p, i = patron(), item()
    result = out(i, p, circ["north"])
    i.refresh_from_db()
    assert i.status == ItemStatus.ON_LOAN
    assert result.loan.patron_id == p.pk
    assert (result.due_at.date() - timezone.localdate()).days == 21
    assert result.rule_id == circ["rule"].pk and "matched" in result.rule_why
    assert CirculationEvent.objects.filter(kind="checkout", item=i).count() == 1


def test_unknown_barcode_is_a_clear_error(circ, patron):
    with pytest.raises(NotFound) as exc:
        services.checkout(
            actor=None, item_barcode="NOPE", patron_id=patron().pk, branch_id=circ["north"].pk
        )
    assert exc.value.code == "item_not_found"


def test_item_already_on_loan_is_refused_and_not_overridable_cir2(circ, patron, item):
    i = item()
    out(i, patron(), circ["north"])
    with pytest.raises(services.CirculationRefused) as exc:
        out(i, patron(), circ["north"], override_reason="patron insists")
    assert exc.value.code == "item_on_loan"
    assert exc.value.details["overridable"] is False


def test_expired_patron_is_refused_cir2(circ, patron, item):
    p = patron(expiry_date=timezone.localdate() - dt.timedelta(days=1))
    with pytest.raises(services.CirculationRefused) as exc:
        out(item(), p, circ["north"])
    assert exc.value.code == "patron_expired"
    assert not Loan.objects.exists()


def test_blocked_patron_is_refused_cir2_pat3(circ, patron, item):
    p = patron()
    patron_services.block_add(actor=None, patron_id=p.pk, reason_code="manual")
    with pytest.raises(services.CirculationRefused) as exc:
        out(item(), p, circ["north"])
    assert exc.value.code == "patron_blocked"


def test_restricted_patron_is_refused_cir2(circ, patron, item):
    p = patron(status="restricted")
    with pytest.raises(services.CirculationRefused) as exc:
        out(item(), p, circ["north"])
    assert exc.value.code == "patron_restricted"


def test_non_circulating_type_is_refused_cir2(circ, patron, item):
    with pytest.raises(services.CirculationRefused) as exc:
        out(item(item_type="ref"), patron(), circ["north"])
    assert exc.value.code == "not_circulating"


def test_withdrawn_item_is_refused_cir2(circ, patron, item):
    with pytest.raises(services.CirculationRefused) as exc:
        out(item(status="withdrawn"), patron(), circ["north"], override_reason="x")
    assert exc.value.code == "item_status"


def test_loan_limits_total_and_per_type_cir1(circ, patron, item):
    services.rule_save(actor=None, item_type_id=circ["laptop"].pk, max_loans_per_type=1)
    p = patron()
    out(item(item_type="laptop"), p, circ["north"])
    with pytest.raises(services.CirculationRefused) as exc:
        out(item(item_type="laptop"), p, circ["north"])
    assert exc.value.code == "loan_limit_type"
    LoanRule.objects.filter(item_type__isnull=True).update(max_loans=1)
    services.config_changed()  # a queryset update sends no signal
    with pytest.raises(services.CirculationRefused) as exc:
        out(item(), p, circ["north"])
    assert exc.value.code == "loan_limit"


def test_no_matching_rule_means_no_loan_cir1(circ, patron, item):
    LoanRule.objects.all().delete()
    services.rule_save(actor=None, patron_group_id=circ["child"].pk)
    with pytest.raises(NoLoanRule):
        out(item(), patron(), circ["north"])
    assert not Loan.objects.exists()


def test_most_specific_rule_decides_the_loan_period_cir1(circ, patron, item):
    services.rule_save(
        actor=None, item_type_id=circ["laptop"].pk, loan_period=3, period_unit="hours"
    )
    r = out(item(item_type="laptop"), patron(), circ["north"])
    assert r.due_at - r.loan.checked_out_at == dt.timedelta(hours=3)
    expl = selectors.explain(
        patron_group_id=circ["adult"].pk, item_type_id=circ["laptop"].pk, branch_id=circ["north"].pk
    )
    assert expl.period_unit == "hours" and "item type" in expl.why


def test_due_date_skips_the_checkout_branch_closed_days(circ, patron, item):
    due_day = timezone.localdate() + dt.timedelta(days=21)
    ClosedPeriod.objects.create(
        branch=circ["north"], first=due_day, last=due_day + dt.timedelta(days=1)
    )
    r = out(item(), patron(), circ["north"])
    assert timezone.localtime(r.due_at).date() == due_day + dt.timedelta(days=2)


def test_override_needs_permission_and_reason_and_is_audited_prv_acc1(circ, patron, item):
    from quietshelf.accounts.testing import make_staff

    desk = make_staff("deskonly", roles=["circulation-desk"])
    boss = make_staff("boss", roles=["circulation-desk", "patron-manager"])
    ref = item(item_type="ref")
    p = patron()
    with pytest.raises(PermissionDenied):
        out(ref, p, circ["north"], actor=desk, override_reason="course reserve")
    result = out(ref, p, circ["north"], actor=boss, override_reason="course reserve")
    assert result.overridden == ["not_circulating"]
    entry = AuditEntry.objects.get(action="overridden", object_id=str(result.loan.pk))
    assert entry.actor_id == str(boss.pk) and "not_circulating" in entry.reason


def test_checkout_denied_without_permission(circ, patron, item):
    from quietshelf.accounts.testing import make_staff

    cataloguer = make_staff("cat1", roles=["cataloguer"])
    with pytest.raises(PermissionDenied):
        out(item(), patron(), circ["north"], actor=cataloguer)


def test_checkout_with_desk_staff_works(circ, patron, item, desk_staff):
    assert out(item(), patron(), circ["north"], actor=desk_staff).loan.pk


def test_checkin_at_home_branch_shelves_cir2(circ, patron, item):
    i = item()
    out(i, patron(), circ["north"])
    r = services.checkin(actor=None, item_barcode=i.barcode, branch_id=circ["north"].pk)
    i.refresh_from_db()
    assert r.loan_closed and r.route == "shelve" and i.status == ItemStatus.AVAILABLE
    assert r.fine_minor == 0


def test_checkin_elsewhere_creates_transit_home_cir2(circ, patron, item):
    i = item()
    out(i, patron(), circ["north"])
    r = services.checkin(actor=None, item_barcode=i.barcode, branch_id=circ["south"].pk)
    i.refresh_from_db()
    assert r.route == "transit" and r.to_branch == circ["north"]
    assert i.status == ItemStatus.IN_TRANSIT
    assert Transit.objects.filter(
        item=i, received_at__isnull=True, to_branch=circ["north"]
    ).exists()
    r2 = services.checkin(actor=None, item_barcode=i.barcode, branch_id=circ["north"].pk)
    i.refresh_from_db()
    assert r2.route == "shelve" and i.status == ItemStatus.AVAILABLE
    assert not Transit.objects.filter(item=i, received_at__isnull=True).exists()


def test_overdue_fine_at_checkin_uses_owning_branch_calendar_cir4(circ, patron, item):
    i = item(branch="south")
    p = patron()
    r = out(i, p, circ["north"])
    today = timezone.localdate()
    Loan.objects.filter(pk=r.loan.pk).update(
        due_at=timezone.make_aware(
            dt.datetime.combine(today - dt.timedelta(days=4), dt.time(23, 59))
        )
    )
    # the owning branch (south) was closed two of those days; the checkout branch was not
    ClosedPeriod.objects.create(
        branch=circ["south"], first=today - dt.timedelta(days=2), last=today - dt.timedelta(days=1)
    )
    res = services.checkin(actor=None, item_barcode=i.barcode, branch_id=circ["north"].pk)
    assert res.fine_minor == 2 * 500 and res.overdue
    fee = Fee.objects.get(pk=res.fee_id)
    assert fee.branch == circ["south"] and fee.patron_id == p.pk and fee.type == "overdue"
    assert services.fee_balance(fee.pk) == 1000


def test_renew_extends_and_counts_cir2(circ, patron, item):
    r = out(item(), patron(), circ["north"])
    with pytest.raises(services.CirculationRefused) as exc:
        services.renew(actor=None, loan_id=r.loan.pk)  # would not move the due date
    assert exc.value.code == "too_soon"
    age_loan(r.loan.pk)
    rr = services.renew(actor=None, loan_id=r.loan.pk)
    assert rr.renewals_left == 1 and rr.due_at > r.due_at - dt.timedelta(days=2)
    age_loan(r.loan.pk)
    services.renew(actor=None, loan_id=r.loan.pk)
    age_loan(r.loan.pk)
    with pytest.raises(services.CirculationRefused) as exc:
        services.renew(actor=None, loan_id=r.loan.pk)
    assert exc.value.code == "renewal_limit"


def test_renew_refused_when_another_patron_waits_cir2(circ, patron, item):
    i = item()
    r = out(i, patron(), circ["north"])
    services.hold_place(
        actor=None, patron_id=patron().pk, record_id=i.record_id, pickup_branch_id=circ["north"].pk
    )
    with pytest.raises(services.CirculationRefused) as exc:
        services.renew(actor=None, loan_id=r.loan.pk)
    assert exc.value.code == "hold_by_other"


def test_renew_closed_or_unknown_loan(circ, patron, item):
    i = item()
    r = out(i, patron(), circ["north"])
    services.checkin(actor=None, item_barcode=i.barcode, branch_id=circ["north"].pk)
    with pytest.raises(services.Conflict):
        services.renew(actor=None, loan_id=r.loan.pk)
    with pytest.raises(NotFound):
        services.renew(actor=None, loan_id="not-a-uuid")


def test_checkout_query_count_does_not_grow_with_loans_perf_circ3(
    circ, patron, item, django_assert_max_num_queries
):
    """PERF-CIRC-3: the same number of queries for a patron with 0 and with 30 open loans."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count_for(p):
        i = item()
        with CaptureQueriesContext(connection) as ctx:
            out(i, p, circ["north"])
        return len(ctx.captured_queries)

    empty = patron()
    busy = patron()
    for _ in range(30):
        out(item(), busy, circ["north"])
    # The last active month (RPT-1) is written with a patron's first check-out of the
    # month, whatever they hold: both are active this month, so it is the loans that differ.
    this_month = timezone.localdate().replace(day=1)
    Patron.objects.filter(pk=empty.pk).update(last_active_month=this_month)
    for _ in range(3):
        services.hold_place(
            actor=None,
            patron_id=busy.pk,
            record_id=item().record_id,
            pickup_branch_id=circ["north"].pk,
        )
    assert count_for(busy) == count_for(empty)


def test_last_active_month_is_written_with_the_first_check_out_of_the_month_rpt_1(
    circ, patron, item
):
    """RPT-1: the patron's last active month is set by a check-out; the next check-outs
    that month send no UPDATE for it (PERF-CIRC-2)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def month_writes(p) -> int:
        with CaptureQueriesContext(connection) as ctx:
            out(item(), p, circ["north"])
        return sum(
            q["sql"].startswith("UPDATE") and "last_active_month" in q["sql"]
            for q in ctx.captured_queries
        )

    p = patron()
    assert month_writes(p) == 1
    this_month = timezone.localdate().replace(day=1)
    assert Patron.objects.get(pk=p.pk).last_active_month == this_month
    assert month_writes(p) == 0
    Patron.objects.filter(pk=p.pk).update(last_active_month=this_month.replace(year=2020))
    assert month_writes(p) == 1  # a new month is written again


def test_cached_rules_are_forgotten_when_a_rule_is_saved_cir1(circ, patron, item):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    p = patron()
    out(item(), p, circ["north"])  # fills the cache
    with CaptureQueriesContext(connection) as ctx:
        out(item(), p, circ["north"])
    assert not any("circulation_loanrule" in q["sql"] for q in ctx.captured_queries)
    services.rule_save(actor=None, loan_period=7)
    r = out(item(), p, circ["north"])
    assert (timezone.localtime(r.due_at).date() - timezone.localdate()).days == 7
