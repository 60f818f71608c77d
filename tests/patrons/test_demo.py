"""Issue 5 item 14: fictional demo patrons (groups, minors, expired, blocked)."""

from __future__ import annotations

import pytest

from quietshelf.patrons.demo import create_demo_patrons
from quietshelf.patrons.models import Block, ContactPoint, Patron, PatronGroup

pytestmark = pytest.mark.django_db


def test_demo_patrons_are_varied_and_fictional():
    counts = create_demo_patrons(n=60)
    assert counts["patrons"] == 60 == Patron.objects.count()
    assert counts["minors"] > 0 and counts["expired"] > 0 and counts["blocked"] > 0
    assert Block.objects.count() == counts["blocked"]
    assert PatronGroup.objects.count() >= 5
    assert Patron.objects.values("group").distinct().count() >= 3
    for c in ContactPoint.objects.filter(kind="email"):
        assert c.value.endswith(("@example.org", "@example.net"))
    again = create_demo_patrons(n=5)
    assert again["patrons"] == 5 and Patron.objects.count() == 65
