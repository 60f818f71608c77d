"""PRV-CON-1/2 consent records and erasure handlers; PRV-POL-1 policy versions."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from quietshelf.privacy import consent, markdown, services
from quietshelf.privacy.errors import ConsentNotActive, UnknownConsentScope
from quietshelf.privacy.models import AuditEntry, ConsentRecord, PolicyAcknowledgement
from tests.factories import StaffUserFactory

erased: list = []


@pytest.fixture
def sample_scope():
    erased.clear()
    consent.register_scope(
        "sample_history", description="Keep a sample history", on_withdraw=erased.append
    )
    yield "sample_history"
    consent.unregister_scope("sample_history")


@pytest.fixture
def subject(db):
    return services.subject_create(kind="patron")


def test_give_check_withdraw_consent_runs_erasure_handler_PRV_CON_1(subject, sample_scope):
    assert not consent.has_consent(subject_id=subject.pk, scope=sample_scope)
    record = services.give_consent(subject_id=subject.pk, scope=sample_scope)
    assert consent.has_consent(subject_id=subject.pk, scope=sample_scope)
    assert services.give_consent(subject_id=subject.pk, scope=sample_scope) == record  # idempotent
    services.withdraw_consent(subject_id=subject.pk, scope=sample_scope)
    assert not consent.has_consent(subject_id=subject.pk, scope=sample_scope)
    assert erased == [subject.pk]
    actions = list(AuditEntry.objects.order_by("seq").values_list("action", flat=True))
    assert actions == ["consent_given", "consent_withdrawn"]


def test_consent_withdrawn_twice_is_a_clear_error_PRV_CON_2(subject, sample_scope):
    """Bad input: consent withdrawn twice."""
    services.give_consent(subject_id=subject.pk, scope=sample_scope)
    services.withdraw_consent(subject_id=subject.pk, scope=sample_scope)
    with pytest.raises(ConsentNotActive, match="no consent in force"):
        services.withdraw_consent(subject_id=subject.pk, scope=sample_scope)
    assert erased == [subject.pk]  # the handler ran once


def test_failing_erasure_handler_rolls_the_withdrawal_back_PRV_CON_2(subject):
    def boom(_subject_id):
        raise RuntimeError("handler failed")

    consent.register_scope("fragile", description="x", on_withdraw=boom)
    try:
        services.give_consent(subject_id=subject.pk, scope="fragile")
        with pytest.raises(RuntimeError):
            services.withdraw_consent(subject_id=subject.pk, scope="fragile")
        assert consent.has_consent(subject_id=subject.pk, scope="fragile")
    finally:
        consent.unregister_scope("fragile")


def test_unknown_scope_is_refused(subject):
    with pytest.raises(UnknownConsentScope):
        services.give_consent(subject_id=subject.pk, scope="nope")


def test_consent_records_the_policy_version_shown(subject, sample_scope):
    policy = services.policy_version_create(
        actor=None, version="1.0", effective_date=dt.date(2020, 1, 1), text_markdown="Text"
    )
    record = services.give_consent(subject_id=subject.pk, scope=sample_scope)
    assert ConsentRecord.objects.get(pk=record.pk).policy_version == policy


def test_markdown_is_rendered_safely_PRV_POL_1():
    html = markdown.render(
        "# Title\n\nHello <script>alert(1)</script> **bold** [x](javascript:alert(1)) "
        "[ok](https://example.org)\n\n- one\n- two"
    )
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "javascript:" not in html
    assert '<a href="https://example.org">ok</a>' in html
    assert "<h2>Title</h2>" in html and "<strong>bold</strong>" in html
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in html


def test_material_change_must_be_acknowledged_at_next_sign_in_PRV_POL_1(db):
    staff = StaffUserFactory(username="policyreader")
    services.policy_version_create(
        actor=None,
        version="2.0",
        effective_date=timezone.localdate() - dt.timedelta(days=1),
        text_markdown="We now keep **less**.",
        summary_of_changes="Shorter retention",
        material=True,
    )
    client = Client(enforce_csrf_checks=True)
    assert client.login(username="PolicyReader", password="correct-horse-battery-9")
    response = client.get("/staff/")
    assert response.status_code == 302
    assert response["Location"].startswith("/privacy/acknowledge/?next=")
    page = client.get(response["Location"])
    assert page.status_code == 200 and b"Shorter retention" in page.content
    assert client.post("/privacy/acknowledge/", {"next": "/staff/"}).status_code == 403  # no CSRF
    token = page.context["csrf_token"]
    done = client.post("/privacy/acknowledge/", {"next": "/staff/", "csrfmiddlewaretoken": token})
    assert done.status_code == 302 and done["Location"] == "/staff/"
    assert PolicyAcknowledgement.objects.filter(actor_id=str(staff.pk)).count() == 1
    home = client.get("/staff/")
    assert home.status_code == 200 and b"Staff home" in home.content
    # the next sign-in does not ask again
    client.logout()
    client.login(username="policyreader", password="correct-horse-battery-9")
    home = client.get("/staff/")
    assert home.status_code == 200 and b"Staff home" in home.content
    assert b"Shorter retention" not in home.content


def test_non_material_change_is_not_asked_for(db):
    StaffUserFactory(username="calm")
    services.policy_version_create(
        actor=None,
        version="2.1",
        effective_date=timezone.localdate(),
        text_markdown="Typo fixed.",
        material=False,
    )
    client = Client()
    client.login(username="calm", password="correct-horse-battery-9")
    home = client.get("/staff/")
    assert home.status_code == 200 and b"Staff home" in home.content
    assert PolicyAcknowledgement.objects.count() == 0
