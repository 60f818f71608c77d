"""CIR-5 in a real browser: an administrator opens /staff/jobs/, presses "Run now",
a real huey consumer runs the job, and the page shows the finished run."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from quietshelf.accounts import mfa
from quietshelf.accounts.testing import TEST_PASSWORD, add_totp, make_staff
from tests.jobs.conftest import sent_rows

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]


def test_cir5_run_now_from_the_jobs_page(page, test_jobs, effect_tables, sqlite_huey, consumer):
    user = make_staff("browser-jobs-admin", roles=["administrator"])
    key = add_totp(user)
    consumer(sqlite_huey)
    page.goto("/staff/login/")
    page.get_by_label("Username").fill("browser-jobs-admin")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label(re.compile("Code from your authenticator")).fill(mfa.totp_code(key))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/staff/$"))

    page.goto("/staff/jobs/")
    row = page.locator("#job-test-effects")
    expect(row.locator(".state")).to_have_text("never run")
    row.get_by_role("button", name="Run test-effects now").click()
    expect(page.locator(".messages")).to_contain_text("test-effects is queued")
    for _ in range(50):
        page.reload()
        if "succeeded" in row.locator(".state").inner_text():
            break
        page.wait_for_timeout(200)
    expect(row.locator(".state")).to_contain_text("succeeded")
    expect(row).to_contain_text("4")
    assert len(sent_rows()) == 4
