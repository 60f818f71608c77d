"""Browser flow (Playwright + Debian chromium): patron sign-in → My account → edit e-mail
with re-authentication → sign out (issue 5 item 15; PRV-AUTH-1, SEC-AUTH-1, SEC-SES-1)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from quietshelf.patrons.models import ContactPoint

from .conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]


def test_patron_sign_in_my_account_edit_email_with_reauth_sign_out(page, make_patron):
    patron = make_patron(
        email="liv.aasen@example.org",
        barcode="230077770001",
        given_name="Liv",
        family_name="Aasen",
    )

    page.goto("/account/")
    expect(page).to_have_url(re.compile(r"/account/sign-in/\?next="))
    page.get_by_label("Card number or e-mail address").fill("230077770001")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(re.compile(r"/account/$"))
    expect(page.get_by_role("heading", name="My account")).to_be_visible()
    expect(page.locator("#patron-name")).to_have_text("Liv Aasen")

    page.get_by_role("link", name="Change my contact details").click()
    form = page.locator("#contact-form")
    form.get_by_label("E-mail address").fill("liv.new@example.org")
    form.get_by_role("button", name="Save").click()
    # no password given: refused, nothing changed
    expect(page.get_by_role("alert").first).to_contain_text("current password")
    assert str(ContactPoint.objects.get(patron=patron, kind="email").value) == (
        "liv.aasen@example.org"
    )

    form = page.locator("#contact-form")
    form.get_by_label("E-mail address").fill("liv.new@example.org")
    form.get_by_label("Current password").fill(PASSWORD)
    form.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Your contact details are saved.")).to_be_visible()
    assert str(ContactPoint.objects.get(patron=patron, kind="email").value) == (
        "liv.new@example.org"
    )

    page.locator("#sign-out").click()
    expect(page).to_have_url(re.compile(r"/account/sign-in/$"))
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.goto("/account/my-data/")
    expect(page).to_have_url(re.compile(r"/account/sign-in/\?next="))
