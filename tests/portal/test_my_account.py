"""My account (PRV-DSR-1/2/3, SEC-AUTH-1, SEC-CSRF-1, SEC-URL-1) and GET /api/v1/me."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from django.test import Client

from quietshelf.patrons.models import ContactPoint
from quietshelf.portal.models import SignInFailure
from quietshelf.privacy import consent, inventory
from quietshelf.privacy.models import AuditEntry, ConsentRecord

from .conftest import PASSWORD, sign_in, trained_admin

pytestmark = pytest.mark.django_db

ACCOUNT_PAGES = [
    "/account/",
    "/account/my-data/",
    "/account/my-data/export.json",
    "/account/my-data/export.csv",
    "/account/contact/",
    "/account/password/",
    "/account/consents/",
    "/account/access-log/",
]


def _email(patron) -> str:
    return str(ContactPoint.objects.get(patron=patron, kind="email").value)


def _declared_patron_fields() -> list[str]:
    return sorted(
        {f"{i.model_label}.{i.field}" for i in inventory.items() if "patron" in i.subjects}
    )


# --- everything held (PRV-DSR-1, PRV-DSR-2) ------------------------------------------------


def test_my_data_shows_every_declared_patron_field_prv_dsr_1(signed_in, patron):
    """Nothing added by hand: every field the inventory declares for patrons is on the page."""
    fields = _declared_patron_fields()
    assert "patrons.Patron.given_name" in fields and "patrons.ContactPoint.value" in fields
    page = signed_in.get("/account/my-data/")
    assert page.status_code == 200
    body = page.content.decode()
    shown = set(re.findall(r'data-field="([^"]+)"', body))
    missing = [f for f in fields if f not in shown]
    assert not missing, f"declared patron fields missing from My data: {missing}"
    # the patron's own values are there, secrets are not
    assert "ada.holm@example.org" in body
    assert "230099990001" in body
    assert patron.password_hash not in body
    assert "argon2" not in body


def test_my_data_json_export_covers_every_field_prv_dsr_2(signed_in, patron):
    response = signed_in.get("/account/my-data/export.json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    data = json.loads(response.content)
    exported = {f"{t['table']}.{f['field']}" for t in data["tables"] for f in t["fields"]}
    assert set(_declared_patron_fields()) <= exported
    patron_table = next(t for t in data["tables"] if t["table"] == "patrons.Patron")
    assert patron_table["rows"][0]["family_name"] == patron.family_name
    assert patron_table["rows"][0]["password_hash"] == "set"
    assert AuditEntry.objects.filter(
        action="exported", actor_type="patron", actor_id=str(patron.pk)
    ).exists()


def test_my_data_csv_export_prv_dsr_2(signed_in, patron):
    response = signed_in.get("/account/my-data/export.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:4] == ["table", "row", "field", "value"]
    tables_fields = {f"{r[0]}.{r[2]}" for r in rows[1:]}
    assert set(_declared_patron_fields()) <= tables_fields
    assert any(r[3] == "ada.holm@example.org" for r in rows[1:])


# --- contact data with re-authentication (PRV-DSR-3, SEC-AUTH-1) -------------------------------


def test_email_change_needs_password_sec_auth_1(signed_in, patron):
    response = signed_in.post(
        "/account/contact/", {"email": "ada.new@example.org", "phone": "", "address": ""}
    )
    assert response.status_code == 403
    assert _email(patron) == "ada.holm@example.org"
    response = signed_in.post(
        "/account/contact/",
        {"email": "ada.new@example.org", "phone": "", "address": "", "password": "wrong-one-11"},
    )
    assert response.status_code == 403
    assert _email(patron) == "ada.holm@example.org"
    assert SignInFailure.objects.count() == 1  # a wrong password counts towards the lock-out
    response = signed_in.post(
        "/account/contact/",
        {"email": "ada.new@example.org", "phone": "", "address": "", "password": PASSWORD},
    )
    assert response.status_code == 302
    assert _email(patron) == "ada.new@example.org"
    assert AuditEntry.objects.filter(
        action="changed", object_id=str(patron.pk), actor_type="patron"
    ).exists()


def test_phone_change_needs_password_sec_auth_1(signed_in, patron):
    response = signed_in.post(
        "/account/contact/",
        {"email": "ada.holm@example.org", "phone": "+47 411 22 333", "address": ""},
    )
    assert response.status_code == 403
    assert not ContactPoint.objects.filter(patron=patron, kind="phone").exists()


def test_address_change_without_password_prv_dsr_3(signed_in, patron):
    response = signed_in.post(
        "/account/contact/",
        {"email": "ada.holm@example.org", "phone": "", "address": "Storgata 1\n0155 Oslo"},
    )
    assert response.status_code == 302
    assert str(ContactPoint.objects.get(patron=patron, kind="address").value).startswith(
        "Storgata 1"
    )


def test_bad_email_is_a_form_error(signed_in, patron):
    response = signed_in.post(
        "/account/contact/",
        {"email": "no-at-sign", "phone": "", "address": "", "password": PASSWORD},
    )
    assert response.status_code == 400
    assert _email(patron) == "ada.holm@example.org"


def test_change_password_keeps_this_session_ends_others_sec_ses_1(signed_in, patron):
    other = Client()
    assert sign_in(other, "230099990001").status_code == 302
    wrong = signed_in.post(
        "/account/password/",
        {
            "old_password": "nope-nope-12",
            "password1": "new-birch-path-5",
            "password2": "new-birch-path-5",
        },
    )
    assert wrong.status_code == 403
    ok = signed_in.post(
        "/account/password/",
        {
            "old_password": PASSWORD,
            "password1": "new-birch-path-5",
            "password2": "new-birch-path-5",
        },
    )
    assert ok.status_code == 302
    assert signed_in.get("/account/").status_code == 200
    assert other.get("/account/").status_code == 302


# --- consents ----------------------------------------------------------------------------


@pytest.fixture
def newsletter_scope():
    consent.register_scope("test_newsletter", description="Send me the library newsletter")
    yield "test_newsletter"
    consent.unregister_scope("test_newsletter")


def test_consents_give_and_withdraw_prv_con_1(signed_in, patron, newsletter_scope):
    page = signed_in.get("/account/consents/")
    assert "Send me the library newsletter" in page.content.decode()
    signed_in.post("/account/consents/", {"scope": newsletter_scope, "action": "give"})
    assert consent.has_consent(subject_id=patron.subject_id, scope=newsletter_scope)
    signed_in.post("/account/consents/", {"scope": newsletter_scope, "action": "withdraw"})
    assert not consent.has_consent(subject_id=patron.subject_id, scope=newsletter_scope)
    assert ConsentRecord.objects.filter(subject_id=patron.subject_id).count() == 1


def test_unknown_consent_scope_is_an_error_not_500(signed_in):
    response = signed_in.post("/account/consents/", {"scope": "no_such", "action": "give"})
    assert response.status_code == 302


# --- who looked at my record (PRV-ACC-1) ---------------------------------------------------


def test_access_log_shows_role_and_day_not_name(signed_in, patron):
    from quietshelf.patrons import selectors as patron_selectors

    admin = trained_admin("hidden-staff-name")
    patron_selectors.patron_get(actor=admin, patron_id=patron.pk)
    page = signed_in.get("/account/access-log/").content.decode()
    assert "viewed" in page
    assert "Library staff (Administrator)" in page  # the role, now
    assert "hidden-staff-name" not in page
    assert str(admin.pk) not in page


# --- IDOR: patron A never reaches patron B (SEC-ACC-1) ------------------------------------------


def test_patron_a_never_sees_patron_b_on_any_route(signed_in, patron, other_patron):
    secrets_of_b = [
        "bo.strand@example.net",
        "230099990002",
        "Strandvik",
        "912 34 567",
        str(other_patron.pk),
    ]
    for url in ACCOUNT_PAGES + ["/api/v1/me", "/api/v1/me/data"]:
        response = signed_in.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        for value in secrets_of_b:
            assert value not in body, f"{value!r} of patron B on {url}"


def test_patron_a_removing_b_contact_is_404_and_audited(signed_in, patron, other_patron):
    b_contact = ContactPoint.objects.filter(patron=other_patron).first()
    response = signed_in.post(f"/account/contact/{b_contact.pk}/remove/", {"password": PASSWORD})
    assert response.status_code == 404
    assert ContactPoint.objects.filter(pk=b_contact.pk).exists()
    assert AuditEntry.objects.filter(
        action="access_denied", actor_id=str(patron.pk), object_id=str(b_contact.pk)
    ).exists()


def test_patron_removes_own_address(signed_in, patron):
    signed_in.post(
        "/account/contact/",
        {"email": "ada.holm@example.org", "phone": "", "address": "Kirkeveien 3"},
    )
    address = ContactPoint.objects.get(patron=patron, kind="address")
    response = signed_in.post(f"/account/contact/{address.pk}/remove/")
    assert response.status_code == 302
    assert not ContactPoint.objects.filter(pk=address.pk).exists()


def test_account_pages_need_sign_in(client):
    for url in ACCOUNT_PAGES:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/account/sign-in/?next=")


def test_no_personal_data_in_any_url_sec_url_1(signed_in, patron):
    values = ["230099990001", "ada.holm", "example.org", str(patron.pk), str(patron.family_name)]
    for url in ACCOUNT_PAGES:
        body = signed_in.get(url).content.decode()
        for link in re.findall(r'(?:href|action)="([^"]*)"', body):
            for value in values:
                assert value not in link, f"{value!r} in a URL on {url}: {link}"


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/account/contact/", {"email": "x@example.org", "password": PASSWORD}),
        ("/account/password/", {"old_password": PASSWORD, "password1": "a", "password2": "a"}),
        ("/account/consents/", {"scope": "x", "action": "give"}),
        ("/account/sign-out/", {}),
        ("/account/password/forgot/", {"identifier": "230099990001"}),
        ("/account/register/", {"given_name": "X"}),
    ],
)
def test_csrf_missing_is_403_on_every_form_sec_csrf_1(patron, url, data):
    client = Client(enforce_csrf_checks=True)
    page = client.get("/account/sign-in/")
    token = page.cookies["csrftoken"].value if "csrftoken" in page.cookies else None
    assert token
    ok = client.post(
        "/account/sign-in/",
        {"identifier": "230099990001", "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert ok.status_code == 302
    assert client.post(url, data).status_code == 403


# --- API: /api/v1/me -----------------------------------------------------------------------


def test_api_me_needs_patron_session(client, patron):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_api_me_returns_own_record_only(signed_in, patron, other_patron):
    data = signed_in.get("/api/v1/me").json()
    assert data["id"] == str(patron.pk)
    assert data["family_name"] == patron.family_name
    assert [c["barcode"] for c in data["cards"]] == ["230099990001"]
    assert any(c["value"] == "ada.holm@example.org" for c in data["contacts"])
    assert signed_in.get("/api/v1/me")["Cache-Control"] == "no-store"


def test_api_me_data_covers_every_field(signed_in):
    data = signed_in.get("/api/v1/me/data").json()
    exported = {f"{t['table']}.{f['field']}" for t in data["tables"] for f in t["fields"]}
    assert set(_declared_patron_fields()) <= exported


def test_staff_session_is_not_a_patron_for_api_me(client):
    admin = trained_admin("api-staff")
    client.force_login(admin)
    assert client.get("/api/v1/me").status_code == 401


def test_script_in_name_is_escaped_everywhere_sec_xss_1(client, make_patron):
    make_patron(
        email="xss.case@example.org",
        barcode="230088880001",
        given_name="<script>alert('given')</script>",
        family_name='"><img src=x onerror=alert(1)>',
    )
    assert sign_in(client, "230088880001").status_code == 302
    for url in ["/account/", "/account/my-data/", "/account/contact/", "/account/access-log/"]:
        body = client.get(url).content.decode()
        assert "<script>alert('given')</script>" not in body, url
        assert "<img src=x onerror" not in body, url
    assert "&lt;script&gt;" in client.get("/account/").content.decode()


def test_my_data_query_count_does_not_grow_with_rows(
    signed_in, patron, django_assert_max_num_queries
):
    """One query per table, not per row (Rules 9)."""
    from tests.queries import own_queries

    few = own_queries(signed_in, "/account/my-data/")
    from quietshelf.patrons import services as patron_services

    for n in range(6):
        patron_services.contact_add(
            actor=None, patron_id=patron.pk, kind="phone", value=f"+47 400 00 0{n:02d}"
        )
    assert own_queries(signed_in, "/account/my-data/") == few


def test_my_data_starts_with_the_patrons_own_record_in_sections(signed_in, patron):
    """Issue 17 item 9: the patron's own data first, a list of sections, the kinds of data
    with nothing held folded away."""
    body = signed_in.get("/account/my-data/").content.decode()
    tables = re.findall(r'<section class="held" data-table="([^"]+)"', body)
    assert tables[0] == "patrons.Patron"
    assert 'class="toc"' in body and 'href="#held-1"' in body
    folded = body.split('<details class="held-nothing">', 1)
    assert len(folded) == 2 and "none held about you" in folded[1]
    assert "ada.holm@example.org" in folded[0]
