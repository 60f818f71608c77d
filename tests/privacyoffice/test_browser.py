"""Browser flows (Playwright + Debian chromium) for the privacy office.

Erasure (PRV-DSR-4): the patron signs in to My account, sees the exceptions first and asks;
the privacy officer signs in with a second factor, opens the case from the dashboard, sees
the exceptions, confirms and erases. A request case (PRV-DSR-6): a letter is recorded,
identity checked, the case closed; an overdue one is shown with its days overdue.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from quietshelf.accounts import mfa
from quietshelf.accounts.testing import TEST_PASSWORD, add_totp, make_staff
from quietshelf.core import clock
from quietshelf.patrons.models import Patron
from quietshelf.privacyoffice import services
from quietshelf.privacyoffice.models import RequestCase

from .test_erasure import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]


def staff_sign_in(page, username: str, key: str) -> None:
    page.goto("/staff/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label(re.compile("Code from your authenticator")).fill(mfa.totp_code(key))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/staff/$"))


def test_patron_asks_then_officer_erases_in_the_browser_prv_dsr_4(page, patron, charge, settings):
    settings.QUIETSHELF_ERASURE_UNRESOLVED_FEES = "keep"
    p = patron(barcode="PO77770001", given_name="Runa", family_name="Eikrem")
    p.set_password(PASSWORD)
    p.save(update_fields=["password_hash"])
    charge(p, 1500)

    page.goto("/account/privacy/erase/")
    expect(page).to_have_url(re.compile(r"/account/sign-in/\?next="))
    page.get_by_label("Card number or e-mail address").fill("PO77770001")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/account/privacy/erase/$"))
    expect(page.locator("#exceptions")).to_contain_text("kept as a financial record")
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Ask for erasure").click()
    expect(page).to_have_url(re.compile(r"/account/privacy/$"))
    expect(page.locator("#my-requests")).to_contain_text("Erase my account")

    officer = make_staff("po-browser", roles=["privacy-officer"])
    key = add_totp(officer)
    staff_page = page.context.browser.new_context(base_url=page.url.split("/account")[0]).new_page()
    staff_sign_in(staff_page, "po-browser", key)
    staff_page.goto("/staff/privacy-office/")
    staff_page.locator("#cases").get_by_role("link", name="Erase my account").click()
    expect(staff_page.locator("#exceptions")).to_contain_text("kept as a financial record")
    staff_page.get_by_label("Reason").select_option("patron_request")
    staff_page.get_by_label(re.compile("erase this account for good")).check()
    staff_page.get_by_role("button", name="Erase for good").click()
    expect(staff_page.locator("#erased")).to_contain_text("The account is erased")
    assert not Patron.objects.filter(pk=p.pk).exists()
    assert RequestCase.objects.get(kind="erasure").status == "done"
    staff_page.context.close()


def test_officer_records_checks_and_closes_a_letter_case_prv_dsr_6(page, lib):
    officer = make_staff("po-cases", roles=["privacy-officer"])
    key = add_totp(officer)
    services.case_open(
        actor=None,
        kind="access",
        channel="email",
        received_on=clock.today() - dt.timedelta(days=40),
    )
    staff_sign_in(page, "po-cases", key)
    page.goto("/staff/privacy-office/")
    expect(page.locator("#overdue-count")).to_contain_text("past its legal deadline")
    expect(page.locator("#cases")).to_contain_text("overdue by 10 days")

    page.get_by_role("link", name="Record a request (letter, e-mail, desk)").click()
    page.get_by_label("What the person asks for").select_option("objection")
    page.get_by_label("How the request came").select_option("letter")
    page.get_by_label("What was asked").fill("Objects to display of personal details")
    page.get_by_role("button", name="Open the case").click()
    expect(page.locator("#case-status")).to_have_text("Open")
    page.get_by_label("How identity was checked").select_option("document_seen")
    page.get_by_role("button", name="Record the identity check").click()
    expect(page.locator("#case-identity")).to_contain_text("Photo identity document")
    page.get_by_label("Outcome").select_option("done")
    page.get_by_label("What was done and why").fill("Display removed")
    page.get_by_role("button", name="Close the case").click()
    expect(page.locator("#case-status")).to_have_text("Done")
    case = RequestCase.objects.get(kind="objection")
    assert case.identity_checked_by_id == officer.pk and case.status == "done"
