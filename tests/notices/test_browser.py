"""SEC-TPL-1 in a real browser: an administrator edits a notice template, saves one with a
syntax error (a readable error, nothing saved), fixes it, previews and saves."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from quietshelf.accounts import mfa
from quietshelf.accounts.testing import TEST_PASSWORD, add_totp, make_staff
from quietshelf.notices.models import NoticeTemplate

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]


def test_admin_fixes_a_broken_notice_template_sec_tpl_1(page):
    user = make_staff("browser-tpl", roles=["administrator"])
    key = add_totp(user)
    page.goto("/staff/login/")
    page.get_by_label("Username").fill("browser-tpl")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label(re.compile("Code from your authenticator")).fill(mfa.totp_code(key))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/staff/$"))

    page.goto("/staff/notices/templates/")
    page.get_by_role("link", name="Hold ready").first.click()
    expect(page).to_have_url(re.compile(r"/staff/notices/templates/hold_ready/en/email/$"))
    page.get_by_label("Text").fill("Ready at {{ pickup_branch }}{% if expires_on %} until")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".errorlist")).to_contain_text("The template has an error")
    assert not NoticeTemplate.objects.exists()

    page.get_by_label("Text").fill("{% load log %}Ready at {{ pickup_branch }}")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".errorlist")).to_contain_text("is not allowed in notices")

    page.get_by_label("Text").fill(
        "Ready at {{ pickup_branch }}{% if expires_on %} until "
        '{{ expires_on|date:"j F" }}{% endif %}.'
    )
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview")).to_contain_text("Ready at North until 5 March.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Template saved.")).to_be_visible()
    expect(page.get_by_text("This is your library's own text.")).to_be_visible()
    assert NoticeTemplate.objects.get().body.startswith("Ready at {{ pickup_branch }}")
