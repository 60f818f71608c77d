"""Money at the desk in the major unit (CIR-4): confirm, receipt, pay-all, waive, refund,
declare lost, damage fee; bad amounts get a readable error, never a 500."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from quietshelf.accounts.testing import make_staff, signed_in_client
from quietshelf.circulation import services
from quietshelf.circulation.models import Fee, FeeTransaction, Loan


@pytest.fixture
def desk(desk_staff):
    return signed_in_client(desk_staff)


def _fee(circ, p, amount=7000, fee_type="manual"):
    return services.fee_charge(
        actor=None, patron_id=p.pk, fee_type=fee_type, amount=amount, branch_id=circ["north"].pk
    )


def test_pay_70_asks_to_confirm_70_kroner_then_records_7000_minor_cir4(desk, circ, patron):
    p = patron(barcode="FEE-CARD-1")
    fee = _fee(circ, p)
    desk.post("/staff/desk/patron/scan/", {"card": "FEE-CARD-1"})
    html = desk.get("/staff/desk/patron/").content.decode()
    assert 'value="70.00"' in html and "minor units" not in html
    r = desk.post("/staff/desk/pay/", {"fee_id": str(fee.pk), "amount": "70"})
    html = r.content.decode()
    assert "Take 70.00 NOK for: Other?" in html
    assert services.fee_balance(fee.pk) == 7000  # nothing taken before the confirmation
    r = desk.post(
        "/staff/desk/pay/", {"fee_id": str(fee.pk), "amount": "70.00", "confirm": "1"}, follow=True
    )
    assert "Payment of 70.00 NOK recorded." in r.content.decode()
    assert services.fee_balance(fee.pk) == 0
    html = desk.get("/staff/desk/pay/receipt/").content.decode()
    assert re.search(r'id="receipt-total">70\.00 NOK<', html)
    assert str(p.display_name) not in html and "FEE-CARD-1" not in html


def test_pay_in_norwegian_reads_a_decimal_comma_cir4(desk, circ, patron):
    p = patron(barcode="FEE-CARD-NB")
    fee = _fee(circ, p)
    nb = {"HTTP_ACCEPT_LANGUAGE": "nb"}
    desk.post("/staff/desk/patron/scan/", {"card": "FEE-CARD-NB"}, **nb)
    assert 'value="70,00"' in desk.get("/staff/desk/patron/", **nb).content.decode()
    html = desk.post("/staff/desk/pay/", {"fee_id": str(fee.pk), "amount": "20,50"}, **nb)
    assert "Ta imot 20,50 NOK for: Annet?" in html.content.decode()
    desk.post("/staff/desk/pay/", {"fee_id": str(fee.pk), "amount": "20,50", "confirm": "1"}, **nb)
    assert services.fee_balance(fee.pk) == 7000 - 2050


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "The amount must be more than zero."),
        ("-5", "The amount must be more than zero."),
        ("7O", "Write the amount like 70 or 70,50."),
        ("70,5,0", "Write the amount like 70 or 70,50."),
        ("71", "That is more than is owed (70.00 NOK)."),
    ],
)
def test_bad_amounts_are_readable_errors_cir4(desk, circ, patron, amount, message):
    p = patron(barcode="FEE-BAD-1")
    fee = _fee(circ, p)
    desk.post("/staff/desk/patron/scan/", {"card": "FEE-BAD-1"})
    r = desk.post(
        "/staff/desk/pay/", {"fee_id": str(fee.pk), "amount": amount, "confirm": "1"}, follow=True
    )
    assert r.status_code == 200 and message in r.content.decode()
    assert services.fee_balance(fee.pk) == 7000


def test_pay_all_spreads_over_the_fees_and_the_receipt_lists_them_cir4(desk, circ, patron):
    p = patron(barcode="FEE-CARD-2")
    a, b = _fee(circ, p, 3000), _fee(circ, p, 4500, "damage")
    desk.post("/staff/desk/patron/scan/", {"card": "FEE-CARD-2"})
    html = desk.get("/staff/desk/patron/").content.decode()
    assert 'id="pay-all" name="amount" inputmode="decimal" autocomplete="off" value="75.00"' in html
    r = desk.post("/staff/desk/pay/", {"fee_id": "all", "amount": "75"})
    assert "Take 75.00 NOK towards all fees?" in r.content.decode()
    desk.post("/staff/desk/pay/", {"fee_id": "all", "amount": "75", "confirm": "1"})
    assert services.fee_balance(a.pk) == 0 and services.fee_balance(b.pk) == 0
    html = desk.get("/staff/desk/pay/receipt/").content.decode()
    assert "30.00 NOK" in html and "45.00 NOK" in html and "75.00 NOK" in html


def test_waive_needs_a_reason_and_refund_gives_back_cir4(desk, circ, patron):
    p = patron(barcode="FEE-CARD-3")
    fee, other = _fee(circ, p), _fee(circ, p, 1000)
    desk.post("/staff/desk/patron/scan/", {"card": "FEE-CARD-3"})
    r = desk.post(
        "/staff/desk/fee/", {"action": "waive", "fee_id": str(fee.pk), "reason": ""}, follow=True
    )
    assert "Give a reason." in r.content.decode() and services.fee_balance(fee.pk) == 7000
    r = desk.post(
        "/staff/desk/fee/",
        {"action": "waive", "fee_id": str(fee.pk), "reason": "first visit"},
        follow=True,
    )
    assert "Waived 70.00 NOK." in r.content.decode() and services.fee_balance(fee.pk) == 0
    desk.post("/staff/desk/pay/", {"fee_id": str(other.pk), "amount": "10", "confirm": "1"})
    html = desk.get("/staff/desk/patron/").content.decode()
    assert "Recent payments" in html
    r = desk.post(
        "/staff/desk/fee/",
        {"action": "refund", "fee_id": str(other.pk), "amount": "15", "reason": "double"},
        follow=True,
    )
    assert "A refund can be at most what was paid." in r.content.decode()
    r = desk.post(
        "/staff/desk/fee/",
        {"action": "refund", "fee_id": str(other.pk), "amount": "10", "reason": "double"},
        follow=True,
    )
    assert "Refunded 10.00 NOK." in r.content.decode()
    assert FeeTransaction.objects.filter(fee=other, kind="refund").count() == 1


def test_declare_lost_and_damage_fee_at_the_desk_cir4(desk, circ, patron, item):
    p = patron(barcode="FEE-CARD-4")
    i = item(price_minor=19900)
    desk.post("/staff/desk/patron/scan/", {"card": "FEE-CARD-4"})
    desk.post("/staff/desk/checkout/", {"item": i.barcode})
    loan = Loan.objects.get(item=i)
    r = desk.post("/staff/desk/lost/", {"loan_id": str(loan.pk)}, follow=True)
    html = r.content.decode()
    assert f"({i.barcode}) declared lost; 199.00 NOK charged." in html
    assert Fee.objects.filter(patron=p, type="lost").count() == 1
    r = desk.post(
        "/staff/desk/fee/",
        {"action": "damage", "amount": "120,50", "reason": "water damage"},
        follow=True,
    )
    assert "Damage fee of 120.50 NOK charged." in r.content.decode()
    assert Fee.objects.get(patron=p, type="damage").transactions.get().amount_minor == 12050


def test_someone_elses_fee_is_not_touched_at_the_desk_cir4(desk, circ, patron):
    p, other = patron(barcode="FEE-CARD-5"), patron()
    theirs = _fee(circ, other)
    desk.post("/staff/desk/patron/scan/", {"card": "FEE-CARD-5"})
    r = desk.post(
        "/staff/desk/pay/", {"fee_id": str(theirs.pk), "amount": "70", "confirm": "1"}, follow=True
    )
    assert r.status_code == 200 and "No such fee." in r.content.decode()
    assert services.fee_balance(theirs.pk) == 7000
    assert p.pk != other.pk


@pytest.mark.browser
def test_pay_70_in_chromium_cir4(page, live_server, transactional_db, circ, patron):
    """A librarian types 70 meaning 70 kroner: the confirmation says 70.00 NOK, 7,000 øre
    are recorded, and the receipt prints alone."""
    from django.conf import settings

    staff = make_staff("deskpay", roles=["circulation-desk"])
    p = patron(barcode="PAY-CARD-1")
    fee = _fee(circ, p, 9000)
    name = settings.SESSION_COOKIE_NAME
    cookie = signed_in_client(staff).cookies[name]
    page.context.add_cookies([{"name": name, "value": cookie.value, "url": live_server.url}])
    page.goto("/staff/desk/")
    page.get_by_label("Scan the patron's card").fill("PAY-CARD-1")
    page.get_by_label("Scan the patron's card").press("Enter")
    page.wait_for_url("**/staff/desk/patron/")
    # htmx moves focus to the autofocus field when the swap settles: typing before that
    # would land in the item field
    expect(page.get_by_label("Scan an item")).to_be_focused()
    field = page.locator("#pay-1")
    field.fill("70")
    field.press("Enter")
    expect(page.locator(".confirm-amount")).to_have_text("Take 70.00 NOK for: Other?")
    page.get_by_role("button", name="Confirm: 70.00 NOK").click()
    expect(page.locator(".messages")).to_contain_text("Payment of 70.00 NOK recorded.")
    assert services.fee_balance(fee.pk) == 2000
    page.get_by_role("link", name="Payment receipt").click()
    expect(page.locator("#receipt-total")).to_have_text("70.00 NOK")
    page.emulate_media(media="print")
    assert page.locator("header.site").is_hidden()
    assert page.locator(".no-print").is_hidden()
    assert page.locator(".receipt").is_visible()
