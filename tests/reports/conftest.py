"""Fixtures for the report tests: the circulation set-up (fictional branches, types,
groups, patrons, items) and a way to write many de-identified facts quickly."""

from __future__ import annotations

import datetime as dt

import pytest

from quietshelf.circulation.models import CirculationEvent

# The circulation fixtures: real loans through the real services.
from tests.circulation.conftest import _fresh_config_cache, circ, item, patron  # noqa: F401


@pytest.fixture
def facts(circ):  # noqa: F811
    """facts(kind, day, n, branch=..., item_type=..., group=...) writes n events."""

    def write(kind: str, day: dt.date, n: int, *, branch="north", item_type="book", group="adult"):
        CirculationEvent.objects.bulk_create(
            [
                CirculationEvent(
                    kind=kind,
                    day=day,
                    branch=circ[branch],
                    item_type=circ[item_type],
                    patron_group=circ[group] if group else None,
                )
                for _ in range(n)
            ]
        )

    return write


@pytest.fixture
def reader(circ):  # noqa: F811
    from quietshelf.accounts.testing import make_staff

    return make_staff("report-reader-1", roles=["report-reader"])


@pytest.fixture
def branch_unit(circ):  # noqa: F811
    """branch_unit("north"): the org unit of a branch under the root (made if missing)."""
    from quietshelf.accounts import services as account_services
    from quietshelf.accounts.models import OrgUnit

    def make(name: str):
        root = OrgUnit.objects.filter(parent__isnull=True).first()
        if root is None:
            root = account_services.org_unit_create(
                actor=None, kind="library", code="LIB", name="Library"
            )
        unit = OrgUnit.objects.filter(branch=circ[name]).first()
        return unit or account_services.org_unit_create(
            actor=None, kind="branch", code=f"U{name}", name=name, parent=root, branch=circ[name]
        )

    return make
