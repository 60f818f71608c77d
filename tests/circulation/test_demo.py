"""Issue 6 item 12: a realistic demo circulation state, made through the services."""

from __future__ import annotations

from quietshelf.circulation.demo import create_demo_circulation
from quietshelf.circulation.models import Fee, Hold, Loan, Transit
from quietshelf.patrons.demo import create_demo_patrons
from tests.factories import BranchFactory, ItemFactory, ItemTypeFactory


def test_demo_circulation_state(db):
    north, south = BranchFactory(code="DN", name="Demo North"), BranchFactory(code="DS", name="S")
    book = ItemTypeFactory(code="BOOK")
    for n in range(120):
        ItemFactory(branch=north if n % 2 else south, item_type=book)
    create_demo_patrons(40)
    counts = create_demo_circulation(loans=25, returned=20)
    assert counts["open_loans"] >= 15 and counts["overdue"] >= 1 and counts["returned"] >= 15
    assert Loan.objects.filter(returned_at__isnull=True).count() == counts["open_loans"]
    # returned loans without an open fee are de-identified
    closed = Loan.objects.filter(returned_at__isnull=False)
    open_fee_loans = set(
        Fee.objects.filter(resolved_at__isnull=True).values_list("loan", flat=True)
    )
    assert all(loan.patron_id is None for loan in closed if loan.pk not in open_fee_loans)
    assert Hold.objects.filter(status="waiting").exists()
    assert Hold.objects.filter(status__in=["on_shelf", "in_transit"]).exists()
    assert Fee.objects.exists()
    assert counts["in_transit"] == 0 or Transit.objects.exists()
    assert create_demo_circulation() == {"skipped": "loans exist"}
