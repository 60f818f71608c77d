"""The staff Retention page (/staff/retention/): schedule, runs, dry run, legal holds
(PRV-RET-1, PRV-RET-2), in English and Norwegian Bokmål."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone
from playwright.sync_api import expect

from quietshelf.privacy import retention
from quietshelf.privacy.models import AuditEntry, LegalHold
from tests.factories import StaffUserFactory

URL = "/staff/retention/"


@pytest.fixture(autouse=True)
def _fresh_schedule():
    retention.reset_cache()
    yield
    retention.reset_cache()


@pytest.fixture
def officer(db, client):
    from quietshelf.accounts.testing import make_staff, signed_in_client

    user = make_staff("ret-officer", roles=["privacy-officer"])
    signed_in_client(user, client=client)
    return user


def test_page_needs_the_privacy_office_permission_prv_ret_1(client, db):
    assert client.get(URL).status_code == 302
    client.force_login(StaffUserFactory(username="clerk-ret"))
    assert client.get(URL).status_code == 403


def test_page_shows_schedule_next_run_and_holds_prv_ret_1(client, officer):
    text = client.get(URL).content.decode()
    assert retention.schedule()["security_log"].text() in text
    assert "QUIETSHELF_RETENTION_FEE_DAYS" in text and "legal minimum 1825 days" in text
    assert "Next run" in text and "job <code>retention</code>" in text
    assert "No legal holds." in text


def test_officer_changes_a_period_and_bad_input_is_a_form_error_prv_ret_1(client, officer):
    response = client.post("/staff/retention/days/", {"rule": "fee", "days": "100"})
    assert response.status_code == 400 and "legal minimum" in response.content.decode()
    response = client.post("/staff/retention/days/", {"rule": "session", "days": "-2"})
    assert response.status_code == 400 and "must not be negative" in response.content.decode()
    response = client.post("/staff/retention/days/", {"rule": "session", "days": "4"})
    assert response.status_code == 302
    assert retention.schedule()["session"].days == 4
    assert AuditEntry.objects.filter(
        object_type="privacy.retentionrule", actor_id=str(officer.pk)
    ).exists()
    assert "4 days after you sign out" in client.get("/privacy/").content.decode()


def test_dry_run_and_legal_holds_from_the_page_prv_ret_2(client, officer):
    Session.objects.create(
        session_key="z" * 32, session_data="x", expire_date=timezone.now() - dt.timedelta(days=5)
    )
    assert client.post("/staff/retention/dry-run/").status_code == 302
    text = client.get(URL).content.decode()
    assert re.search(r'data-category="sessions">.*?<td class="due">[1-9]', text, re.S)
    bad = client.post("/staff/retention/holds/", {"case_reference": "C-1", "card": "", "rule": ""})
    assert bad.status_code == 400 and "either a card number or a category" in bad.content.decode()
    nobody = client.post("/staff/retention/holds/", {"case_reference": "C-1", "card": "999"})
    assert nobody.status_code == 400 and "No patron has this card number" in nobody.content.decode()
    ok = client.post("/staff/retention/holds/", {"case_reference": "CASE-77", "rule": "session"})
    assert ok.status_code == 302
    hold = LegalHold.objects.get()
    assert "CASE-77" in client.get(URL).content.decode()
    client.post(f"/staff/retention/holds/{hold.pk}/release/")
    hold.refresh_from_db()
    assert hold.released_at is not None


def test_page_in_norwegian_bokmal_prv_ret_1(client, officer):
    text = client.get(URL, HTTP_ACCEPT_LANGUAGE="nb").content.decode()
    assert "Oppbevaring" in text and "Juridiske tilbakeholdelser" in text
    assert "Neste kjøring" in text


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_officer_places_a_hold_and_counts_in_a_browser_prv_ret_2(page):
    from quietshelf.accounts import mfa
    from quietshelf.accounts.testing import TEST_PASSWORD, add_totp, make_staff

    user = make_staff("browser-ret-officer", roles=["privacy-officer"])
    key = add_totp(user)
    page.goto("/staff/login/")
    page.get_by_label("Username").fill("browser-ret-officer")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label(re.compile("Code from your authenticator")).fill(mfa.totp_code(key))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/staff/$"))
    page.goto(URL)
    expect(page.locator("h1")).to_have_text("Retention")
    page.get_by_role("button", name="Count what the next run would do").click()
    expect(page.locator("table.retention-dry")).to_contain_text("expired patrons")
    page.get_by_label("Case reference").fill("CASE-2026-99")
    page.get_by_label("or a whole category").select_option("fee")
    page.get_by_role("button", name="Place the hold").click()
    expect(page.locator("table.legal-holds")).to_contain_text("CASE-2026-99")
    row = page.locator("tr[data-rule='session']")
    row.get_by_label("Days").fill("2")
    row.get_by_role("button", name="Save").click()
    expect(page.locator("tr[data-rule='session']")).to_contain_text("2 days after")
