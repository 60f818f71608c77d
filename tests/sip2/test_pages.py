"""SEC-ACC-1: the staff page for SIP2 terminal accounts (/staff/sip2/), by client and browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from quietshelf.accounts import mfa
from quietshelf.accounts.testing import TEST_PASSWORD, add_totp, make_staff, signed_in_client
from quietshelf.sip2.models import Terminal

URL = "/staff/sip2/"


@pytest.fixture
def admin_client(circ):
    return signed_in_client(make_staff("sip2-page-admin", roles=["administrator"]))


def test_add_terminal_shows_password_once_sec_acc_1(admin_client, circ):
    response = admin_client.post(
        URL,
        {
            "name": "kiosk-page",
            "branch": circ["north"].pk,
            "allowed_messages": ["11", "09", "17"],
            "patron_name": "none",
            "require_pin": "on",
        },
    )
    assert response.status_code == 200
    terminal = Terminal.objects.get(name="kiosk-page")
    password = re.search(r"<code>([^<]+)</code>", response.content.decode()).group(1)
    assert terminal.check_password(password)
    assert terminal.allowed == {"11", "09", "17"}
    assert terminal.patron_name == "none" and terminal.require_pin
    listing = admin_client.get(URL).content.decode()
    assert "kiosk-page" in listing and password not in listing


def test_bad_input_is_a_form_error_sec_acc_1(admin_client, circ):
    response = admin_client.post(
        URL, {"name": "x y", "branch": circ["north"].pk, "patron_name": "first"}
    )
    assert response.status_code == 400
    assert b"terminal name" in response.content
    assert not Terminal.objects.exists()


def test_edit_and_new_password_sec_acc_1(admin_client, circ):
    terminal = Terminal.objects.create(name="kiosk-e", branch=circ["north"], password_hash="x")
    response = admin_client.post(
        f"{URL}{terminal.pk}/",
        {"branch": circ["south"].pk, "allowed_messages": ["09"], "patron_name": "full"},
    )
    assert response.status_code == 302
    terminal.refresh_from_db()
    assert terminal.branch_id == circ["south"].pk
    assert terminal.allowed == {"09"} and not terminal.require_pin and not terminal.active
    page = admin_client.post(f"{URL}{terminal.pk}/password/")
    password = re.search(r"<code>([^<]+)</code>", page.content.decode()).group(1)
    terminal.refresh_from_db()
    assert terminal.check_password(password)
    assert admin_client.get(f"{URL}{terminal.pk}/password/").status_code == 405
    assert admin_client.get(f"{URL}999999/").status_code == 404


def test_page_needs_manage_staff_sec_acc_1(circ):
    desk = signed_in_client(make_staff("sip2-page-desk", roles=["circulation-desk"]))
    assert desk.get(URL).status_code == 403
    assert desk.post(URL, {"name": "kiosk-x", "branch": circ["north"].pk}).status_code == 403
    assert not Terminal.objects.exists()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_browser_admin_adds_a_terminal_sec_acc_1(page, circ):
    user = make_staff("browser-sip2-admin", roles=["administrator"])
    key = add_totp(user)
    page.goto("/staff/login/")
    page.get_by_label("Username").fill("browser-sip2-admin")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label(re.compile("Code from your authenticator")).fill(mfa.totp_code(key))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/staff/$"))
    page.get_by_role("link", name="Self-check terminals").click()
    form = page.locator("#add-terminal")
    form.get_by_label("Login name").fill("kiosk-browser")
    form.get_by_label("Branch").select_option(label="North")
    form.get_by_role("button", name="Add terminal").click()
    expect(page.locator("#new-password code")).to_be_visible()
    password = page.locator("#new-password code").inner_text()
    expect(page.locator("#terminals")).to_contain_text("kiosk-browser")
    assert Terminal.objects.get(name="kiosk-browser").check_password(password)
