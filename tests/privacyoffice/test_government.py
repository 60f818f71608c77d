"""Government and law-enforcement requests (PRV-GOV-1, PRV-3P-1): ALA checklist; release only
by the authorised officer with a fresh second factor (refusals audited); the disclosure log
lists the exact records; the patron is told unless an order forbids it, reminded on the day
it ends; the yearly transparency report counts only; the canary stops while a gag stands."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from time_machine import travel

from quietshelf.accounts import mfa
from quietshelf.accounts.testing import add_totp, make_staff, signed_in_client
from quietshelf.core import clock
from quietshelf.core.errors import Conflict, InvalidInput
from quietshelf.notices.models import Notice
from quietshelf.privacy.models import AuditEntry
from quietshelf.privacyoffice import services
from quietshelf.privacyoffice.models import DisclosureEntry, GovernmentRequest
from quietshelf.privacyoffice.services import ReleaseRefused

pytestmark = pytest.mark.django_db(databases="__all__")
API = "/api/v1/privacy-office/government"
ALL_YES = dict(court_competent=True, good_cause=True, proper_form=True, scope_limited=True)


@pytest.fixture
def authorised(lib):
    user = make_staff("authorised-1", roles=["authorised-officer"])
    user.totp_key = add_totp(user)
    return user


def _request(officer, patron, **kw):
    kw.setdefault("kind", "court_order")
    kw.setdefault("agency", "District Court of Example")
    return services.government_request_open(actor=officer, patron_id=patron.pk, **kw)


def test_release_by_authorised_officer_logs_exact_records_prv_gov_1(
    patron, item, lend, officer, authorised
):
    p = patron()
    loan = lend(p, item()).loan
    req = _request(officer, p, scope="Loans of the named patron")
    with pytest.raises(InvalidInput, match="checklist is not complete"):
        services.government_release(
            actor=authorised, request_id=req.pk, code=mfa.totp_code(authorised.totp_key),
            categories=["loans"],
        )  # fmt: skip
    services.government_checklist(actor=officer, request_id=req.pk, **ALL_YES)
    entries = services.government_release(
        actor=authorised,
        request_id=req.pk,
        code=mfa.totp_code(authorised.totp_key, at=clock.now().timestamp() + 30),
        categories=["loans"],
    )
    assert [(e.record_type, e.record_id) for e in entries] == [("circulation.loan", str(loan.pk))]
    req.refresh_from_db()
    assert req.status == "released" and req.notify_due_on == clock.today()
    assert AuditEntry.objects.filter(
        action="disclosed", object_type="patrons.patron", object_id=str(p.pk)
    ).exists()


def test_release_without_role_or_fresh_second_factor_is_refused_and_audited_prv_gov_1(
    patron, officer, authorised
):
    req = _request(officer, patron())
    services.government_checklist(actor=officer, request_id=req.pk, **ALL_YES)
    add_totp(officer)
    with pytest.raises(ReleaseRefused, match="Only the authorised officer"):
        services.government_release(
            actor=officer, request_id=req.pk, code="123456", categories=["account"]
        )
    with pytest.raises(ReleaseRefused, match="not right"):
        services.government_release(
            actor=authorised, request_id=req.pk, code="000000", categories=["account"]
        )
    reasons = list(
        AuditEntry.objects.filter(action="gov_release_refused").values_list("reason", flat=True)
    )
    assert reasons == ["no_authorised_officer_role", "no_fresh_second_factor"]
    assert not DisclosureEntry.objects.exists()
    with pytest.raises(ReleaseRefused):
        services.government_release(actor=None, request_id=req.pk, code="", categories=["fees"])


def test_gag_order_delays_notice_and_reminds_on_the_day_it_ends_prv_gov_1(
    patron, officer, authorised
):
    today = clock.today()
    req = _request(officer, patron(), gag_until=today + dt.timedelta(days=10))
    services.government_checklist(actor=officer, request_id=req.pk, **ALL_YES)
    services.government_release(
        actor=authorised,
        request_id=req.pk,
        code=mfa.totp_code(authorised.totp_key),
        categories=["account"],
    )
    req.refresh_from_db()
    assert req.notify_due_on == today + dt.timedelta(days=10)
    with pytest.raises(InvalidInput, match="forbids"):
        services.government_patron_notified(actor=officer, request_id=req.pk)
    assert services.government_notice_reminders(today=today) == 0
    assert services.government_notice_reminders(today=today + dt.timedelta(days=10)) == 1
    with travel(dt.datetime.combine(today + dt.timedelta(days=10), dt.time(12), tzinfo=dt.UTC)):
        services.government_patron_notified(actor=officer, request_id=req.pk)
    told = Notice.objects.get(notice_type="privacy", patron_id=req.patron_id)
    assert "District Court of Example" in told.data["message"]
    with pytest.raises(Conflict, match="gag order"):
        services.canary_sign(actor=officer, valid_days=30)


def test_transparency_report_counts_only_prv_gov_1(patron, officer):
    p = patron()
    _request(officer, p, agency="County Police", kind="informal")
    req = _request(officer, p)
    services.government_refuse(actor=officer, request_id=req.pk)
    page = Client().get("/privacy/transparency/")
    text = page.content.decode()
    assert page.status_code == 200 and f"year-{clock.today().year}" in text
    assert "County Police" not in text and str(p.pk) not in text
    assert '<td class="received">2</td>' in text and '<td class="refused">1</td>' in text


def test_government_api_with_denial_and_bad_input_prv_gov_1(patron, officer, authorised, desk):
    api = signed_in_client(officer)
    p = patron()
    r = api.post(
        API,
        {"kind": "court_order", "agency": "High Court", "patron_id": str(p.pk)},
        "application/json",
    )
    assert r.status_code == 201, r.content
    rid = r.json()["id"]
    r = api.post(API, {"kind": "rumour", "agency": "x"}, "application/json")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_kind_of_order"
    r = api.post(f"{API}/{rid}/checklist", ALL_YES, "application/json")
    assert r.json()["checklist_complete"] is True
    r = api.post(
        f"{API}/{rid}/release", {"code": "123456", "categories": ["account"]}, "application/json"
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "release_refused"
    officer_api = signed_in_client(authorised)
    r = officer_api.post(
        f"{API}/{rid}/release",
        {"code": mfa.totp_code(authorised.totp_key), "categories": ["account", "fees"]},
        "application/json",
    )
    assert r.status_code == 200, r.content
    assert ["patrons.patron", str(p.pk)] in [[e["record_type"], e["record_id"]] for e in r.json()]
    logged = api.get(f"{API}/{rid}/disclosures").json()
    assert len(logged) == len(r.json())
    assert signed_in_client(desk).get(f"{API}/{rid}").status_code == 403
    assert GovernmentRequest.objects.get(pk=rid).status == "released"


def test_government_pages_release_with_code_prv_gov_1(patron, officer, authorised):
    req = _request(officer, patron())
    client = signed_in_client(authorised)
    url = f"/staff/privacy-office/government/{req.pk}/"
    data = {f"check-{k}": "on" for k in ALL_YES}
    assert client.post(url, {"action": "checklist", **data}).status_code == 302
    r = client.post(
        url, {"action": "release", "release-categories": ["account"], "release-code": "999999"}
    )
    assert r.status_code == 403 and "not right" in r.content.decode()
    r = client.post(
        url,
        {
            "action": "release",
            "release-categories": ["account"],
            "release-code": mfa.totp_code(authorised.totp_key),
        },
    )
    assert r.status_code == 302
    page = client.get(url).content.decode()
    assert "patrons.patron" in page and "Records released" in page
    assert signed_in_client(officer).get("/staff/privacy-office/government/").status_code == 200
