"""Privacy office pages under /staff/privacy/ (issue 4 item 10)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from quietshelf.privacy import audit, services
from quietshelf.privacy.models import PolicyVersion
from tests.factories import StaffUserFactory

PAGES = [
    "/staff/privacy/",
    "/staff/privacy/report/",
    "/staff/privacy/policies/",
    "/staff/privacy/audit/",
]


@pytest.fixture
def officer(db, client):
    from quietshelf.accounts.testing import make_staff, signed_in_client

    user = make_staff("officer", roles=["privacy-officer"])
    signed_in_client(user, client=client)
    return user


@pytest.mark.parametrize("url", PAGES)
def test_office_pages_need_sign_in(client, db, url):
    response = client.get(url)
    assert response.status_code == 302 and "/staff/login/" in response["Location"]


@pytest.mark.parametrize("url", PAGES)
def test_office_pages_deny_staff_without_the_permission(client, db, url):
    client.force_login(StaffUserFactory(username="clerk"))
    assert client.get(url).status_code == 403


def test_privacy_officer_role_grants_the_office_only_with_mfa_and_training(client, db):
    """PRV-ACC-1/2/3: the office is patron-related data: role + MFA session + training."""
    from quietshelf.accounts.testing import make_staff, signed_in_client

    user = make_staff("dpo", roles=["privacy-officer"])
    assert signed_in_client(user, mfa=False).get("/staff/privacy/").status_code == 403
    untrained = make_staff("dpo2", roles=["privacy-officer"], trained=False)
    assert signed_in_client(untrained).get("/staff/privacy/").status_code == 403
    assert signed_in_client(user, client=client).get("/staff/privacy/").status_code == 200


def test_a_direct_django_permission_or_superuser_without_mfa_is_not_enough(client, db):
    user = StaffUserFactory(username="dpo3", is_superuser=True)
    user.user_permissions.add(Permission.objects.get(codename="view_privacy_office"))
    client.force_login(user)
    assert client.get("/staff/privacy/").status_code == 403


def test_inventory_page_lists_declared_fields(client, officer):
    text = client.get("/staff/privacy/").content.decode()
    assert "accounts.StaffUser.username" in text and "sessions.Session.session_data" in text


def test_report_page_shows_records_of_processing(client, officer):
    text = client.get("/staff/privacy/report/").content.decode()
    assert "Records of processing activities" in text


def test_publish_policy_version_from_the_office(client, officer):
    response = client.post(
        "/staff/privacy/policies/",
        {
            "version": "4.0",
            "effective_date": "2026-02-01",
            "text_markdown": "# New\n\nText",
            "summary_of_changes": "New section",
            "material": "on",
        },
    )
    assert response.status_code == 302
    policy = PolicyVersion.objects.get(version="4.0")
    assert policy.material
    again = client.post(
        "/staff/privacy/policies/",
        {"version": "4.0", "effective_date": "2026-02-01", "text_markdown": "x"},
    )
    assert again.status_code == 200 and b"already exists" in again.content


def test_audit_search_by_object_and_actor_with_chain_status(client, officer):
    subject = services.subject_create(kind="patron")
    other = services.subject_create(kind="patron")
    audit.record(actor=officer, action="viewed", obj=subject)
    audit.record(actor=None, action="viewed", obj=other)
    audit.seal()
    page = client.get("/staff/privacy/audit/", {"object_id": str(subject.pk)})
    text = page.content.decode()
    assert str(subject.pk) in text and str(other.pk) not in text
    assert "audit log intact" in text
    page = client.get("/staff/privacy/audit/", {"actor_id": str(officer.pk)})
    assert str(other.pk) not in page.content.decode()
