"""Browser flows (Playwright + Debian chromium): staff sign-in → MARC upload →
the record is found in the public search; adding an item with a barcode already
in use shows the form error (issue 3 items 10 and 13)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from quietshelf.catalog.models import BibRecord, Item
from tests.api.conftest import make_marc
from tests.factories import BranchFactory, ItemFactory, ItemTypeFactory, StaffUserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]

PASSWORD = "correct-horse-battery-9"  # the factory's password


def _sign_in(page, username: str, next_path: str) -> None:
    page.goto(f"/staff/login/?next={next_path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(re.escape(next_path) + "$"))


def test_staff_sign_in_upload_marc_then_found_in_public_search(page, tmp_path):
    StaffUserFactory(username="browser-cataloguer", is_superuser=True)
    marc_file = tmp_path / "new-books.mrc"
    marc_file.write_bytes(
        make_marc(
            "Whalesong over Vesterålen",
            control="br-upload-1",
            author="Solberg, Maren",
            items=[{"barcode": "BRW-0001", "branch": "NORD"}],
        ).as_marc()
    )

    _sign_in(page, "browser-cataloguer", "/staff/catalogue/upload/")
    page.get_by_label("MARC file").set_input_files(str(marc_file))
    page.get_by_role("button", name="Upload and import").click()

    summary = page.locator("#import-summary")
    expect(summary).to_be_visible()
    expect(summary.locator('[data-count="created"]')).to_have_text("1")
    expect(summary.locator('[data-count="items"]')).to_have_text("1")
    expect(summary.locator('[data-count="errors"]')).to_have_text("0")
    assert BibRecord.objects.filter(control_number="br-upload-1").exists()

    # The public catalogue finds it at once (the index changed with the record).
    page.goto("/?q=whalesong")
    expect(page.get_by_role("link", name=re.compile("Whalesong over Vesterålen"))).to_be_visible()
    page.goto("/?q=vesteralen")  # diacritics folded
    expect(page.get_by_role("link", name=re.compile("Whalesong"))).to_be_visible()


def test_add_item_with_duplicate_barcode_shows_form_error(page):
    StaffUserFactory(username="browser-items", is_superuser=True)
    branch = BranchFactory(code="MAIN", name="Main library")
    item_type = ItemTypeFactory(code="BOOK", name="Book")
    existing = ItemFactory(barcode="DUP-0042", branch=branch, item_type=item_type)
    record = existing.record

    _sign_in(page, "browser-items", f"/staff/catalogue/records/{record.pk}/")
    page.get_by_role("link", name="Add an item").click()
    page.get_by_label("Barcode").fill("DUP-0042")
    page.get_by_label("Branch").select_option("MAIN")
    page.get_by_label("Item type").select_option("BOOK")
    page.get_by_role("button", name="Add item").click()

    expect(page.locator("#id_barcode_errors")).to_contain_text(
        "This barcode is already in use by another item."
    )
    assert Item.objects.filter(barcode="DUP-0042").count() == 1

    # Keyboard only: fix the barcode and submit with Enter.
    page.get_by_label("Barcode").fill("NEW-0043")
    page.get_by_label("Barcode").press("Enter")
    expect(page).to_have_url(re.compile(rf"/staff/catalogue/records/{record.pk}/$"))
    expect(page.get_by_role("cell", name="NEW-0043", exact=True)).to_be_visible()
