"""Slips and receipts that print alone (CIR-3, PRV-NOT-1): hold slips with a pickup code
instead of the patron's name (names only when the library chooses), transit slips, and a
print stylesheet that leaves nothing but the slip."""

from __future__ import annotations

import re
import uuid

import pytest

from quietshelf.accounts.testing import make_staff, signed_in_client
from quietshelf.circulation import policy, services
from quietshelf.circulation.models import Hold

QUEUE = {"HTTP_X_DESK_QUEUE": "1"}


@pytest.fixture
def desk(desk_staff):
    return signed_in_client(desk_staff)


def test_pickup_code_is_short_stable_and_unambiguous_prv_not_1():
    hid = uuid.UUID("5e471ae1-0000-4000-8000-00000000c1c2")
    code = policy.pickup_code(hid)
    assert code == policy.pickup_code(str(hid)) and len(code) == 5
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{5}", code)
    assert policy.pickup_code(uuid.uuid4()) != policy.pickup_code(uuid.uuid4())


def _trapped(circ, patron, item):
    i = item()
    p = patron()
    hold = services.hold_place(
        actor=None, patron_id=p.pk, record_id=i.record_id, pickup_branch_id=circ["north"].pk
    )
    return p, i, hold


def test_hold_slip_shows_a_code_not_the_name_cir3_prv_not_1(desk, circ, patron, item):
    p, i, hold = _trapped(circ, patron, item)
    desk.post("/staff/desk/branch/", {"branch_id": circ["north"].pk})
    r = desk.post("/staff/desk/checkin/", {"item": i.barcode}, **QUEUE)
    html = r.content.decode()
    assert f"/staff/desk/slip/hold/{hold.pk}/" in html and "Print the hold slip" in html
    html = desk.get(f"/staff/desk/slip/hold/{hold.pk}/").content.decode()
    code = policy.pickup_code(hold.pk)
    assert f'id="pickup-code">{code}<' in html and i.record.title in html
    assert str(p.display_name) not in html and p.family_name not in html
    shelf = desk.get("/staff/desk/holds/").content.decode()
    assert code in shelf and str(p.display_name) not in shelf


def test_hold_slip_with_names_when_the_library_chooses_prv_not_1(
    desk, circ, patron, item, settings
):
    settings.QUIETSHELF_HOLD_SLIP_NAMES = True
    p, i, hold = _trapped(circ, patron, item)
    services.checkin(actor=None, item_barcode=i.barcode, branch_id=circ["north"].pk)
    html = desk.get(f"/staff/desk/slip/hold/{hold.pk}/").content.decode()
    assert str(p.display_name) in html


def test_transit_slip_names_the_branches_cir3(desk, circ, patron, item):
    _p, i, hold = _trapped(circ, patron, item)
    desk.post("/staff/desk/branch/", {"branch_id": circ["south"].pk})
    r = desk.post("/staff/desk/checkin/", {"item": i.barcode}, **QUEUE)
    assert f"/staff/desk/slip/transit/{i.pk}/" in r.content.decode()
    html = desk.get(f"/staff/desk/slip/transit/{i.pk}/").content.decode()
    assert 'id="transit-to">To North<' in html and "South" in html and i.barcode in html
    assert "a hold: check it in on arrival" in html
    assert Hold.objects.get(pk=hold.pk).status == "in_transit"


def test_slips_need_the_desk_role_and_a_real_id(circ, desk):
    cat = signed_in_client(make_staff("slip-cat", roles=["cataloguer"]))
    assert cat.get(f"/staff/desk/slip/hold/{uuid.uuid4()}/").status_code == 403
    assert desk.get(f"/staff/desk/slip/hold/{uuid.uuid4()}/").status_code == 404
    assert desk.get("/staff/desk/slip/transit/999999/").status_code == 404


