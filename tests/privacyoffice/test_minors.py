"""Minors (PRV-MNR-1): the guardian rule is enforced, not only displayed; under-age
registration waits for a guardian's consent where configured."""

from __future__ import annotations

import datetime as dt

import pytest

from quietshelf.accounts.testing import signed_in_client
from quietshelf.core import clock
from quietshelf.core.dates import years_before
from quietshelf.core.errors import InvalidInput, PermissionDenied
from quietshelf.patrons.models import Patron, ProxyLink
from quietshelf.privacy.models import AuditEntry
from quietshelf.privacyoffice import services

pytestmark = pytest.mark.django_db(databases="__all__")


def years_ago(n: int) -> dt.date:
    return years_before(clock.today(), n) - dt.timedelta(days=10)


def test_under_age_registration_waits_for_guardian_consent_prv_mnr_1(patron, settings):
    settings.QUIETSHELF_MINOR_CONSENT_AGE = 16
    child = patron(date_of_birth=years_ago(12))
    teen = patron(date_of_birth=years_ago(17))
    assert (child.status, teen.status) == ("pending", "active")
    settings.QUIETSHELF_MINOR_CONSENT_AGE = 0
    assert patron(date_of_birth=years_ago(12)).status == "active"  # not configured: no wait


def test_guardian_consent_activates_and_links_prv_mnr_1(patron, settings):
    settings.QUIETSHELF_MINOR_CONSENT_AGE = 16
    child = patron(date_of_birth=years_ago(10))
    parent = patron(date_of_birth=years_ago(40))
    with pytest.raises(InvalidInput, match="adult"):
        services.guardian_consent(actor=None, minor_id=parent.pk, guardian_id=child.pk)
    services.guardian_consent(actor=None, minor_id=child.pk, guardian_id=parent.pk)
    assert Patron.objects.get(pk=child.pk).status == "active"
    assert ProxyLink.objects.filter(patron=child, proxy=parent, kind="guarantor").exists()
    with pytest.raises(InvalidInput, match="does not wait"):
        services.guardian_consent(actor=None, minor_id=child.pk, guardian_id=parent.pk)


def test_guardian_rule_none_refuses_and_audits_prv_mnr_1(patron, officer, settings):
    settings.QUIETSHELF_GUARDIAN_ACCESS = "none"
    child = patron(date_of_birth=years_ago(11))
    parent = patron(date_of_birth=years_ago(38))
    ProxyLink.objects.create(patron=child, proxy=parent, kind="guarantor")
    with pytest.raises(PermissionDenied, match="no access"):
        services.guardian_request_open(
            actor=officer, minor_id=child.pk, guardian_id=parent.pk, kind="access", channel="desk"
        )
    assert AuditEntry.objects.filter(
        action="guardian_refused", reason="guardian_rule_none"
    ).exists()


def test_guardian_rule_by_law_allows_only_the_linked_guardian_of_a_minor_prv_mnr_1(
    patron, officer, settings
):
    settings.QUIETSHELF_GUARDIAN_ACCESS = "by_law"
    child = patron(date_of_birth=years_ago(11))
    parent, stranger = patron(date_of_birth=years_ago(38)), patron(date_of_birth=years_ago(50))
    adult = patron(date_of_birth=years_ago(30))
    ProxyLink.objects.create(patron=child, proxy=parent, kind="guarantor")
    ProxyLink.objects.create(patron=adult, proxy=parent, kind="guarantor")
    api = signed_in_client(officer)
    body = {
        "minor_id": str(child.pk),
        "guardian_id": str(stranger.pk),
        "kind": "access",
        "channel": "desk",
    }
    r = api.post("/api/v1/privacy-office/guardian-requests", body, "application/json")
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_the_guardian"
    r = api.post(
        "/api/v1/privacy-office/guardian-requests",
        {**body, "minor_id": str(adult.pk), "guardian_id": str(parent.pk)},
        "application/json",
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_a_minor"
    r = api.post(
        "/api/v1/privacy-office/guardian-requests",
        {**body, "guardian_id": str(parent.pk)},
        "application/json",
    )
    assert r.status_code == 201 and r.json()["patron_id"] == str(child.pk)
