"""Issue 5 item 15 (staff part), in a real browser: sign in with TOTP, find a patron by card
number (POST, never in the URL: SEC-URL-1), add an e-mail address, see the audit entries."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from quietshelf.accounts import mfa
from quietshelf.accounts.testing import TEST_PASSWORD, add_totp, make_staff
from quietshelf.patrons import selectors, services

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]


def test_staff_finds_patron_by_barcode_edits_contact_and_sees_audit(page):
    user = make_staff("browser-pm", roles=["patron-manager"])
    key = add_totp(user)
    patron = services.patron_register(
        actor=None, given_name="Vilde", family_name="Kornmo", barcode="BRW-4711"
    )
    page.goto("/staff/login/")
    page.get_by_label("Username").fill("browser-pm")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label(re.compile("Code from your authenticator")).fill(mfa.totp_code(key))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/staff/$"))

    page.goto("/staff/patrons/")
    page.get_by_label("Card number, name, e-mail or identifier").fill("BRW-4711")
    page.get_by_role("button", name="Find").click()
    expect(page).to_have_url(re.compile(rf"/staff/patrons/{patron.pk}/$"))
    assert "BRW" not in page.url
    expect(page.locator("#patron-name")).to_have_text("Vilde Kornmo")

    page.get_by_role("link", name="Add contact").click()
    page.get_by_label("Kind").select_option("email")
    page.get_by_label("Value").fill("vilde.kornmo@example.org")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(rf"/staff/patrons/{patron.pk}/$"))
    expect(page.locator("#contacts")).to_contain_text("vilde.kornmo@example.org")
    expect(page.locator("#history")).to_contain_text("changed")
    expect(page.locator("#history")).to_contain_text("viewed")
    assert selectors.patron_by_email("vilde.kornmo@example.org") == patron
