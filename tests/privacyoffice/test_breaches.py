"""Breach incidents (PRV-BRE-1): scope → affected patrons (a count first, then the list for
the notice job) → a reviewed notice through the notices outbox → everything logged; the
72-hour clock; a scope that matches nobody says "0 patrons" and sends nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from quietshelf.accounts.testing import signed_in_client
from quietshelf.core.errors import InvalidInput, PermissionDenied
from quietshelf.notices import services as notice_services
from quietshelf.notices.models import Notice
from quietshelf.privacy.models import AuditEntry
from quietshelf.privacyoffice import selectors, services
from tests.factories import BranchFactory

pytestmark = pytest.mark.django_db(databases="__all__")
API = "/api/v1/privacy-office/breaches"


def _record(actor, **kw):
    now = timezone.now()
    kw.setdefault("title", "Laptop with a patron export stolen")
    kw.setdefault("what_happened", "A laptop holding an export of the register was stolen.")
    kw.setdefault("discovered_at", now - dt.timedelta(hours=2))
    kw.setdefault("window_start", now - dt.timedelta(days=1))
    kw.setdefault("window_end", now)
    kw.setdefault("data_categories", ["identity", "contact"])
    return services.breach_record(actor=actor, **kw)


def test_scope_gives_count_then_reviewed_notice_goes_through_outbox_prv_bre_1(lib, patron, officer):
    other = BranchFactory(code="POOTHER", name="Other")
    inside = [patron(email=f"reader{n}@example.org") for n in range(3)]
    patron(home_branch=other)
    incident = _record(officer, branch_ids=[lib["branch"].pk])
    view = selectors.breach_get(actor=officer, incident_id=incident.pk)
    assert view.affected == 3
    assert 69 < view.hours_left <= 70
    with pytest.raises(InvalidInput, match="Review"):
        services.breach_send_notices(actor=officer, incident_id=incident.pk)
    services.breach_review_notice(
        actor=officer,
        incident_id=incident.pk,
        headline="A security incident at the library",
        text="A laptop was stolen on Monday. It held names and e-mail addresses. "
        "We have ... Contact dpo@library.example.",
    )
    result = services.breach_send_notices(actor=officer, incident_id=incident.pk)
    assert (result.affected, result.queued) == (3, 3)
    notices = Notice.objects.filter(notice_type="privacy")
    assert {n.patron_id for n in notices} == {p.pk for p in inside}
    subject, body = notice_services.render_notice("privacy", "en", "email", notices[0].data)
    assert subject == "A security incident at the library" and "laptop was stolen" in body
    again = services.breach_send_notices(actor=officer, incident_id=incident.pk)
    assert again.queued == 0 and Notice.objects.filter(notice_type="privacy").count() == 3
    actions = list(
        AuditEntry.objects.filter(object_id=str(incident.pk)).values_list("action", flat=True)
    )
    assert actions[:3] == ["breach_recorded", "breach_notice_reviewed", "breach_notices"]


def test_scope_matching_nobody_says_zero_and_sends_nothing_prv_bre_1(lib, patron, officer):
    patron()
    incident = _record(officer, data_categories=["circulation"])  # nobody has loans
    services.breach_review_notice(
        actor=officer, incident_id=incident.pk, headline="Incident", text="Details."
    )
    api = signed_in_client(officer)
    r = api.post(f"{API}/{incident.pk}/send")
    assert r.status_code == 200 and r.json() == {
        "affected": 0,
        "queued": 0,
        "message": "0 patrons: the scope matches nobody, nothing sent.",
    }
    assert not Notice.objects.exists()


def test_circulation_scope_reaches_patrons_with_loans_in_the_window_prv_bre_1(
    patron, item, lend, officer
):
    borrower = patron()
    patron()
    lend(borrower, item())
    incident = _record(officer, data_categories=["circulation"])
    assert list(selectors.affected_patrons(incident).values_list("pk", flat=True)) == [borrower.pk]


def test_bad_scope_and_permission_prv_bre_1(lib, officer, desk):
    now = timezone.now()
    with pytest.raises(InvalidInput, match="ends before"):
        _record(officer, window_start=now, window_end=now - dt.timedelta(days=1))
    with pytest.raises(InvalidInput, match="data categories"):
        _record(officer, data_categories=["gossip"])
    with pytest.raises(PermissionDenied):
        _record(desk)


def test_breach_api_and_pages_prv_bre_1(lib, patron, officer, desk):
    patron()
    api = signed_in_client(officer)
    now = timezone.now()
    body = {
        "title": "Misdirected e-mail",
        "what_happened": "A list went to the wrong address.",
        "discovered_at": (now - dt.timedelta(hours=80)).isoformat(),
        "window_start": (now - dt.timedelta(days=5)).isoformat(),
        "window_end": now.isoformat(),
        "data_categories": ["contact"],
    }
    r = api.post(API, body, "application/json")
    assert r.status_code == 201, r.content
    data = r.json()
    assert data["affected"] == 1 and data["hours_left"] < 0
    r = signed_in_client(desk).get(f"{API}/{data['id']}")
    assert r.status_code == 403
    r = api.post(API, {**body, "data_categories": []}, "application/json")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_categories"
    page = api.get(f"/staff/privacy-office/breaches/{data['id']}/")
    text = page.content.decode()
    assert page.status_code == 200 and "deadline passed" in text and "1 patron" in text
    r = api.post(
        f"/staff/privacy-office/breaches/{data['id']}/",
        {"action": "notice", "headline": "", "text": ""},
    )
    assert r.status_code == 400
    r = api.post(f"/staff/privacy-office/breaches/{data['id']}/", {"action": "authority"})
    assert r.status_code == 302
    assert (
        "supervisory authority was told"
        in api.get(f"/staff/privacy-office/breaches/{data['id']}/").content.decode()
    )
