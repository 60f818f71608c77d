"""Small screens and focus (issue 17 item 9): no sideways scrolling at 375 px on the
catalogue, My account and the desk; facets behind a button; a focus ring with at least
3:1 contrast against the page (WCAG 2.2, 1.4.11)."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore

from quietshelf.accounts.testing import make_staff, signed_in_client
from quietshelf.circulation import services as circ_services
from quietshelf.patrons import auth
from quietshelf.patrons import services as patron_services
from tests.catalog.search_helpers import add_item, make_record
from tests.circulation.conftest import _fresh_config_cache, circ  # noqa: F401

pytestmark = pytest.mark.browser


def _luminance(rgb: tuple[int, int, int]) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a, b) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _rgb(css: str) -> tuple[int, int, int]:
    parts = css[css.index("(") + 1 : css.index(")")].split(",")
    return tuple(int(float(p)) for p in parts[:3])


def _no_sideways_scroll(page, path: str) -> None:
    page.goto(path)
    page.wait_for_load_state("load")
    width = page.evaluate("document.documentElement.scrollWidth")
    inner = page.evaluate("window.innerWidth")
    assert width <= inner, f"{path}: scrollWidth {width} > {inner}"


def test_pages_fit_375_px_and_facets_collapse(
    page,
    live_server,
    transactional_db,
    circ,  # noqa: F811
):
    record = make_record(
        title="Et veldig langt ord: Donaudampfschifffahrtsgesellschaftskapitän" * 2,
        subjects=["Fjorder"] * 3,
    )
    item = add_item(record, branch_code="NORTH9", call_number="914.81 LAN")
    patron = patron_services.patron_register(
        actor=None, given_name="Siri", family_name="Lund", barcode="SMALL-CARD-1",
        home_branch=circ["north"], group=circ["adult"],
    )  # fmt: skip
    circ_services.checkout(
        actor=None, item_barcode=item.barcode, patron_id=patron.pk, branch_id=circ["north"].pk
    )
    circ_services.fee_charge(
        actor=None, patron_id=patron.pk, fee_type="manual", amount=2500,
        branch_id=circ["north"].pk,
    )  # fmt: skip
    page.set_viewport_size({"width": 375, "height": 740})

    _no_sideways_scroll(page, "/")
    _no_sideways_scroll(page, "/?q=veldig")
    assert page.locator("details.facet-panel").evaluate("d => d.open") is False
    page.get_by_text("Filters").click()
    assert page.locator("details.facet-panel").evaluate("d => d.open") is True
    _no_sideways_scroll(page, f"/record/{record.pk}/")

    # My account, signed in through a patron session
    session = SessionStore()
    now = int(time.time())
    session[auth.SESSION_PATRON] = str(patron.pk)
    session[auth.SESSION_HASH] = auth.session_hash(patron)
    session[auth.SESSION_STARTED] = session[auth.SESSION_SEEN] = now
    session.create()
    name = settings.SESSION_COOKIE_NAME
    page.context.add_cookies([{"name": name, "value": session.session_key, "url": live_server.url}])
    for path in ("/account/", "/account/loans/", "/account/holds/", "/account/fees/"):
        _no_sideways_scroll(page, path)
    # the 12-link account menu folds behind a Menu button
    assert page.locator("details.account-menu").evaluate("d => d.open") is False
    page.get_by_text("Menu", exact=True).click()
    assert page.get_by_role("link", name="Loans", exact=True).is_visible()
    page.context.clear_cookies()

    # the desk, with the patron's loans and fees
    staff = make_staff("small-desk", roles=["circulation-desk"])
    cookie = signed_in_client(staff).cookies[name]
    page.context.add_cookies([{"name": name, "value": cookie.value, "url": live_server.url}])
    _no_sideways_scroll(page, "/staff/desk/")
    page.get_by_label("Scan the patron's card").fill("SMALL-CARD-1")
    page.get_by_label("Scan the patron's card").press("Enter")
    page.wait_for_url("**/staff/desk/patron/")
    _no_sideways_scroll(page, "/staff/desk/patron/")


def test_focus_ring_has_3_to_1_contrast_against_the_page(page, live_server, transactional_db):
    page.goto("/")
    page.keyboard.press("Tab")  # the skip link, then the brand
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineColor")
    width = page.evaluate("getComputedStyle(document.activeElement).outlineWidth")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert float(width.rstrip("px")) >= 2
    assert _contrast(_rgb(outline), _rgb(background)) >= 3


def _nothing_scrolls_sideways(page, path: str) -> None:
    """The page and every element in it fit the viewport: no sideways scroll of the
    document, and no table or block scrolling sideways inside it."""
    _no_sideways_scroll(page, path)
    wide = page.evaluate(
        """() => [...document.querySelectorAll('main *')]
            .filter(e => e.getClientRects().length && e.scrollWidth > e.clientWidth + 1
                     && ['auto', 'scroll'].includes(getComputedStyle(e).overflowX))
            .map(e => `${e.tagName}.${e.className}: ${e.scrollWidth} > ${e.clientWidth}`)"""
    )
    assert not wide, f"{path}: scrolls sideways inside: {wide}"


def test_my_data_in_full_fits_375_px_and_starts_with_the_patrons_own_data(
    page,
    live_server,
    transactional_db,
    circ,  # noqa: F811
):
    """Issue 17 item 9 (PRV-DSR-1): My data of a patron with loans, holds, fees, reading
    history, consents, contacts, identifiers, a note and a block, every section open, has no
    sideways scroll at 375 px; it starts with the patron's own record and lists its sections."""
    from tests.opac.full_patron import make_full_patron, patron_session_cookie

    full = make_full_patron(circ)
    page.set_viewport_size({"width": 375, "height": 740})
    page.context.add_cookies([patron_session_cookie(full["patron"], live_server.url)])
    page.goto("/account/my-data/")
    # the patron's own data first: the first heading after the title and the section list
    sections = page.locator("section.held")
    assert sections.first.get_attribute("data-table") == "patrons.Patron"
    assert page.locator("nav.toc a").first.get_attribute("href") == "#held-1"
    shown = set(sections.evaluate_all("els => els.map(e => e.dataset.table)"))
    for table in (
        "circulation.Loan",
        "circulation.Hold",
        "circulation.Fee",
        "circulation.ReadingHistoryEntry",
        "privacy.ConsentRecord",
        "patrons.ContactPoint",
        "patrons.Block",
    ):
        assert table in shown, table
    # readable cards, not five columns squeezed into 375 px: a label stays on one line
    label = sections.first.get_by_text("Family name", exact=True).first
    assert label.bounding_box()["height"] < 30
    # every folded section open: the full length of the page
    page.locator("details").evaluate_all("ds => ds.forEach(d => { d.open = true; })")
    _nothing_scrolls_sideways(page, "/account/my-data/")
    page.locator("details").evaluate_all("ds => ds.forEach(d => { d.open = true; })")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"my data, all open: scrollWidth {width}"
