"""Holds placed by staff (CIR-3): from the catalogue record, for the patron at the desk or a
scanned card; title or item level; pickup branch; the queue position told with the copies
on the shelf considered."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from quietshelf.accounts.testing import make_staff, signed_in_client
from quietshelf.circulation import services
from quietshelf.circulation.models import Hold
from tests.factories import BibRecordFactory


@pytest.fixture
def desk(desk_staff):
    return signed_in_client(desk_staff)


def test_hold_for_a_scanned_card_with_copies_on_the_shelf_cir3(desk, circ, patron, item):
    record = BibRecordFactory(title="Havets stemmer")
    item(record=record), item(record=record)
    p = patron(barcode="SH-CARD-1")
    html = desk.get(f"/staff/catalogue/records/{record.pk}/").content.decode()
    assert 'id="staff-hold"' in html and 'name="card"' in html
    r = desk.post(
        "/staff/desk/hold/",
        {"record_id": record.pk, "card": "SH-CARD-1", "pickup_branch_id": circ["south"].pk},
        follow=True,
    )
    html = r.content.decode()
    assert "Hold placed on Havets stemmer for pickup at South: a copy is on the shelf" in html
    h = Hold.objects.get(patron=p)
    assert h.pickup_branch_id == circ["south"].pk and not h.item_level


def test_hold_when_every_copy_is_out_says_the_queue_number_cir3(desk, circ, patron, item):
    record = BibRecordFactory(title="Nordlys")
    i = item(record=record)
    services.checkout(
        actor=None, item_barcode=i.barcode, patron_id=patron().pk, branch_id=circ["north"].pk
    )
    services.hold_place(
        actor=None, patron_id=patron().pk, record_id=record.pk, pickup_branch_id=circ["north"].pk
    )
    patron(barcode="SH-CARD-2")
    r = desk.post(
        "/staff/desk/hold/",
        {"record_id": record.pk, "card": "SH-CARD-2", "pickup_branch_id": circ["north"].pk},
        follow=True,
    )
    assert "number 2 in the queue" in r.content.decode()


def test_item_level_hold_for_the_patron_at_the_desk_cir3(desk, circ, patron, item):
    record = BibRecordFactory(title="Vinterhav")
    a, b = item(record=record), item(record=record, branch="south")
    p = patron(barcode="SH-CARD-3")
    desk.post("/staff/desk/patron/scan/", {"card": "SH-CARD-3"})
    html = desk.get(f"/staff/catalogue/records/{record.pk}/").content.decode()
    assert f"For {p.display_name}, the patron at your desk." in html
    assert 'name="card"' not in html
    desk.post(
        "/staff/desk/hold/",
        {"record_id": record.pk, "item": b.barcode, "pickup_branch_id": circ["north"].pk},
    )
    h = Hold.objects.get(patron=p)
    assert h.item_level and h.item_id == b.pk and a.pk != b.pk
    html = desk.get("/staff/desk/patron/").content.decode()
    assert "Vinterhav" in html and "1 hold" in html


def test_hold_refusals_are_readable_cir3(desk, circ, patron, item):
    record = BibRecordFactory(title="Lånt bok")
    i = item(record=record)
    p = patron(barcode="SH-CARD-4")
    services.checkout(
        actor=None, item_barcode=i.barcode, patron_id=p.pk, branch_id=circ["north"].pk
    )
    r = desk.post(
        "/staff/desk/hold/",
        {"record_id": record.pk, "card": "SH-CARD-4", "pickup_branch_id": circ["north"].pk},
        follow=True,
    )
    assert "The patron has this on loan already." in r.content.decode()
    r = desk.post(
        "/staff/desk/hold/", {"record_id": record.pk, "card": "NO-SUCH-CARD"}, follow=True
    )
    assert "No patron has this card number." in r.content.decode()
    assert not Hold.objects.exists()


def test_cataloguer_sees_no_hold_form_cir3(circ, item):
    record = BibRecordFactory()
    item(record=record)
    cat = signed_in_client(make_staff("sh-cat", roles=["cataloguer"]))
    html = cat.get(f"/staff/catalogue/records/{record.pk}/").content.decode()
    assert 'id="staff-hold"' not in html


@pytest.mark.browser
def test_hold_by_staff_in_chromium_cir3(page, live_server, transactional_db, circ, patron, item):
    from django.conf import settings

    staff = make_staff("sh-browser", roles=["circulation-desk"])
    record = BibRecordFactory(title="Stormfugl")
    item(record=record)
    p = patron(barcode="SH-BROWSER-1")
    name = settings.SESSION_COOKIE_NAME
    cookie = signed_in_client(staff).cookies[name]
    page.context.add_cookies([{"name": name, "value": cookie.value, "url": live_server.url}])
    page.goto(f"/staff/catalogue/records/{record.pk}/")
    page.get_by_label("Scan the patron's card").fill("SH-BROWSER-1")
    page.get_by_label("Pick up at").select_option(label="South")
    page.get_by_role("button", name="Place the hold").click()
    expect(page.locator(".messages")).to_contain_text("Hold placed on Stormfugl")
    assert Hold.objects.get(patron=p).pickup_branch_id == circ["south"].pk
