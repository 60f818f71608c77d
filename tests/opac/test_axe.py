"""axe-core over the pages of issue 17's flows (catalogue, My account, the desk, payment,
slips, the staff record): no serious or critical violation (WCAG 2.1 A/AA rules)."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from playwright.sync_api import expect

from quietshelf.accounts.testing import make_staff, signed_in_client
from quietshelf.circulation import services as circ_services
from quietshelf.patrons import auth
from quietshelf.patrons import services as patron_services
from tests.catalog.search_helpers import add_item, make_record
from tests.circulation.conftest import _fresh_config_cache, circ  # noqa: F401

pytestmark = pytest.mark.browser


def _serious(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])})"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


def test_issue17_pages_have_no_serious_axe_violations(
    page,
    live_server,
    transactional_db,
    circ,  # noqa: F811
):
    record = make_record(title="Tidevann", subjects=["Hav"])
    item = add_item(record, branch_code="AXE1", call_number="551.46 TID")
    other = add_item(make_record(title="Stormfugl"), branch_code="AXE2")
    p = patron_services.patron_register(
        actor=None, given_name="Ada", family_name="Strand", barcode="AXE-CARD-1",
        home_branch=circ["north"], group=circ["adult"],
    )  # fmt: skip
    circ_services.checkout(
        actor=None, item_barcode=item.barcode, patron_id=p.pk, branch_id=circ["north"].pk
    )
    fee = circ_services.fee_charge(
        actor=None, patron_id=p.pk, fee_type="manual", amount=2500, branch_id=circ["north"].pk
    )
    hold = circ_services.hold_place(
        actor=None, patron_id=p.pk, record_id=other.record_id, pickup_branch_id=other.branch_id
    )
    circ_services.checkin(actor=None, item_barcode=other.barcode, branch_id=other.branch_id)
    problems: dict[str, list[str]] = {}

    def check(path: str) -> None:
        page.goto(path)
        page.wait_for_load_state("load")
        found = _serious(page)
        if found:
            problems[path] = found

    for path in ("/", "/?q=tidevann", f"/record/{record.pk}/"):
        check(path)

    session = SessionStore()
    now = int(time.time())
    session[auth.SESSION_PATRON] = str(p.pk)
    session[auth.SESSION_HASH] = auth.session_hash(p)
    session[auth.SESSION_STARTED] = session[auth.SESSION_SEEN] = now
    session.create()
    name = settings.SESSION_COOKIE_NAME
    page.context.add_cookies([{"name": name, "value": session.session_key, "url": live_server.url}])
    for path in ("/account/", "/account/loans/", "/account/holds/", "/account/fees/"):
        check(path)
    page.context.clear_cookies()

    staff = make_staff("axe-desk", roles=["circulation-desk"])
    cookie = signed_in_client(staff).cookies[name]
    page.context.add_cookies([{"name": name, "value": cookie.value, "url": live_server.url}])
    check("/staff/desk/")
    page.get_by_label("Scan the patron's card").fill("AXE-CARD-1")
    page.get_by_label("Scan the patron's card").press("Enter")
    page.wait_for_url("**/staff/desk/patron/")
    # htmx moves focus to the autofocus field when the swap settles: typing before that
    # would land in the item field
    expect(page.get_by_label("Scan an item")).to_be_focused()
    check("/staff/desk/patron/")
    page.locator("#pay-1").fill("10")
    page.locator("#pay-1").press("Enter")
    page.wait_for_selector(".confirm-amount")
    found = _serious(page)
    if found:
        problems["pay confirm"] = found
    assert fee.pk
    for path in (
        f"/staff/desk/slip/hold/{hold.pk}/",
        "/staff/desk/holds/",
        f"/staff/catalogue/records/{record.pk}/",
        f"/staff/patrons/{p.pk}/",
    ):
        check(path)
    assert not problems, problems


def test_the_axe_check_finds_a_critical_violation(page, live_server):
    """The checker itself works: an image without alternative text is found."""
    page.set_content('<html lang="en"><body><main><img src="data:,"></main></body></html>')
    assert any(v.startswith("image-alt") for v in _serious(page))
