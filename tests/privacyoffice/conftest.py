"""Fixtures for the privacy office: a branch, a loan rule, patrons, items, staff by role.

Every person and title here is fictional.
"""

from __future__ import annotations

import itertools

import pytest

from quietshelf.accounts.testing import make_staff
from quietshelf.circulation import services as circ_services
from quietshelf.patrons import services as patron_services
from quietshelf.patrons.models import PatronGroup
from tests.factories import BibRecordFactory, BranchFactory, ItemFactory, ItemTypeFactory

_n = itertools.count(1)


@pytest.fixture(autouse=True)
def _fresh_config_cache():
    circ_services.config_changed()
    yield
    circ_services.config_changed()


@pytest.fixture
def lib(db):
    branch = BranchFactory(code="POMAIN", name="Main")
    book = ItemTypeFactory(code="BOOK", name="Book")
    adult = PatronGroup.objects.get_or_create(code="adult", defaults={"name": "Adult"})[0]
    circ_services.rule_save(
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
    return {"branch": branch, "book": book, "adult": adult}


@pytest.fixture
def patron(lib):
    def make(**kw):
        n = next(_n)
        kw.setdefault("given_name", f"Sigrid{n}")
        kw.setdefault("family_name", f"Haugland{n}")
        kw.setdefault("barcode", f"PO{n:08d}")
        kw.setdefault("group", lib["adult"])
        kw.setdefault("home_branch", lib["branch"])
        return patron_services.patron_register(actor=None, **kw)

    return make


@pytest.fixture
def item(lib):
    def make(**kw):
        kw.setdefault("barcode", f"39PO{next(_n):08d}")
        return ItemFactory(
            branch=lib["branch"], item_type=lib["book"], record=BibRecordFactory(), **kw
        )

    return make


@pytest.fixture
def lend(lib):
    def do(patron, item):
        return circ_services.checkout(
            actor=None, item_barcode=item.barcode, patron_id=patron.pk, branch_id=lib["branch"].pk
        )

    return do


@pytest.fixture
def charge(lib):
    def do(patron, amount=2500):
        return circ_services.fee_charge(
            actor=None,
            patron_id=patron.pk,
            fee_type="manual",
            amount=amount,
            branch_id=lib["branch"].pk,
        )

    return do


@pytest.fixture
def officer(lib):
    return make_staff(f"officer{next(_n)}", roles=["privacy-officer"])


@pytest.fixture
def desk(lib):
    return make_staff(f"desk{next(_n)}", roles=["circulation-desk"])


@pytest.fixture
def cataloguer(lib):
    return make_staff(f"cat{next(_n)}", roles=["cataloguer"])
