"""Fixtures for circulation tests: two branches, item types, groups, rules, patrons, items.

Every person and title here is fictional.
"""

from __future__ import annotations

import itertools

import pytest

from quietshelf.circulation import services
from quietshelf.patrons import services as patron_services
from quietshelf.patrons.models import PatronGroup
from tests.factories import BibRecordFactory, BranchFactory, ItemFactory, ItemTypeFactory

_n = itertools.count(1)


@pytest.fixture(autouse=True)
def _fresh_config_cache():
    """Rolled-back tests can reuse ids (SQLite): start each test with an empty cache."""
    services.config_changed()
    yield
    services.config_changed()


@pytest.fixture
def circ(db):
    """Branches north/south, types book/ref(non-circulating)/laptop, groups, a wildcard rule."""
    north = BranchFactory(code="CNORTH", name="North")
    south = BranchFactory(code="CSOUTH", name="South")
    book = ItemTypeFactory(code="BOOK", name="Book")
    ref = ItemTypeFactory(code="REF", name="Reference")
    ref.circulates = False
    ref.save()
    laptop = ItemTypeFactory(code="LAPTOP", name="Laptop")
    adult = PatronGroup.objects.get_or_create(code="adult", defaults={"name": "Adult"})[0]
    child = PatronGroup.objects.get_or_create(code="kid", defaults={"name": "Child"})[0]
    rule = services.rule_save(
        actor=None,
        loan_period=21,
        renewals_allowed=2,
        fine_per_day_minor=500,
        grace_days=0,
        max_fine_minor=5000,
        fines_open_days_only=True,
        max_loans=50,
        hold_limit=5,
    )
    return {
        "north": north,
        "south": south,
        "book": book,
        "ref": ref,
        "laptop": laptop,
        "adult": adult,
        "child": child,
        "rule": rule,
    }


@pytest.fixture
def patron(circ):
    def make(**kw):
        n = next(_n)
        kw.setdefault("given_name", f"Tove{n}")
        kw.setdefault("family_name", f"Lindqvist{n}")
        kw.setdefault("barcode", f"2300{n:08d}")
        kw.setdefault("group", circ["adult"])
        kw.setdefault("home_branch", circ["north"])
        return patron_services.patron_register(actor=None, **kw)

    return make


@pytest.fixture
def item(circ):
    def make(branch="north", item_type="book", record=None, **kw):
        kw.setdefault("barcode", f"3910{next(_n):08d}")
        return ItemFactory(
            branch=circ[branch],
            item_type=circ[item_type],
            record=record or BibRecordFactory(),
            **kw,
        )

    return make


def age_loan(loan_id, days: int = 2) -> None:
    """Move a loan's due date back, as if lent `days` ago: renewing it now moves the due date
    (a renewal that would not is refused "too soon", CIR-2)."""
    import datetime as dt

    from django.db.models import F

    from quietshelf.circulation.models import Loan

    Loan.objects.filter(pk=loan_id).update(due_at=F("due_at") - dt.timedelta(days=days))


@pytest.fixture
def desk_staff(circ):
    from quietshelf.accounts.testing import make_staff

    return make_staff(f"desk{next(_n)}", roles=["circulation-desk"], org_unit=None)
