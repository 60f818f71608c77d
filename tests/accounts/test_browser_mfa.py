"""Browser flows (Playwright + Debian chromium): sign-in with TOTP, enrolment, security key."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from quietshelf.accounts import mfa
from quietshelf.accounts.models import StaffTOTPDevice, WebAuthnCredential
from quietshelf.accounts.testing import TEST_PASSWORD, add_totp, make_staff

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]


def _password_step(page, username: str) -> None:
    page.goto("/staff/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_staff_sign_in_with_totp_lands_on_staff_home_prv_acc_2(page):
    user = make_staff("browser-totp", roles=["patron-manager"])
    key = add_totp(user)
    _password_step(page, "browser-totp")
    expect(page).to_have_url(re.compile(r"/staff/accounts/verify/$"))
    page.get_by_label(re.compile("Code from your authenticator")).fill(mfa.totp_code(key))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/staff/$"))
    page.goto("/staff/accounts/security/")
    expect(page.locator("#usable-perms")).to_contain_text("patrons.view_patron")


def test_first_sign_in_enrols_an_authenticator_prv_acc_2(page):
    make_staff("browser-new", roles=["circulation-desk"])
    _password_step(page, "browser-new")
    expect(page).to_have_url(re.compile(r"/staff/$"))
    page.goto("/staff/accounts/security/")
    expect(page.locator("#mfa-needed")).to_be_visible()
    page.get_by_role("button", name="Add an authenticator app").click()
    expect(page.locator("#totp-qr svg")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text()
    key = StaffTOTPDevice.objects.get().key
    assert mfa.secret_base32(key) == secret
    page.get_by_label("Six-digit code shown by the app").fill(mfa.totp_code(key))
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)


def test_security_key_registration_and_sign_in_with_a_virtual_authenticator(page):
    """PRV-ACC-2: WebAuthn through Chromium's virtual authenticator (CDP)."""
    make_staff("browser-key", roles=["circulation-desk"])
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": False,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    _password_step(page, "browser-key")
    expect(page).to_have_url(re.compile(r"/staff/$"))
    page.goto("/staff/accounts/security/")
    page.get_by_role("button", name="Add a security key").click()
    expect(page.locator("#webauthn-keys li")).to_contain_text("Security key")
    assert WebAuthnCredential.objects.count() == 1
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/staff/login/"))
    _password_step(page, "browser-key")
    expect(page).to_have_url(re.compile(r"/staff/accounts/verify/$"))
    page.get_by_role("button", name="Use my security key").click()
    expect(page).to_have_url(re.compile(r"/staff/$"))
    assert WebAuthnCredential.objects.get().last_used_at is not None
