"""One durable transaction per circulation service (#14 item 7) and renew-all as one
service with an outcome per loan (#14 item 6, CIR-2)."""

from __future__ import annotations

import pytest
from django.db import transaction

from quietshelf.circulation import services
from quietshelf.circulation.models import HoldStatus, Loan
from tests.circulation.conftest import age_loan


def _lend(circ, patron, item):
    return services.checkout(
        actor=None, item_barcode=item.barcode, patron_id=patron.pk, branch_id=circ["north"].pk
    )


def test_renew_all_gives_each_loan_its_outcome_issue14(circ, patron, item):
    p = patron()
    free, wanted = item(), item()
    first, second = _lend(circ, p, free), _lend(circ, p, wanted)
    age_loan(first.loan.pk)
    age_loan(second.loan.pk)
    services.hold_place(
        actor=None,
        patron_id=patron().pk,
        record_id=wanted.record_id,
        pickup_branch_id=circ["north"].pk,
    )
    outcomes = services.renew_all(actor=None, loan_ids=[first.loan.pk, second.loan.pk])
    assert [o.loan_id for o in outcomes] == [first.loan.pk, second.loan.pk]
    assert outcomes[0].error is None and outcomes[0].result.renewals_left == 1
    assert outcomes[1].result is None and outcomes[1].error.code == "hold_by_other"
    assert Loan.objects.get(pk=first.loan.pk).renewals == 1
    assert Loan.objects.get(pk=second.loan.pk).renewals == 0


def test_services_refuse_to_run_inside_another_transaction_issue14(circ, patron, item):
    """Durable: a caller that wraps a service in its own transaction fails loudly."""
    r = _lend(circ, patron(), item())
    with transaction.atomic(), pytest.raises(RuntimeError):
        services.renew_all(actor=None, loan_ids=[r.loan.pk])
    with transaction.atomic(), pytest.raises(RuntimeError):
        services.rule_save(actor=None, loan_period=14)


def test_hold_cancel_in_transaction_runs_in_the_callers_issue14(circ, patron, item):
    i = item()
    hold = services.hold_place(
        actor=None, patron_id=patron().pk, record_id=i.record_id, pickup_branch_id=circ["north"].pk
    )
    with transaction.atomic():
        services.hold_cancel_in_transaction(actor=None, hold_id=hold.pk)
    hold.refresh_from_db()
    assert hold.status == HoldStatus.CANCELLED