@pytest.mark.browser
def test_slip_and_receipt_print_alone_cir3(page, live_server, transactional_db, circ, patron, item):
    from django.conf import settings

    staff = make_staff("slip-browser", roles=["circulation-desk"])
    _p, i, hold = _trapped(circ, patron, item)
    services.checkin(actor=None, item_barcode=i.barcode, branch_id=circ["north"].pk)
    name = settings.SESSION_COOKIE_NAME
    cookie = signed_in_client(staff).cookies[name]
    page.context.add_cookies([{"name": name, "value": cookie.value, "url": live_server.url}])
    page.goto(f"/staff/desk/slip/hold/{hold.pk}/")
    page.emulate_media(media="print")
    assert page.locator("header.site").is_hidden()
    assert page.locator("footer.site").is_hidden()
    assert page.locator(".no-print").is_hidden()
    assert page.locator("#pickup-code").is_visible()
    # the check-out receipt prints alone too
    patron(barcode="SLIP-CARD-1")
    page.emulate_media(media="screen")
    page.goto("/staff/desk/")
    page.get_by_label("Scan the patron's card").fill("SLIP-CARD-1")
    page.get_by_label("Scan the patron's card").press("Enter")
    page.wait_for_url("**/staff/desk/patron/")
    page.get_by_role("button", name="Done: receipt").click()
    page.get_by_role("heading", name="Receipt").wait_for()
    page.emulate_media(media="print")
    assert page.locator("header.site").is_hidden()
    assert page.locator(".receipt").is_visible()


def test_check_in_of_an_item_not_on_loan_says_so_cir2(desk, circ, item):
    i = item()
    desk.post("/staff/desk/branch/", {"branch_id": circ["north"].pk})
    html = desk.post("/staff/desk/checkin/", {"item": i.barcode}, **QUEUE).content.decode()
    assert f"{i.record.title} was not on loan." in html and "Shelve." in html


def test_check_in_shows_only_the_fine_still_owed_cir4(desk, circ, patron, item):
    import datetime as dt

    from django.utils import timezone

    from quietshelf.circulation.models import Fee, Loan

    p, i = patron(), item()
    services.checkout(
        actor=None, item_barcode=i.barcode, patron_id=p.pk, branch_id=circ["north"].pk
    )
    Loan.objects.filter(item=i).update(due_at=timezone.now() - dt.timedelta(days=10))
    services.charge_overdue_fines()
    fee = Fee.objects.get(patron=p, type="overdue")
    services.fee_pay(actor=None, fee_id=fee.pk, amount=services.fee_balance(fee.pk))
    desk.post("/staff/desk/branch/", {"branch_id": circ["north"].pk})
    html = desk.post("/staff/desk/checkin/", {"item": i.barcode}, **QUEUE).content.decode()
    assert "Checked in:" in html and "Overdue fine still owed" not in html


def test_optional_confirm_step_before_setting_a_copy_aside_cir3(desk, circ, patron, item, settings):
    settings.QUIETSHELF_TRAP_CONFIRM = True
    _p, i, hold = _trapped(circ, patron, item)
    desk.post("/staff/desk/branch/", {"branch_id": circ["north"].pk})
    html = desk.post("/staff/desk/checkin/", {"item": i.barcode}, **QUEUE).content.decode()
    assert "A hold waits for this title (pickup at North): confirm it." in html
    assert 'name="trap" value="1"' in html
    i.refresh_from_db()
    assert i.status == "available" and Hold.objects.get(pk=hold.pk).status == "waiting"
    html = desk.post("/staff/desk/checkin/", {"item": i.barcode, "trap": "1"}, **QUEUE)
    html = html.content.decode()
    assert f"Set aside: {i.record.title}." in html and "Print the hold slip" in html
    assert Hold.objects.get(pk=hold.pk).status == "on_shelf"
    # confirming again: the copy is on the hold shelf now, not on the shelf
    html = desk.post("/staff/desk/checkin/", {"item": i.barcode, "trap": "1"}, **QUEUE)
    assert "The item is not on the shelf." in html.content.decode()


def test_without_the_confirm_step_check_in_sets_the_copy_aside_at_once_cir3(
    desk, circ, patron, item
):
    _p, i, hold = _trapped(circ, patron, item)
    desk.post("/staff/desk/branch/", {"branch_id": circ["north"].pk})
    html = desk.post("/staff/desk/checkin/", {"item": i.barcode}, **QUEUE).content.decode()
    assert 'name="trap"' not in html and Hold.objects.get(pk=hold.pk).status == "on_shelf"
