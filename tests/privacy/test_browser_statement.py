"""PRV-INV-2 / PRV-PUB-1: the generated privacy statement in a real browser."""

from __future__ import annotations

import pytest


@pytest.mark.browser
def test_privacy_statement_page_renders_and_sets_no_cookie(page, transactional_db):
    page.goto("/privacy/")
    assert page.locator("h1").inner_text() == "How this library handles your personal data"
    assert page.get_by_role("heading", name="Staff members").is_visible()
    assert page.locator("td.retention[data-rule='staff_account']").first.inner_text() == (
        "90 days after the staff account is closed"
    )
    assert page.context.cookies() == []
