"""Fixtures for the patron register tests: branches in an org tree, scoped staff, patrons.

Every person here is fictional.
"""

from __future__ import annotations

import itertools

import pytest

from quietshelf.accounts import services as account_services
from quietshelf.patrons import services
from quietshelf.patrons.models import PatronGroup
from tests.factories import BranchFactory

_n = itertools.count(1)


@pytest.fixture
def branches(db):
    """Two branches, each with its own org unit under one root."""
    north = BranchFactory(code="NORTH", name="North")
    south = BranchFactory(code="SOUTH", name="South")
    root = account_services.org_unit_create(actor=None, kind="consortium", code="ALL", name="All")
    units = {
        "root": root,
        "north": account_services.org_unit_create(
            actor=None, kind="branch", code="N", name="N", parent=root, branch=north
        ),
        "south": account_services.org_unit_create(
            actor=None, kind="branch", code="S", name="S", parent=root, branch=south
        ),
    }
    return {"north": north, "south": south, "units": units}


@pytest.fixture
def groups(db):
    return {
        code: PatronGroup.objects.get_or_create(code=code, defaults={"name": code.title()})[0]
        for code in ("student", "employee", "child")
    }


@pytest.fixture
def staff_factory(branches):
    from quietshelf.accounts.testing import make_staff

    def make(name: str, roles=("patron-manager",), where: str | None = "root", **kw):
        unit = branches["units"][where] if where else None
        return make_staff(f"{name}{next(_n)}", roles=list(roles), org_unit=unit, **kw)

    return make


@pytest.fixture
def manager(staff_factory):
    """A patron manager for the whole tree."""
    return staff_factory("pm")


@pytest.fixture
def north_desk(staff_factory):
    """A patron manager for the north branch only."""
    return staff_factory("pmnorth", where="north")


@pytest.fixture
def cataloguer(staff_factory):
    """No patron permission anywhere."""
    return staff_factory("cat", roles=("cataloguer",))


@pytest.fixture
def new_patron(branches, groups):
    def make(branch: str = "north", **kw):
        n = next(_n)
        kw.setdefault("given_name", f"Ingrid{n}")
        kw.setdefault("family_name", f"Solbakken{n}")
        kw.setdefault("barcode", f"2100{n:08d}")
        kw.setdefault("group", "student")
        return services.patron_register(actor=None, home_branch=branches[branch], **kw)

    return make
