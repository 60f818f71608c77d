# ruff: noqa: F811
"""Browser flows of the patron's self-service pages (Playwright + Debian chromium).

sign in → loans → renew (CIR-2); record page → place hold → queue position → cancel (CIR-3);
reading history: opt in → see → export → delete (PRV-HIST-3, PRV-CON-1). No JavaScript
on any of these pages: plain links and forms.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from quietshelf.circulation import services
from quietshelf.circulation.models import Hold, Loan, ReadingHistoryEntry

# the circulation fixtures (branches, rules, items); tests take them as arguments
from tests.circulation.conftest import _fresh_config_cache, age_loan, circ, item  # noqa: F401
from tests.factories import BibRecordFactory

from .conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]


@pytest.fixture
def reader(make_patron, circ):
    return make_patron(
        email="sigrid.moe@example.org",
        barcode="230066660001",
        given_name="Sigrid",
        family_name="Moen",
        home_branch=circ["south"],
        group=circ["adult"],
    )


def sign_in_on(page):
    page.get_by_label("Card number or e-mail address").fill("230066660001")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_loans_renew_cir2(page, circ, reader, item):
    it = item(record=BibRecordFactory(title="Vinden fra havet"))
    loan = services.checkout(
        actor=None, item_barcode=it.barcode, patron_id=reader.pk, branch_id=circ["north"].pk
    ).loan
    age_loan(loan.pk)

    page.goto("/account/")
    sign_in_on(page)
    expect(page.locator("#summary")).to_contain_text("1 loan")
    page.get_by_role("link", name="Loans", exact=True).click()
    expect(page).to_have_url(re.compile(r"/account/loans/$"))
    row = page.locator("tr.loan", has_text="Vinden fra havet")
    expect(row).to_contain_text("2 (0 used)")
    row.get_by_role("button", name="Renew").click()
    expect(page).to_have_url(re.compile(r"/account/loans/$"))
    row = page.locator("tr.loan", has_text="Vinden fra havet")
    expect(row.locator(".renew-result")).to_contain_text("Renewed: now due")
    expect(row).to_contain_text("1 (1 used)")
    assert Loan.objects.get(pk=loan.pk).renewals == 1


def test_record_page_place_hold_queue_position_cancel_cir3(page, circ, reader, make_patron, item):
    it = item(record=BibRecordFactory(title="Morgenen i Bergen"))
    first = make_patron(email="ola.dal@example.org", barcode="230066660002", group=circ["adult"])
    services.hold_place(
        actor=None, patron_id=first.pk, record_id=it.record_id, pickup_branch_id=circ["north"].pk
    )

    page.goto(f"/record/{it.record_id}/")
    assert page.context.cookies() == []  # the public page set no cookie
    page.get_by_role("link", name="Place a hold").click()
    expect(page).to_have_url(re.compile(r"/account/sign-in/\?next="))
    sign_in_on(page)
    expect(page).to_have_url(re.compile(rf"/account/holds/place/{it.record_id}/$"))
    expect(page.get_by_text("Morgenen i Bergen")).to_be_visible()
    expect(page.get_by_label("Pick up at")).to_have_value(str(circ["south"].pk))
    page.get_by_role("button", name="Place the hold").click()

    expect(page).to_have_url(re.compile(r"/account/holds/$"))
    expect(page.get_by_text("You are number 2 in the queue.")).to_be_visible()
    row = page.locator("tr.hold", has_text="Morgenen i Bergen")
    expect(row.locator(".queue-position")).to_have_text("Number 2 in the queue")
    expect(row).to_contain_text("South")
    row.get_by_role("button", name="Cancel hold").click()
    expect(page.get_by_text("Your hold is cancelled.")).to_be_visible()
    expect(page.locator("tr.hold", has_text="Morgenen i Bergen")).to_have_count(0)
    assert not Hold.objects.filter(patron=reader).exists()


def test_reading_history_opt_in_see_export_delete_prv_hist_3(page, circ, reader, item):
    page.goto("/account/reading-history/")
    sign_in_on(page)
    expect(page.locator("#history-off")).to_be_visible()
    page.get_by_role("link", name="Turn on my reading history").click()
    page.locator("tr[data-scope=reading_history]").get_by_role(
        "button", name="Give consent"
    ).click()
    expect(page.get_by_text("Your choice is saved.")).to_be_visible()

    it = item(record=BibRecordFactory(title="Sommer på Hvaler"))
    services.checkout(
        actor=None, item_barcode=it.barcode, patron_id=reader.pk, branch_id=circ["north"].pk
    )
    services.checkin(actor=None, item_barcode=it.barcode, branch_id=circ["north"].pk)

    page.get_by_role("link", name="Reading history", exact=True).click()
    expect(page.locator("#history")).to_contain_text("Sommer på Hvaler")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download as JSON").click()
    data = json.loads(open(info.value.path(), encoding="utf-8").read())
    assert [r["title"] for r in data["reading_history"]] == ["Sommer på Hvaler"]
    with page.expect_download() as info:
        page.get_by_role("link", name="Download as CSV").click()
    assert "Sommer på Hvaler" in open(info.value.path(), encoding="utf-8").read()

    # not confirmed: the browser itself holds the form back (the box is required)
    page.get_by_role("button", name="Delete all").click()
    expect(page.locator("#history")).to_contain_text("Sommer på Hvaler")
    assert ReadingHistoryEntry.objects.filter(patron=reader).count() == 1
    page.get_by_label("Yes, delete my whole reading history.").check()
    page.get_by_role("button", name="Delete all").click()
    expect(page.get_by_text("Your reading history is deleted (1 titles).")).to_be_visible()
    expect(
        page.get_by_text("Nothing yet: titles appear here when you return them.")
    ).to_be_visible()
    assert not ReadingHistoryEntry.objects.filter(patron=reader).exists()
