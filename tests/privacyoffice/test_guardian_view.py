"""Minors through the pages (PRV-MNR-1, issue 16 acceptance 9).

My account's guardian page shows a signed-in guardian the record of each minor
linked to them as guarantor when the configured rule is "by_law", each look
audited; when the rule is "none" it shows nothing of any minor. An adult linked
the same way, or a minor linked to someone else, is never shown. Under-age
registration at the staff page waits for a guardian's consent where configured.
"""

from __future__ import annotations

import pytest

from quietshelf.accounts.testing import make_staff, signed_in_client
from quietshelf.patrons.models import Patron, ProxyLink
from quietshelf.privacy.models import AuditEntry
from quietshelf.privacyoffice import services
from tests.privacyoffice.test_erasure import patron_client
from tests.privacyoffice.test_minors import years_ago

pytestmark = pytest.mark.django_db(databases="__all__")
PAGE = "/account/privacy/guardian/"


@pytest.fixture
def family(patron):
    parent = patron(given_name="Marit", family_name="Lyngstad", date_of_birth=years_ago(41))
    child = patron(
        given_name="Eirik", family_name="Lyngstad", date_of_birth=years_ago(9), barcode="POKID0001"
    )
    grown = patron(given_name="Tone", family_name="Lyngstad", date_of_birth=years_ago(22))
    other = patron(given_name="Oda", family_name="Brekke", date_of_birth=years_ago(8))
    for ward in (child, grown):
        ProxyLink.objects.create(patron=ward, proxy=parent, kind="guarantor")
    return {"parent": parent, "child": child, "grown": grown, "other": other}


def viewed(patron_id) -> int:
    return AuditEntry.objects.filter(
        action="viewed", object_id=str(patron_id), reason="guardian"
    ).count()


def test_guardian_rule_by_law_shows_the_linked_minors_record_prv_mnr_1(family, settings):
    settings.QUIETSHELF_GUARDIAN_ACCESS = "by_law"
    page = patron_client(family["parent"]).get(PAGE)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Eirik Lyngstad" in text and "POKID0001" in text  # the minor's own record
    assert "Tone" not in text  # an adult, though linked the same way
    assert "Oda" not in text  # a minor linked to someone else
    assert viewed(family["child"].pk) == 1 and viewed(family["grown"].pk) == 0
    entry = AuditEntry.objects.get(action="viewed", reason="guardian")
    assert (entry.actor_type, entry.actor_id) == ("patron", str(family["parent"].pk))


def test_guardian_rule_none_shows_nothing_prv_mnr_1(family, settings):
    settings.QUIETSHELF_GUARDIAN_ACCESS = "none"
    page = patron_client(family["parent"]).get(PAGE)
    assert page.status_code == 200
    text = page.content.decode()
    assert "no access to a child" in text
    assert "Eirik" not in text and "POKID0001" not in text
    assert viewed(family["child"].pk) == 0


def test_a_patron_who_is_nobodys_guardian_sees_no_child_prv_mnr_1(family, settings):
    settings.QUIETSHELF_GUARDIAN_ACCESS = "by_law"
    text = patron_client(family["other"]).get(PAGE).content.decode()
    assert "Eirik" not in text and "Lyngstad" not in text  # a minor is nobody's guardian
    text = patron_client(family["grown"]).get(PAGE).content.decode()
    assert "No child is linked to you" in text and "Eirik" not in text
    assert patron_client(family["parent"]).get("/account/privacy/").content.decode().count(PAGE)


def test_guardian_page_needs_sign_in_prv_mnr_1(client):
    r = client.get(PAGE)
    assert r.status_code == 302 and r["Location"].startswith("/account/sign-in/?next=")


def test_under_age_registration_at_the_staff_page_waits_for_consent_prv_mnr_1(
    lib, family, settings
):
    settings.QUIETSHELF_MINOR_CONSENT_AGE = 16
    manager = make_staff("minor-registrar", roles=["patron-manager"])
    web = signed_in_client(manager)
    base = {
        "family_name": "Nygaard",
        "status": "active",
        "notification_channel": "email",
        "home_branch": "POMAIN",
        "group": "adult",
    }
    born = years_ago(11).isoformat()
    r = web.post(
        "/staff/patrons/new/",
        {**base, "given_name": "Lise", "barcode": "POKID0002", "date_of_birth": born},
    )
    assert r.status_code == 302, r.content[:2000]
    young = Patron.objects.get(pk=r["Location"].rstrip("/").split("/")[-1])
    assert young.status == "pending"  # waits for the guardian
    adult = years_ago(30).isoformat()
    r = web.post(
        "/staff/patrons/new/",
        {**base, "given_name": "Kjell", "barcode": "POADULT01", "date_of_birth": adult},
    )
    assert r.status_code == 302
    assert Patron.objects.get(pk=r["Location"].rstrip("/").split("/")[-1]).status == "active"
    services.guardian_consent(actor=manager, minor_id=young.pk, guardian_id=family["parent"].pk)
    assert Patron.objects.get(pk=young.pk).status == "active"
