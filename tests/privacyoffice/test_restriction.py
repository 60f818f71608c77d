"""Restriction and objection (PRV-DSR-5, CAT-3): a restricted patron's data is kept but not
used, on every path: desk and API check-out (refused without an override), notices (jobs
queue none), patron loads (not overwritten); the patron is told before it is lifted;
objections are recorded with the processing they object to."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from time_machine import travel

from quietshelf.accounts.testing import make_staff, signed_in_client
from quietshelf.circulation.models import Loan
from quietshelf.core import clock
from quietshelf.core.errors import DomainError, InvalidInput
from quietshelf.notices import services as notice_services
from quietshelf.notices.models import Notice
from quietshelf.patrons.models import Patron
from quietshelf.privacyoffice import services

pytestmark = pytest.mark.django_db(databases="__all__")
API = "/api/v1/privacy-office"


@pytest.fixture
def restricted(patron, officer):
    p = patron(email="kari.restricted@example.org")
    services.restriction_apply(actor=officer, patron_id=p.pk)
    return Patron.objects.get(pk=p.pk)


def test_checkout_refused_without_override_service_and_api_prv_dsr_5(restricted, item, lib, desk):
    it = item()
    with pytest.raises(DomainError) as exc:
        services_checkout(restricted, it, lib)
    assert exc.value.details["refusals"] == ["patron_restricted"]
    assert exc.value.details["overridable"] is True
    api = signed_in_client(desk)
    body = {
        "item_barcode": it.barcode,
        "patron_id": str(restricted.pk),
        "branch_id": lib["branch"].pk,
    }
    r = api.post("/api/v1/circulation/checkout", body, "application/json")
    assert r.status_code == 409 and "restricted" in r.content.decode()
    boss = make_staff("restrict-boss", roles=["circulation-desk", "patron-manager"])
    r = signed_in_client(boss).post(
        "/api/v1/circulation/checkout",
        {**body, "override_reason": "patron asked at the desk"},
        "application/json",
    )
    assert r.status_code == 201, r.content


def services_checkout(patron, it, lib):
    from quietshelf.circulation import services as circ

    return circ.checkout(
        actor=None, item_barcode=it.barcode, patron_id=patron.pk, branch_id=lib["branch"].pk
    )


def test_desk_page_refuses_restricted_patron_prv_dsr_5(patron, item, lib, desk, officer):
    p = patron(barcode="PORESTRICT1")
    services.restriction_apply(actor=officer, patron_id=p.pk)
    client = signed_in_client(desk)
    client.post("/staff/desk/branch/", {"branch_id": lib["branch"].pk})
    client.post("/staff/desk/patron/scan/", {"card": "PORESTRICT1"})
    r = client.post("/staff/desk/checkout/", {"item": item().barcode}, follow=True)
    assert b"restricted" in r.content
    assert not Loan.objects.filter(patron_id=p.pk).exists()


def test_jobs_queue_no_notices_and_queued_ones_are_withdrawn_prv_dsr_5(patron, item, lend, officer):
    p = patron(email="olav.notice@example.org")
    loan = lend(p, item()).loan
    due = timezone.localdate(loan.due_at)
    days = [due + dt.timedelta(days=n) for n in range(-7, 12)]

    def run_jobs():
        for day in days:
            notice_services.queue_due_soon_notices(today=day)
            notice_services.queue_overdue_notices(today=day)

    run_jobs()
    assert Notice.objects.filter(patron=p).exists()  # the path works for an active patron
    services.restriction_apply(actor=officer, patron_id=p.pk)
    assert not Notice.objects.filter(patron=p).exists()  # queued ones withdrawn
    run_jobs()
    assert not Notice.objects.filter(patron=p).exists()  # and none queued again


def test_loads_do_not_overwrite_a_restricted_patron_prv_dsr_5(patron, officer, lib):
    from quietshelf.patrons.services import identifier_add

    p = patron(given_name="Brit", family_name="Solheim")
    identifier_add(actor=None, patron_id=p.pk, type="institutional_id", value="RESTR-1")
    services.restriction_apply(actor=officer, patron_id=p.pk)
    loader = make_staff("loader", roles=["patron-manager"])
    mapping = {
        "match_type": "institutional_id",
        "columns": {"id": "identifier:institutional_id", "name": "name"},
    }
    r = signed_in_client(loader).post(
        "/api/v1/patrons/loads",
        {"mapping": mapping, "rows": [{"id": "RESTR-1", "name": "Changed, Name"}]},
        "application/json",
    )
    assert r.status_code == 200, r.content
    assert r.json()["results"][0]["status"] == "error"
    assert "restricted" in r.json()["results"][0]["message"]
    assert Patron.objects.get(pk=p.pk).family_name == "Solheim"


def test_lifting_needs_the_patron_told_first_prv_dsr_5(restricted, officer):
    with pytest.raises(InvalidInput, match="told first"):
        services.restriction_lift(actor=officer, patron_id=restricted.pk)
    with pytest.raises(InvalidInput, match="later day"):
        services.restriction_announce_lift(
            actor=officer, patron_id=restricted.pk, lift_on=clock.today()
        )
    day = clock.today() + dt.timedelta(days=14)
    services.restriction_announce_lift(actor=officer, patron_id=restricted.pk, lift_on=day)
    told = Notice.objects.get(patron=restricted, notice_type="privacy")
    assert day.isoformat() in told.data["message"]
    with pytest.raises(InvalidInput, match="told first"):
        services.restriction_lift(actor=officer, patron_id=restricted.pk)
    with travel(dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC), tick=False):
        services.restriction_lift(actor=officer, patron_id=restricted.pk)
    assert Patron.objects.get(pk=restricted.pk).status == "active"


def test_restriction_and_objection_api_prv_dsr_5_cat_3(patron, officer, desk):
    api = signed_in_client(officer)
    p = patron()
    r = api.post(f"{API}/patrons/{p.pk}/restriction")
    assert r.status_code == 200 and r.json()["restricted"] is True
    r = api.post(f"{API}/patrons/{p.pk}/restriction")
    assert r.status_code == 409 and r.json()["error"]["code"] == "restricted"
    r = api.post(f"{API}/patrons/{p.pk}/restriction/lift")
    assert r.status_code == 400 and r.json()["error"]["code"] == "patron_not_told"
    r = signed_in_client(desk).post(f"{API}/patrons/{p.pk}/restriction")
    assert r.status_code == 403
    r = api.post(
        f"{API}/objections",
        {"processing": "author_display", "channel": "email", "details": "An author objects"},
        "application/json",
    )
    assert r.status_code == 201 and r.json()["kind"] == "objection"
    r = api.post(
        f"{API}/objections", {"processing": "everything", "channel": "email"}, "application/json"
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_processing"
