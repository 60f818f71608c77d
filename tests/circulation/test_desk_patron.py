"""The patron at the desk and on the record (CIR-2, CIR-3, PAT-3): loans with overdue ones
marked, holds with those waiting for pickup announced, fees, blocks as a banner that
disables the scan field until a desk supervisor overrides them with an audited reason."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from quietshelf.accounts.testing import make_staff, signed_in_client
from quietshelf.circulation import services
from quietshelf.circulation.models import Loan
from quietshelf.patrons import services as patron_services
from quietshelf.patrons.models import BlockOverride
from quietshelf.privacy.models import AuditEntry


@pytest.fixture
def desk(desk_staff):
    return signed_in_client(desk_staff)


@pytest.fixture
def supervisor(circ):
    return signed_in_client(make_staff("supervisor1", roles=["desk-supervisor"]))


def test_desk_shows_overdue_loans_holds_waiting_and_links_the_record_cir2_cir3(
    desk, circ, patron, item
):
    p = patron(barcode="DP-CARD-1")
    late, fine, wanted = item(), item(), item()
    for i in (late, fine):
        services.checkout(
            actor=None, item_barcode=i.barcode, patron_id=p.pk, branch_id=circ["north"].pk
        )
    Loan.objects.filter(item=late).update(due_at=timezone.now() - dt.timedelta(days=3))
    services.hold_place(
        actor=None, patron_id=p.pk, record_id=wanted.record_id, pickup_branch_id=circ["north"].pk
    )
    services.checkin(actor=None, item_barcode=wanted.barcode, branch_id=circ["north"].pk)
    desk.post("/staff/desk/patron/scan/", {"card": "DP-CARD-1"})
    html = desk.get("/staff/desk/patron/").content.decode()
    assert html.count('class="loan overdue"') == 1 and "1 overdue" in html
    assert 'id="holds-ready"' in html and "1 hold is waiting for pickup." in html
    assert wanted.record.title in html and "Waiting for pickup" in html
    assert f'href="/staff/patrons/{p.pk}/"' in html


def test_block_banner_disables_the_scan_field_for_the_desk_role_pat3(desk, circ, patron, item):
    p = patron(barcode="DP-CARD-2")
    patron_services.block_add(
        actor=None, patron_id=p.pk, reason_code="conduct", comment="Talk to the manager first"
    )
    desk.post("/staff/desk/patron/scan/", {"card": "DP-CARD-2"})
    html = desk.get("/staff/desk/patron/").content.decode()
    assert 'id="block-banner"' in html and "Blocked: do not lend" in html
    assert "Conduct" in html and "Talk to the manager first" in html
    assert 'id="item" name="item" data-scan-field autocomplete="off" disabled' in html
    assert "Only a desk supervisor can override a block." in html
    r = desk.post("/staff/desk/override/", {"reason": "known patron"}, follow=True)
    assert "You do not have permission for this." in r.content.decode()
    assert not BlockOverride.objects.filter(patron=p).exists()
    # a scan sent anyway (an old page) is refused by the service
    r = desk.post("/staff/desk/checkout/", {"item": item().barcode}, HTTP_X_DESK_QUEUE="1")
    assert "blocked" in r.content.decode()


def test_desk_supervisor_overrides_a_block_with_a_reason_audited_pat3(
    supervisor, circ, patron, item
):
    p = patron(barcode="DP-CARD-3")
    patron_services.block_add(actor=None, patron_id=p.pk, reason_code="address")
    i, ref = item(), item(item_type="ref")
    supervisor.post("/staff/desk/patron/scan/", {"card": "DP-CARD-3"})
    html = supervisor.get("/staff/desk/patron/").content.decode()
    assert 'name="reason"' in html and "Override for this visit" in html
    r = supervisor.post("/staff/desk/override/", {"reason": ""}, follow=True)
    assert "Give a reason for the override." in r.content.decode()
    r = supervisor.post("/staff/desk/override/", {"reason": "new address given"}, follow=True)
    html = r.content.decode()
    assert "Blocks set aside for this visit." in html and "new address given" in html
    assert 'id="item" name="item" data-scan-field autocomplete="off" autofocus' in html
    r = supervisor.post("/staff/desk/checkout/", {"item": i.barcode}, HTTP_X_DESK_QUEUE="1")
    assert "Checked out:" in r.content.decode()
    assert Loan.objects.get(item=i).overridden
    # the visit's override sets the block aside, not an item that is not for loan
    r = supervisor.post("/staff/desk/checkout/", {"item": ref.barcode}, HTTP_X_DESK_QUEUE="1")
    assert "not for loan" in r.content.decode()
    [o] = BlockOverride.objects.filter(patron=p)
    assert o.reason == "new address given"
    assert AuditEntry.objects.filter(action="overridden", reason="desk visit").exists()
    # the next visit starts blocked again
    supervisor.post("/staff/desk/done/")
    supervisor.post("/staff/desk/patron/scan/", {"card": "DP-CARD-3"})
    assert "Blocked: do not lend" in supervisor.get("/staff/desk/patron/").content.decode()


def test_override_reason_with_a_phone_number_is_refused_pat3(supervisor, circ, patron):
    p = patron(barcode="DP-CARD-4")
    patron_services.block_add(actor=None, patron_id=p.pk, reason_code="manual")
    supervisor.post("/staff/desk/patron/scan/", {"card": "DP-CARD-4"})
    r = supervisor.post("/staff/desk/override/", {"reason": "called 98765432"}, follow=True)
    assert "must not hold card, phone numbers" in r.content.decode()
    assert not BlockOverride.objects.filter(patron=p).exists()


def test_patron_record_shows_loans_holds_fees_and_opens_the_desk_cir2(desk, circ, patron, item):
    p = patron(barcode="DP-CARD-5")
    i = item()
    services.checkout(
        actor=None, item_barcode=i.barcode, patron_id=p.pk, branch_id=circ["north"].pk
    )
    services.fee_charge(
        actor=None, patron_id=p.pk, fee_type="manual", amount=2500, branch_id=circ["north"].pk
    )
    html = desk.get(f"/staff/patrons/{p.pk}/").content.decode()
    assert 'id="record-loans"' in html and i.record.title in html and i.barcode in html
    assert "25.00 NOK" in html and 'id="open-at-desk"' in html
    r = desk.post("/staff/desk/patron/open/", {"patron_id": str(p.pk)})
    assert r.status_code == 302 and r["Location"].endswith("/staff/desk/patron/")
    html = desk.get("/staff/desk/patron/").content.decode()
    assert f"Check out to {p.display_name}" in html
    r = desk.post("/staff/desk/patron/open/", {"patron_id": "not-a-uuid"}, follow=True)
    assert "No such patron." in r.content.decode()


def test_cataloguer_sees_no_circulation_panel_on_a_record(circ, patron):
    p = patron()
    cat = signed_in_client(make_staff("dp-cat", roles=["cataloguer", "privacy-officer"]))
    html = cat.get(f"/staff/patrons/{p.pk}/").content.decode()
    assert 'id="open-at-desk"' not in html


@pytest.mark.browser
def test_block_override_in_chromium_pat3(page, live_server, transactional_db, circ, patron, item):
    from django.conf import settings

    staff = make_staff("deskboss-b", roles=["desk-supervisor"])
    p = patron(barcode="DP-BROWSER-1")
    patron_services.block_add(
        actor=None, patron_id=p.pk, reason_code="debt", comment="Agreed to pay next week"
    )
    i = item()
    name = settings.SESSION_COOKIE_NAME
    cookie = signed_in_client(staff).cookies[name]
    page.context.add_cookies([{"name": name, "value": cookie.value, "url": live_server.url}])
    page.goto("/staff/desk/")
    page.get_by_label("Scan the patron's card").fill("DP-BROWSER-1")
    page.get_by_label("Scan the patron's card").press("Enter")
    page.wait_for_url("**/staff/desk/patron/")
    banner = page.locator("#block-banner")
    expect(banner).to_contain_text("Agreed to pay next week")
    expect(page.get_by_label("Scan an item")).to_be_disabled()
    page.get_by_label("Override for this visit: reason").fill("manager agreed")
    page.get_by_role("button", name="Override", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("Blocks set aside for this visit.")
    field = page.get_by_label("Scan an item")
    expect(field).to_be_enabled()
    field.focus()
    page.keyboard.type(i.barcode)
    page.keyboard.press("Enter")
    expect(page.locator("#answers li.ok")).to_contain_text("Checked out:")
    assert Loan.objects.get(item=i).patron_id == p.pk
