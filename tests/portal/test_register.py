"""Self-registration from the public site (PRV-MIN-1, PRV-POL-1, issue 5 item 2)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from quietshelf.patrons.models import ContactPoint, Patron
from quietshelf.privacy import services as privacy_services
from quietshelf.privacy.models import ActorType, PolicyAcknowledgement

from .conftest import link_path, sign_in

pytestmark = pytest.mark.django_db

FORM = {
    "given_name": "Mira",
    "family_name": "Solberg",
    "email": "mira.solberg@example.org",
    "acknowledge": "on",
}


@pytest.fixture(autouse=True)
def _fresh_throttle():
    """Registrations are counted per network in the cache; each test starts at zero."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def policy():
    return privacy_services.policy_version_create(
        actor=None,
        version="2026.1",
        effective_date=dt.date(2026, 1, 1),
        text_markdown="We keep as little as we can about you.",
    )


def _register(client, capture, data):
    with capture(execute=True):
        return client.post("/account/register/", data)


def test_registration_off_by_default(client, settings):
    settings.QUIETSHELF_SELF_REGISTRATION = "off"
    assert client.get("/account/register/").status_code == 404
    assert client.post("/account/register/", FORM).status_code == 404
    assert not Patron.objects.exists()


def test_registration_pending_records_policy_and_minimal_data_prv_min_1(
    client, settings, policy, django_capture_on_commit_callbacks
):
    settings.QUIETSHELF_SELF_REGISTRATION = "pending"
    page = client.get("/account/register/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "2026.1" in body and "We keep as little as we can" in body
    response = _register(
        client, django_capture_on_commit_callbacks, {**FORM, "policy_id": policy.pk}
    )
    assert response.status_code == 200
    patron = Patron.objects.get()
    assert patron.status == "pending"
    assert patron.date_of_birth is None
    # only what was given: one contact point (the e-mail), no phone or address
    assert list(ContactPoint.objects.filter(patron=patron).values_list("kind", flat=True)) == [
        "email"
    ]
    assert PolicyAcknowledgement.objects.filter(
        policy=policy, actor_type=ActorType.PATRON, actor_id=str(patron.pk)
    ).exists()
    # a link to choose a password, and nothing more, went to the address given
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["mira.solberg@example.org"]
    # pending: even with a password set, no sign-in until approved
    client.get(link_path(mail.outbox[0].message()))
    client.post(
        "/account/password/new/",
        {"password1": "gentle-harbour-31", "password2": "gentle-harbour-31"},
    )
    assert sign_in(client, "mira.solberg@example.org", "gentle-harbour-31").status_code == 400


def test_registration_immediate_then_sign_in(
    client, settings, policy, django_capture_on_commit_callbacks
):
    settings.QUIETSHELF_SELF_REGISTRATION = "immediate"
    _register(
        client,
        django_capture_on_commit_callbacks,
        {**FORM, "policy_id": policy.pk, "phone": "+47 400 00 000"},
    )
    patron = Patron.objects.get()
    assert patron.status == "active"
    assert sorted(ContactPoint.objects.filter(patron=patron).values_list("kind", flat=True)) == [
        "email",
        "phone",
    ]
    client.get(link_path(mail.outbox[0].message()))
    client.post(
        "/account/password/new/",
        {"password1": "gentle-harbour-31", "password2": "gentle-harbour-31"},
    )
    assert sign_in(client, "mira.solberg@example.org", "gentle-harbour-31").status_code == 302
    # a card number was issued, so the desk can find the patron (PAT-1)
    assert patron.cards.filter(active=True).count() == 1


def test_registration_needs_acknowledgement(client, settings, policy):
    settings.QUIETSHELF_SELF_REGISTRATION = "immediate"
    data = {k: v for k, v in FORM.items() if k != "acknowledge"}
    response = client.post("/account/register/", {**data, "policy_id": policy.pk})
    assert response.status_code == 200
    assert 'class="errorlist"' in response.content.decode()
    assert not Patron.objects.exists()


def test_registration_refuses_stale_policy_version(client, settings, policy):
    settings.QUIETSHELF_SELF_REGISTRATION = "immediate"
    response = client.post("/account/register/", {**FORM, "policy_id": policy.pk + 1000})
    assert "has changed" in response.content.decode()
    assert not Patron.objects.exists()


def test_registration_bad_email_and_script_in_name(client, settings, policy):
    settings.QUIETSHELF_SELF_REGISTRATION = "immediate"
    response = client.post(
        "/account/register/",
        {**FORM, "email": "not-an-address", "given_name": "<script>alert(1)</script>"},
    )
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in response.content.decode()
    assert not Patron.objects.exists()


def test_known_address_gets_a_link_not_a_second_account(
    client, settings, policy, patron, django_capture_on_commit_callbacks
):
    """Same answer as a new registration (no probing), no duplicate patron."""
    settings.QUIETSHELF_SELF_REGISTRATION = "immediate"
    response = _register(
        client,
        django_capture_on_commit_callbacks,
        {**FORM, "email": "Ada.Holm@example.org", "policy_id": policy.pk},
    )
    assert response.status_code == 200
    assert "Thank you for registering" in response.content.decode()
    assert Patron.objects.count() == 1
    assert mail.outbox[0].to == ["ada.holm@example.org"]
    assert "/account/password/link/" in mail.outbox[0].body


def test_registrations_throttled_per_network_sec_dos_1(client, settings, policy):
    from django.core.cache import cache

    cache.clear()
    settings.QUIETSHELF_SELF_REGISTRATION = "immediate"
    settings.QUIETSHELF_REGISTRATIONS_PER_HOUR = 2
    for n in range(3):
        response = client.post(
            "/account/register/",
            {**FORM, "email": f"person{n}@example.org", "policy_id": policy.pk},
        )
    assert "Too many registrations" in response.content.decode()
    assert Patron.objects.count() == 2
    cache.clear()
