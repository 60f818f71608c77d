"""SEC-XSS-1 in a real browser: markup saved in a notice template cannot act when an
administrator previews it (the hostile pass of issue 13 created a staff account this way)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from quietshelf.accounts import mfa
from quietshelf.accounts.models import StaffUser
from quietshelf.accounts.services import root_unit
from quietshelf.accounts.testing import TEST_PASSWORD, add_totp, make_staff
from quietshelf.notices.models import NoticeTemplate

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]


def _payload(org_unit_id: int) -> str:
    return (
        '<div id="injected" hx-post="/staff/accounts/new/" hx-trigger="load" '
        'hx-include="[name=csrfmiddlewaretoken]" '
        'hx-vals=\'{"username":"x-injected","role":"report-reader",'
        f'"org_unit":"{org_unit_id}"}}\'>Your hold is ready.</div>'
        '<img src="/x" onerror="document.title=\'pwned\'">'
        "<script>document.title='pwned'</script>"
    )


def test_previewing_injected_htmx_sends_nothing_sec_xss_1(page):
    admin = make_staff("browser-xss", roles=["administrator"])
    key = add_totp(admin)
    payload = _payload(root_unit().pk)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)

    page.goto("/staff/login/")
    page.get_by_label("Username").fill("browser-xss")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label(re.compile("Code from your authenticator")).fill(mfa.totp_code(key))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/staff/$"))

    page.goto("/staff/notices/templates/hold_ready/en/email/")
    page.get_by_label("Text").fill(payload)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Template saved.")).to_be_visible()
    assert NoticeTemplate.objects.get().body == payload  # kept as the library's plain text

    posts.clear()
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#preview")
    expect(preview).to_contain_text('hx-post="/staff/accounts/new/"')  # shown as text
    expect(preview).to_have_attribute("hx-disable", "")
    assert page.locator("#injected").count() == 0  # no element was made from the text
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1000)  # htmx would have fired its "load" trigger long before

    assert [u for u in posts if "/staff/accounts/" in u] == []
    assert not StaffUser.objects.filter(username="x-injected").exists()
    assert page.title() != "pwned"
    # htmx on staff pages runs with eval off and same-origin requests only
    config = page.evaluate("() => [htmx.config.allowEval, htmx.config.selfRequestsOnly]")
    assert config == [False, True]
