"""Request cases (PRV-DSR-6, PRV-DSR-3): outside self-service, identity step recorded (how and
by whom, never the document), legal deadline with reminders, outcome; dashboard by deadline."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from quietshelf.accounts.testing import signed_in_client
from quietshelf.core import clock
from quietshelf.core.errors import InvalidInput, PermissionDenied
from quietshelf.privacy.models import AuditEntry
from quietshelf.privacyoffice import selectors, services
from quietshelf.privacyoffice.errors import CaseClosed
from quietshelf.privacyoffice.models import RequestCase
from tests.privacyoffice.test_erasure import patron_client

pytestmark = pytest.mark.django_db(databases="__all__")
API = "/api/v1/privacy-office/cases"


def test_letter_case_with_identity_and_outcome_prv_dsr_6(patron, officer, settings):
    settings.QUIETSHELF_REQUEST_DEADLINE_DAYS = 30
    p = patron()
    received = clock.today() - dt.timedelta(days=3)
    case = services.case_open(
        actor=officer,
        kind="access",
        channel="letter",
        patron_id=p.pk,
        details="Copy of my data, please",
        received_on=received,
    )
    assert case.due_on == received + dt.timedelta(days=30)
    case = services.case_verify_identity(actor=officer, case_id=case.pk, method="document_seen")
    assert case.identity_checked_by == officer and case.identity_method == "document_seen"
    case = services.case_close(actor=officer, case_id=case.pk, status="done", note="Sent by post")
    assert case.status == "done" and str(case.outcome_note) == "Sent by post"
    with pytest.raises(CaseClosed):
        services.case_close(actor=officer, case_id=case.pk, status="done")
    actions = set(
        AuditEntry.objects.filter(object_id=str(case.pk)).values_list("action", flat=True)
    )
    assert {"case_opened", "identity_checked", "case_closed"} <= actions


def test_correction_done_lists_recipients_told_prv_dsr_6(patron, officer, settings):
    settings.QUIETSHELF_PROCESSORS = [{"name": "Hosting AS"}]
    case = services.rectification_request_by_patron(
        patron_id=patron().pk, details="My family name is spelt Haugland"
    )
    case = services.case_close(actor=officer, case_id=case.pk, status="done", note="Corrected")
    assert case.recipients_told == ["Hosting AS"]


def test_bad_input_is_refused_prv_dsr_6(patron, officer, desk):
    with pytest.raises(InvalidInput):
        services.case_open(actor=officer, kind="nonsense", channel="letter")
    with pytest.raises(InvalidInput):
        services.case_open(
            actor=officer,
            kind="access",
            channel="letter",
            received_on=clock.today() + dt.timedelta(days=2),
        )
    with pytest.raises(PermissionDenied):
        services.case_open(actor=desk, kind="access", channel="letter")
    case = services.case_open(actor=officer, kind="access", channel="email")
    with pytest.raises(InvalidInput):
        services.case_close(actor=officer, case_id=case.pk, status="refused")  # needs a why
    with pytest.raises(InvalidInput):
        services.case_verify_identity(actor=officer, case_id=case.pk, method="passport_copy")
    erasure = services.erasure_request_by_patron(patron_id=patron().pk)
    with pytest.raises(InvalidInput, match="use Erase"):
        services.case_close(actor=officer, case_id=erasure.pk, status="done")


def test_past_deadline_is_shown_and_never_silently_closed_prv_dsr_6(
    officer, lib, settings, django_capture_on_commit_callbacks
):
    settings.QUIETSHELF_CONTROLLER = {"name": "Test library", "contact": "dpo@library.example"}
    old = services.case_open(
        actor=officer,
        kind="erasure",
        channel="letter",
        received_on=clock.today() - dt.timedelta(days=45),
    )
    fresh = services.case_open(actor=officer, kind="access", channel="desk")
    rows = selectors.case_rows(actor=officer)
    assert [r.case.pk for r in rows] == [old.pk, fresh.pk]
    assert rows[0].urgency == "overdue" and rows[0].days_overdue == 15
    with django_capture_on_commit_callbacks(execute=True):
        assert services.case_reminders() == 1
    assert services.case_reminders() == 0  # once a day
    assert RequestCase.objects.get(pk=old.pk).status == "open"
    assert len(mail.outbox) == 1 and "1 request(s)" in mail.outbox[0].body
    assert "erasure" not in mail.outbox[0].body  # counts only
    page = signed_in_client(officer).get("/staff/privacy-office/")
    text = page.content.decode()
    assert page.status_code == 200 and "overdue by 15 days" in text
    assert "1 request is past its legal deadline" in text


def test_case_pages_open_identity_close_prv_dsr_6(patron, officer, desk):
    client = signed_in_client(officer)
    p = patron()
    r = client.post(
        "/staff/privacy-office/cases/new/",
        {"kind": "rectification", "channel": "letter", "patron_id": str(p.pk), "details": "x"},
    )
    assert r.status_code == 302
    case = RequestCase.objects.get(patron=p)
    url = f"/staff/privacy-office/cases/{case.pk}/"
    r = client.post(url, {"action": "identity", "id-method": "card_and_pin"})
    assert r.status_code == 302
    r = client.post(url, {"action": "close", "close-status": "refused", "close-note": ""})
    assert r.status_code == 400 and "Say why" in r.content.decode()
    r = client.post(url, {"action": "close", "close-status": "done", "close-note": "Fixed"})
    assert r.status_code == 302
    case.refresh_from_db()
    assert case.status == "done" and case.identity_method == "card_and_pin"
    r = client.post("/staff/privacy-office/cases/new/", {"kind": "access", "channel": "x"})
    assert r.status_code == 400
    assert signed_in_client(desk).get("/staff/privacy-office/").status_code == 403


def test_cases_api_per_route_with_denial_and_query_count_prv_dsr_6(
    patron, officer, desk, django_assert_max_num_queries
):
    api = signed_in_client(officer)
    r = api.post(API, {"kind": "objection", "channel": "email"}, "application/json")
    assert r.status_code == 201, r.content
    cid = r.json()["id"]
    assert r.json()["due_on"] == (clock.today() + dt.timedelta(days=30)).isoformat()
    for _ in range(3):
        services.case_open(actor=officer, kind="access", channel="letter")
    with django_assert_max_num_queries(12):
        listed = api.get(API)
    assert listed.status_code == 200 and len(listed.json()) == 4
    r = api.post(f"{API}/{cid}/identity", {"method": "known_contact"}, "application/json")
    assert r.status_code == 200 and r.json()["identity_method"] == "known_contact"
    r = api.post(f"{API}/{cid}/close", {"status": "withdrawn"}, "application/json")
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    r = api.post(f"{API}/{cid}/close", {"status": "withdrawn"}, "application/json")
    assert r.status_code == 409 and r.json()["error"]["code"] == "case_closed"
    assert api.get(f"{API}/{cid}").json()["status"] == "withdrawn"
    r = signed_in_client(desk).get(API)
    assert r.status_code == 403 and r.json()["error"]["code"] == "permission_denied"
    r = api.post(API, {"kind": "access", "channel": "carrier pigeon"}, "application/json")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_channel"


def test_patron_asks_for_correction_in_my_account_prv_dsr_3(patron):
    p = patron()
    client = patron_client(p)
    r = client.post("/account/privacy/correct/", {"details": ""})
    assert r.status_code == 400
    r = client.post("/account/privacy/correct/", {"details": "Date of birth is wrong"})
    assert r.status_code == 302
    case = RequestCase.objects.get(patron=p)
    assert case.kind == "rectification" and str(case.details) == "Date of birth is wrong"
    assert "Correct my data" in client.get("/account/privacy/").content.decode()
