"""RPT-1 / PRV-AGG-1 in a real browser (Debian's chromium): a report reader opens
each report, changes the grouping, downloads the CSV; then the publication form
and the public statistics page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from quietshelf.accounts import mfa
from quietshelf.accounts.testing import TEST_PASSWORD, add_totp, make_staff
from quietshelf.core import clock
from quietshelf.reports.specs import REPORTS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]


def _sign_in(page, username):
    page.goto("/staff/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_rpt_1_open_each_report_change_grouping_and_download_csv(page, facts):
    today = clock.today()
    facts("checkout", today, 12, branch="north")
    facts("checkout", today, 2, branch="south")
    user = make_staff("browser-director", roles=["administrator"])
    key = add_totp(user)
    _sign_in(page, "browser-director")
    page.get_by_label(re.compile("Code from your authenticator")).fill(mfa.totp_code(key))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/staff/$"))
    page.get_by_role("link", name="Reports").first.click()
    expect(page.locator("h1")).to_have_text("Reports")

    for spec in REPORTS.values():
        page.goto(f"/staff/reports/{spec.slug}/")
        expect(page.locator("h1")).to_have_text(str(spec.title))
        expect(page.locator("#report-table")).to_be_visible()
        # change the grouping: tick every grouping after the first, untick the defaults
        boxes = page.locator("#report-form input[name=by]")
        for i in range(boxes.count()):
            box = boxes.nth(i)
            (box.uncheck if box.is_checked() else box.check)()
        page.get_by_role("button", name="Show").click()
        expect(page.locator("#report-table")).to_be_visible()
        expect(page.locator("#report-error")).to_have_count(0)
        with page.expect_download() as info:
            page.locator("#csv-link").click()
        download = info.value
        assert download.suggested_filename.startswith(spec.slug)
        text = open(download.path(), encoding="utf-8").read()
        header = text.splitlines()[0]
        assert str(spec.measures[0].label) in header

    # circulation by branch, then bad input, then the publication form and publishing it
    page.goto("/staff/reports/circulation/?period=none&by=branch")
    expect(page.locator("#chart-bars svg")).to_be_visible()
    expect(page.locator("#report-table tbody")).to_contain_text("North")
    page.get_by_label("From").fill("2026-06-01")
    page.get_by_label("To").fill("2026-05-01")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#report-error")).to_contain_text("ends before it starts")
    page.goto("/staff/reports/circulation/?period=none&by=branch")
    page.get_by_label("For publication (small cells suppressed)").check()
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#report-table tbody")).to_contain_text("<5")
    expect(page.locator("#legend")).to_be_visible()
    page.get_by_label("Show on the public statistics page").check()
    page.get_by_role("button", name="Publish in the publication form").click()
    expect(page.locator(".messages")).to_contain_text("public statistics page")

    page.goto("/statistics/")
    page.get_by_role("link", name="Circulation").click()
    expect(page.locator("#report-table tbody")).to_contain_text("<5")
    south = page.locator("#report-table tbody tr", has_text="South")
    expect(south.locator("td").first).to_have_text("<5")
