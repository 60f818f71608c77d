"""Expired cards show as expired everywhere, and staff told why patron data is closed
(issue 17 item 11; PAT-3, SEC-AUTH-1)."""

from __future__ import annotations

import datetime as dt

import pytest

from quietshelf.accounts.testing import make_staff, signed_in_client
from quietshelf.core import clock
from quietshelf.patrons import services

pytestmark = pytest.mark.django_db


def test_expired_card_shows_expired_on_the_staff_record_pat3():
    p = services.patron_register(
        actor=None,
        given_name="Eli",
        family_name="Vik",
        barcode="EXP-CARD-1",
        expiry_date=clock.today() - dt.timedelta(days=60),
    )
    staff = signed_in_client(make_staff("exp-desk", roles=["circulation-desk"]))
    html = staff.get(f"/staff/patrons/{p.pk}/").content.decode()
    assert "Card expired" in html.split('id="patron-status"')[1][:200]


def test_staff_without_a_second_factor_is_told_why_patron_search_is_closed_sec_auth_1():
    user = make_staff("no-factor", roles=["circulation-desk"], mfa=False)
    client = signed_in_client(user, mfa=False)
    r = client.post("/staff/patrons/", {"q": "Vik", "kind": "any"})
    html = r.content.decode()
    assert "Patron data opens only after you sign in with a second factor" in html
    nb = client.post("/staff/patrons/", {"q": "Vik", "kind": "any"}, HTTP_ACCEPT_LANGUAGE="nb")
    assert "Lånerdata åpnes først" in nb.content.decode()
