"""Browser flow: search → facet → record page, without JavaScript needs (issue 3 item 13)."""

from __future__ import annotations

import pytest

from tests.catalog.search_helpers import add_item, make_record


@pytest.mark.browser
def test_search_then_facet_then_record_page(page, transactional_db):
    book = make_record(title="Aurora over Tromsø", format="book", language="nor", year=2001)
    make_record(title="Aurora films", format="video", language="eng", year=2015)
    add_item(book, "TROMSO", "available", call_number="523.7 AUR")

    page.goto("/")
    page.get_by_label("Search for").fill("aurora")
    page.keyboard.press("Enter")
    page.wait_for_url("**/?q=aurora*")
    assert page.locator("#results-heading").inner_text() == "2 results"

    page.get_by_role("link", name="Book", exact=True).click()
    page.wait_for_url("**format=book*")
    assert page.locator("#results-heading").inner_text() == "1 result"

    page.get_by_role("link", name="Aurora over Tromsø").click()
    page.wait_for_url(f"**/record/{book.pk}/")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Aurora over Tromsø")
    assert "523.7 AUR" in page.locator("table").inner_text()
    cookies = page.context.cookies()
    assert cookies == []
