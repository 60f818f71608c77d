"""SEC-AUTH-1 in a real browser: a locked second factor is shown to its holder and to an
administrator, who lifts the lock."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from quietshelf.accounts import mfa, services
from quietshelf.accounts.models import SecondFactorGuard
from quietshelf.accounts.testing import TEST_PASSWORD, add_totp, make_staff

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]


def _sign_in(page, username: str) -> None:
    page.goto("/staff/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/staff/accounts/verify/$"))


def test_locked_second_factor_shown_and_lifted_by_an_administrator_sec_auth_1(page, settings):
    settings.QUIETSHELF_MFA_MAX_FAILURES = 10
    member = make_staff("browser-locked", roles=["circulation-desk"])
    member_key = add_totp(member)
    for _ in range(10):
        services.second_factor_assertion(user=member, accepted=False)

    _sign_in(page, "browser-locked")
    expect(page.locator("#mfa-locked")).to_contain_text("locked until")
    expect(page.get_by_label(re.compile("Code from your authenticator"))).to_have_count(0)
    page.context.clear_cookies()

    admin = make_staff("browser-unlocker", roles=["administrator"])
    key = add_totp(admin)
    _sign_in(page, "browser-unlocker")
    page.get_by_label(re.compile("Code from your authenticator")).fill(mfa.totp_code(key))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/staff/$"))
    page.goto("/staff/accounts/")
    row = page.locator("#staff-table tr", has_text="browser-locked")
    expect(row.locator(".mfa-locked")).to_contain_text("locked until")
    row.get_by_role("link", name="browser-locked").click()
    expect(page.locator("#mfa-lock")).to_be_visible()
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_text("Two-step sign-in is unlocked.")).to_be_visible()
    assert SecondFactorGuard.objects.get(user=member).locked_until is None

    page.context.clear_cookies()
    _sign_in(page, "browser-locked")
    page.get_by_label(re.compile("Code from your authenticator")).fill(mfa.totp_code(member_key))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/staff/$"))
