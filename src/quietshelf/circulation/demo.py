"""A realistic circulation state for `quietshelf demo` (issue 6 item 12).

Uses the services, so every loan, hold, transit and fee is made exactly as the
desk would make it: open loans (some overdue), returned loans (de-identified),
holds waiting and on the hold shelf, items in transit, fees paid and unpaid.
Needs the demo catalogue and demo patrons first. Safe to run twice (it does
nothing when loans exist).
"""

from __future__ import annotations

import datetime as dt
import random

from django.db.models import Q
from django.utils import timezone

from quietshelf.catalog.models import Branch, Item, ItemStatus
from quietshelf.circulation import services
from quietshelf.circulation.models import BranchCalendar, ClosedPeriod, Loan, LoanRule
from quietshelf.core import clock
from quietshelf.core.errors import DomainError


def _setup_rules_and_calendars() -> None:
    if not LoanRule.objects.exists():
        services.rule_save(
            actor=None,
            loan_period=28,
            renewals_allowed=3,
            max_loans=40,
            hold_limit=10,
            fine_per_day_minor=500,
            grace_days=2,
            max_fine_minor=10000,
            lost_default_minor=25000,
            processing_fee_minor=5000,
            note="default for everyone",
        )
        from quietshelf.patrons.models import PatronGroup

        child = PatronGroup.objects.filter(code="child").first()
        if child is not None:
            services.rule_save(
                actor=None,
                patron_group_id=child.pk,
                loan_period=28,
                renewals_allowed=3,
                max_loans=15,
                fine_per_day_minor=0,
                note="children pay no fines",
            )
    today = clock.today()
    for branch in Branch.objects.all():
        BranchCalendar.objects.get_or_create(
            branch=branch,
            defaults={"closed_weekdays": [7], "opens": dt.time(9), "closes": dt.time(20)},
        )
        year = today.year if today.month < 12 or today.day < 27 else today.year + 1
        ClosedPeriod.objects.get_or_create(
            branch=branch,
            first=dt.date(year, 12, 24),
            last=dt.date(year, 12, 26),
            defaults={"note": "Christmas"},
        )


def create_demo_circulation(*, seed: int = 2026, loans: int = 60, returned: int = 40) -> dict:
    """Make the demo circulation state; returns counts."""
    if Loan.objects.exists():
        return {"skipped": "loans exist"}
    from quietshelf.patrons.models import Patron

    _setup_rules_and_calendars()
    rng = random.Random(seed)  # noqa: S311 - fictional demo data
    today = clock.today()
    patrons = list(
        Patron.objects.filter(status="active")
        .filter(Q(expiry_date__isnull=True) | Q(expiry_date__gte=today))
        .order_by("pk")[:150]
    )
    items = list(
        Item.objects.filter(status=ItemStatus.AVAILABLE, item_type__circulates=True)
        .select_related("branch")
        .order_by("pk")[: (loans + returned) * 2 + 60]
    )
    branches = list(Branch.objects.all())
    if not patrons or not items or not branches:
        return {"skipped": "needs patrons, items and branches"}
    rng.shuffle(items)
    counts = {"open_loans": 0, "overdue": 0, "returned": 0, "fees": 0, "paid": 0, "holds": 0,
              "on_shelf": 0, "in_transit": 0}  # fmt: skip

    def lend(item, patron):
        try:
            return services.checkout(
                actor=None, item_barcode=item.barcode, patron_id=patron.pk, branch_id=item.branch_id
            )
        except DomainError:
            return None

    pool = iter(items)
    on_loan = []
    for item in [next(pool, None) for _ in range(loans)]:
        if item is None:
            break
        r = lend(item, rng.choice(patrons))
        if r is None:
            continue
        counts["open_loans"] += 1
        on_loan.append(item)
        if rng.random() < 0.25:  # overdue by 3 to 20 days
            late = timezone.now() - dt.timedelta(days=rng.randint(3, 20))
            Loan.objects.filter(pk=r.loan.pk).update(due_at=late)
            counts["overdue"] += 1
    services.charge_overdue_fines(today=today)

    for item in [next(pool, None) for _ in range(returned)]:
        if item is None:
            break
        r = lend(item, rng.choice(patrons))
        if r is None:
            continue
        if rng.random() < 0.3:
            late = timezone.now() - dt.timedelta(days=rng.randint(4, 15))
            Loan.objects.filter(pk=r.loan.pk).update(due_at=late)
        where = item.branch if rng.random() < 0.8 or len(branches) == 1 else rng.choice(branches)
        res = services.checkin(actor=None, item_barcode=item.barcode, branch_id=where.pk)
        counts["returned"] += 1
        counts["in_transit"] += res.route == "transit"
        if res.fee_id:
            counts["fees"] += 1
            if rng.random() < 0.5:
                services.fee_pay(
                    actor=None, fee_id=res.fee_id, amount=services.fee_balance(res.fee_id)
                )
                counts["paid"] += 1

    # holds: on titles out on loan (waiting), and on available copies trapped at check-in
    for item in on_loan[:20]:
        patron = rng.choice(patrons)
        try:
            services.hold_place(
                actor=None,
                patron_id=patron.pk,
                record_id=item.record_id,
                pickup_branch_id=rng.choice(branches).pk,
            )
            counts["holds"] += 1
        except DomainError:
            continue
    for item in [next(pool, None) for _ in range(10)]:
        if item is None:
            break
        pickup = item.branch if rng.random() < 0.6 or len(branches) == 1 else rng.choice(branches)
        try:
            services.hold_place(
                actor=None,
                patron_id=rng.choice(patrons).pk,
                record_id=item.record_id,
                pickup_branch_id=pickup.pk,
            )
        except DomainError:
            continue
        counts["holds"] += 1
        res = services.checkin(actor=None, item_barcode=item.barcode, branch_id=item.branch_id)
        counts["on_shelf"] += res.route == "hold_shelf"
        counts["in_transit"] += res.route == "transit"
    return counts
