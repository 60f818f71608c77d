"""Fees (CIR-4), holds (CIR-3), automatic blocks (PAT-3)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

from quietshelf.catalog.models import ItemStatus
from quietshelf.circulation import selectors, services
from quietshelf.circulation.models import FeeTransaction, Hold, Transit
from quietshelf.core.errors import Conflict, InvalidInput, PermissionDenied
from tests.factories import BibRecordFactory, noon_days_ago


def charge(circ, p, amount=1000, fee_type="manual"):
    return services.fee_charge(
        actor=None, patron_id=p.pk, fee_type=fee_type, amount=amount, branch_id=circ["north"].pk
    )


# --- fees -------------------------------------------------------------------------------


def test_fee_ledger_partial_payment_balance_is_a_sum_cir4(circ, patron):
    p = patron()
    fee = charge(circ, p, 1000)
    services.fee_pay(actor=None, fee_id=fee.pk, amount=300)
    assert services.fee_balance(fee.pk) == 700
    fee.refresh_from_db()
    assert fee.resolved_at is None
    services.fee_pay(actor=None, fee_id=fee.pk, amount="700")
    fee.refresh_from_db()
    assert fee.resolved_at is not None and services.fee_balance(fee.pk) == 0
    kinds = list(FeeTransaction.objects.filter(fee=fee).values_list("kind", "amount_minor"))
    assert kinds == [("charge", 1000), ("payment", -300), ("payment", -700)]


def test_pay_more_than_owed_is_a_clear_error_cir4(circ, patron):
    fee = charge(circ, patron(), 500)
    with pytest.raises(InvalidInput) as exc:
        services.fee_pay(actor=None, fee_id=fee.pk, amount=501)
    assert exc.value.code == "overpayment"
    assert services.fee_balance(fee.pk) == 500


@pytest.mark.parametrize("bad", [-100, 0, 12.5, "12.50", "ten"])
def test_negative_or_fractional_amounts_are_refused_cir4(circ, patron, bad):
    p = patron()
    fee = charge(circ, p, 500)
    with pytest.raises(InvalidInput):
        services.fee_pay(actor=None, fee_id=fee.pk, amount=bad)
    with pytest.raises(InvalidInput):
        charge(circ, p, bad)


def test_waiver_needs_reason_and_refund_reopens_cir4(circ, patron):
    fee = charge(circ, patron(), 800)
    with pytest.raises(InvalidInput):
        services.fee_waive(actor=None, fee_id=fee.pk, reason=" ")
    services.fee_pay(actor=None, fee_id=fee.pk, amount=800)
    with pytest.raises(InvalidInput):
        services.fee_refund(actor=None, fee_id=fee.pk, amount=900, reason="too much")
    services.fee_refund(actor=None, fee_id=fee.pk, amount=800, reason="item found")
    fee.refresh_from_db()
    assert fee.resolved_at is None and services.fee_balance(fee.pk) == 800
    tx = services.fee_waive(actor=None, fee_id=fee.pk, reason="item found")
    assert tx.reason == "item found"
    fee.refresh_from_db()
    assert fee.resolved_at is not None


def test_fee_ledger_lines_cannot_be_changed_cir4(circ, patron):
    fee = charge(circ, patron(), 800)
    line = FeeTransaction.objects.get(fee=fee)
    line.amount_minor = 1
    with pytest.raises(ValueError):
        line.save()
    with pytest.raises(ValueError):
        line.delete()


def test_payment_spread_over_fees_oldest_first_cir4(circ, patron):
    p = patron()
    a, b = charge(circ, p, 300), charge(circ, p, 500)
    services.fee_pay_patron(actor=None, patron_id=p.pk, amount=400, branch_id=circ["north"].pk)
    assert services.fee_balance(a.pk) == 0 and services.fee_balance(b.pk) == 400
    with pytest.raises(InvalidInput):
        services.fee_pay_patron(actor=None, patron_id=p.pk, amount=401, branch_id=circ["north"].pk)
    lines = selectors.patron_fees(actor=None, patron_id=p.pk)
    assert [(line.fee.pk, line.balance_minor) for line in lines] == [(b.pk, 400)]


def test_fee_needs_manage_fees_permission(circ, patron):
    from quietshelf.accounts.testing import make_staff

    cat = make_staff("feecat", roles=["cataloguer"])
    with pytest.raises(PermissionDenied):
        services.fee_charge(
            actor=cat,
            patron_id=patron().pk,
            fee_type="manual",
            amount=5,
            branch_id=circ["north"].pk,
        )


@override_settings(QUIETSHELF_FINE_BLOCK_LIMIT_MINOR=1000)
def test_fines_over_the_limit_block_checkout_pat3(circ, patron, item):
    p = patron()
    charge(circ, p, 1000)
    with pytest.raises(services.CirculationRefused) as exc:
        services.checkout(
            actor=None, item_barcode=item().barcode, patron_id=p.pk, branch_id=circ["north"].pk
        )
    assert exc.value.code == "patron_blocked"
    from quietshelf.patrons import selectors as patron_selectors

    _p, _rows, effective = patron_selectors.patron_blocks(actor=None, patron_id=p.pk)
    assert [e.code for e in effective if e.automatic] == ["debt"]


@override_settings(QUIETSHELF_OVERDUE_BLOCK_LIMIT=1)
def test_overdue_loans_over_the_limit_block_pat3(circ, patron, item):
    from quietshelf.circulation.models import Loan

    p = patron()
    r = services.checkout(
        actor=None, item_barcode=item().barcode, patron_id=p.pk, branch_id=circ["north"].pk
    )
    Loan.objects.filter(pk=r.loan.pk).update(due_at=timezone.now() - dt.timedelta(days=3))
    with pytest.raises(services.CirculationRefused):
        services.checkout(
            actor=None, item_barcode=item().barcode, patron_id=p.pk, branch_id=circ["north"].pk
        )


# --- holds ------------------------------------------------------------------------------


def place(circ, p, record_id, pickup="north", **kw):
    return services.hold_place(
        actor=None, patron_id=p.pk, record_id=record_id, pickup_branch_id=circ[pickup].pk, **kw
    )


def test_hold_queue_order_and_position_cir3(circ, patron, item):
    i = item()
    a, b, c = patron(), patron(), patron()
    ha, hb, hc = (
        place(circ, a, i.record_id),
        place(circ, b, i.record_id),
        place(circ, c, i.record_id),
    )
    assert [selectors.queue_position(h) for h in (ha, hb, hc)] == [1, 2, 3]
    services.hold_suspend(
        actor=None, hold_id=ha.pk, until=timezone.localdate() + dt.timedelta(days=9)
    )
    ha.refresh_from_db()
    assert selectors.queue_position(hb) == 1
    assert selectors.queue_position(ha) == 1  # suspended: keeps its place, not counted ahead
    # check-in traps the first active hold (b), skipping the suspended one
    services.checkout(
        actor=None, item_barcode=i.barcode, patron_id=c.pk, branch_id=circ["north"].pk
    )
    r = services.checkin(actor=None, item_barcode=i.barcode, branch_id=circ["north"].pk)
    assert r.route == "hold_shelf" and r.hold_id == hb.pk and r.shelf_expires_on
    i.refresh_from_db()
    assert i.status == ItemStatus.ON_HOLD_SHELF
    with pytest.raises(services.CirculationRefused) as exc:
        services.checkout(
            actor=None, item_barcode=i.barcode, patron_id=a.pk, branch_id=circ["north"].pk
        )
    assert exc.value.code == "held_for_other"
    res = services.checkout(
        actor=None, item_barcode=i.barcode, patron_id=b.pk, branch_id=circ["north"].pk
    )
    assert res.hold_filled


def test_checkin_sends_item_in_transit_to_pickup_branch_cir3(circ, patron, item):
    i = item()
    p = patron()
    h = place(circ, p, i.record_id, pickup="south")
    r = services.checkin(actor=None, item_barcode=i.barcode, branch_id=circ["north"].pk)
    assert r.route == "transit" and r.to_branch == circ["south"] and "pickup" in r.message
    h.refresh_from_db()
    assert h.status == "in_transit" and h.item_id == i.pk
    r2 = services.checkin(actor=None, item_barcode=i.barcode, branch_id=circ["south"].pk)
    assert r2.route == "hold_shelf"
    h.refresh_from_db()
    assert h.status == "on_shelf"
    assert not Transit.objects.filter(item=i, received_at__isnull=True).exists()


def test_item_level_hold_only_that_copy_cir3(circ, patron, item):
    rec = BibRecordFactory()
    i1, i2 = item(record=rec), item(record=rec)
    p = patron()
    h = place(circ, p, None, item_barcode=i2.barcode)
    assert h.item_level and h.record_id == rec.pk
    assert services.checkin(
        actor=None, item_barcode=i1.barcode, branch_id=circ["north"].pk
    ).route == ("shelve")
    assert services.checkin(
        actor=None, item_barcode=i2.barcode, branch_id=circ["north"].pk
    ).route == ("hold_shelf")


def test_hold_bad_input_cir3(circ, patron, item):
    i = item()
    p = patron()
    place(circ, p, i.record_id)
    with pytest.raises(Conflict) as exc:
        place(circ, p, i.record_id)
    assert exc.value.code == "duplicate_hold"
    j = item()
    services.checkout(
        actor=None, item_barcode=j.barcode, patron_id=p.pk, branch_id=circ["north"].pk
    )
    with pytest.raises(Conflict) as exc:
        place(circ, p, j.record_id)
    assert exc.value.code == "hold_on_own_loan"


def test_hold_limit_cir3(circ, patron, item):
    p = patron()
    for _ in range(5):
        place(circ, p, item().record_id)
    with pytest.raises(services.CirculationRefused) as exc:
        place(circ, p, item().record_id)
    assert exc.value.code == "hold_limit"


def test_cancel_hold_on_shelf_reroutes_copy_and_patron_can_cancel_own_cir3(circ, patron, item):
    from quietshelf.privacy.audit import Actor

    i = item()
    a, b = patron(), patron()
    ha, hb = place(circ, a, i.record_id), place(circ, b, i.record_id)
    services.checkin(actor=None, item_barcode=i.barcode, branch_id=circ["north"].pk)
    with pytest.raises(PermissionDenied):
        services.hold_cancel(actor=Actor.patron(b.pk), hold_id=ha.pk)
    services.hold_cancel(actor=Actor.patron(a.pk), hold_id=ha.pk)
    hb.refresh_from_db()
    assert hb.status == "on_shelf" and hb.item_id == i.pk
    assert Hold.objects.get(pk=ha.pk).status == "cancelled"


def test_expired_hold_shelf_goes_to_next_cir3(circ, patron, item):
    i = item()
    a, b = patron(), patron()
    ha, hb = place(circ, a, i.record_id), place(circ, b, i.record_id)
    services.checkin(actor=None, item_barcode=i.barcode, branch_id=circ["north"].pk)
    ha.refresh_from_db()
    assert services.expire_hold_shelf(today=ha.shelf_expires_on) == 0
    assert services.expire_hold_shelf(today=ha.shelf_expires_on + dt.timedelta(days=1)) == 1
    ha.refresh_from_db()
    hb.refresh_from_db()
    assert ha.status == "expired" and ha.patron_id is None
    assert hb.status == "on_shelf"


# --- accruing fines and lost items --------------------------------------------------------


def _overdue(circ, p, i, days):
    from quietshelf.circulation.models import Loan

    r = services.checkout(
        actor=None, item_barcode=i.barcode, patron_id=p.pk, branch_id=circ["north"].pk
    )
    Loan.objects.filter(pk=r.loan.pk).update(due_at=noon_days_ago(days))
    return r.loan


def test_daily_fines_accrue_on_one_fee_and_checkin_adds_only_the_rest_cir4(circ, patron, item):
    from quietshelf.circulation.models import Fee

    p, i = patron(), item()
    _overdue(circ, p, i, days=2)
    today = timezone.localdate()
    assert services.charge_overdue_fines(today=today) == 1
    fee = Fee.objects.get(patron=p)
    assert services.fee_balance(fee.pk) == 2 * 500
    assert services.charge_overdue_fines(today=today) == 0  # idempotent on the same day
    services.fee_pay(actor=None, fee_id=fee.pk, amount=1000)  # paid while still on loan
    services.charge_overdue_fines(today=today + dt.timedelta(days=1))
    fee.refresh_from_db()
    assert services.fee_balance(fee.pk) == 500 and fee.resolved_at is None
    assert Fee.objects.filter(patron=p).count() == 1


def test_declare_lost_charges_price_plus_processing_and_keeps_link_until_paid_cir4(
    circ, patron, item
):
    from quietshelf.circulation.models import Loan, LoanRule

    LoanRule.objects.update(
        lost_fee_policy="price", lost_default_minor=20000, processing_fee_minor=500
    )
    services.config_changed()  # a queryset update sends no signal
    p, i = patron(), item(price_minor=35000)
    r = services.checkout(
        actor=None, item_barcode=i.barcode, patron_id=p.pk, branch_id=circ["north"].pk
    )
    fee = services.declare_lost(actor=None, loan_id=r.loan.pk)
    assert fee.type == "lost" and services.fee_balance(fee.pk) == 35500
    i.refresh_from_db()
    assert i.status == ItemStatus.LOST
    loan = Loan.objects.get(pk=r.loan.pk)
    assert loan.returned_at and loan.patron_id == p.pk  # kept while the fee is open
    services.fee_waive(actor=None, fee_id=fee.pk, reason="found and returned")
    assert Loan.objects.get(pk=r.loan.pk).patron_id is None


def test_item_in_transit_for_a_hold_scanned_at_a_third_branch_goes_on_cir3(circ, patron, item):
    from tests.factories import BranchFactory

    third = BranchFactory(code="CTHIRD", name="Third")
    i = item()
    h = place(circ, patron(), i.record_id, pickup="south")
    place(circ, patron(), i.record_id, pickup="north")  # a later hold must not take it
    services.checkin(actor=None, item_barcode=i.barcode, branch_id=circ["north"].pk)
    r = services.checkin(actor=None, item_barcode=i.barcode, branch_id=third.pk)
    assert r.route == "transit" and r.to_branch == circ["south"] and r.hold_id == h.pk
    assert Transit.objects.filter(item=i, received_at__isnull=True).get().to_branch == circ["south"]
    r = services.checkin(actor=None, item_barcode=i.barcode, branch_id=circ["south"].pk)
    assert r.route == "hold_shelf" and r.hold_id == h.pk
