"""The desk's scan queue and renewal refusals (CIR-2).

Every scan is answered in a list that names the barcode it read; a burst of scans
typed as a scanner types them is answered in order; a repeated scan of the same item
for the same patron changes nothing; a renewal that would not give more time is
refused "too soon" and names the item.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from quietshelf.accounts.testing import make_staff, signed_in_client
from quietshelf.circulation import policy, services
from quietshelf.circulation.models import Loan
from tests.circulation.conftest import age_loan

QUEUE = {"HTTP_X_DESK_QUEUE": "1"}


@pytest.fixture
def desk(desk_staff):
    return signed_in_client(desk_staff)


def test_queued_scan_answers_with_a_fragment_naming_the_barcode_cir2(desk, circ, patron, item):
    patron(barcode="QUEUE-CARD-1")
    i = item()
    desk.post("/staff/desk/patron/scan/", {"card": "QUEUE-CARD-1"})
    r = desk.post("/staff/desk/checkout/", {"item": i.barcode}, **QUEUE)
    html = r.content.decode()
    assert r.status_code == 200 and r["X-Desk-Answer"] == "1"
    assert html.lstrip().startswith("<li") and i.barcode in html and "Checked out:" in html
    assert "Why this loan period?" in html  # the rule explainer on demand (CIR-1)
    r = desk.post("/staff/desk/checkout/", {"item": "NO-SUCH-ITEM"}, **QUEUE)
    html = r.content.decode()
    assert "NO-SUCH-ITEM" in html and "No item has this barcode" in html


def test_repeated_scan_of_the_same_item_is_idempotent_cir2(desk, circ, patron, item):
    p = patron(barcode="QUEUE-CARD-2")
    i = item()
    desk.post("/staff/desk/patron/scan/", {"card": "QUEUE-CARD-2"})
    desk.post("/staff/desk/checkout/", {"item": i.barcode}, **QUEUE)
    r = desk.post("/staff/desk/checkout/", {"item": i.barcode}, **QUEUE)
    assert "Already checked out to this patron" in r.content.decode()
    assert Loan.objects.filter(item=i).count() == 1
    assert Loan.objects.get(item=i).patron_id == p.pk
    # the receipt lists the item once
    r = desk.post("/staff/desk/done/")
    assert r.content.decode().count(i.barcode) == 1


def test_repeated_scan_service_returns_the_same_loan_cir2(circ, patron, item):
    p, i = patron(), item()
    first = services.checkout(
        actor=None, item_barcode=i.barcode, patron_id=p.pk, branch_id=circ["north"].pk
    )
    again = services.checkout(
        actor=None, item_barcode=i.barcode, patron_id=p.pk, branch_id=circ["north"].pk
    )
    assert again.repeated and again.loan.pk == first.loan.pk
    # another patron scanning it is still refused
    with pytest.raises(services.CirculationRefused):
        services.checkout(
            actor=None, item_barcode=i.barcode, patron_id=patron().pk, branch_id=circ["north"].pk
        )


def test_patron_card_scanned_into_the_item_field_is_recognised_cir2(desk, circ, patron, item):
    patron(barcode="QUEUE-CARD-3")
    other = patron(barcode="QUEUE-CARD-4")
    desk.post("/staff/desk/patron/scan/", {"card": "QUEUE-CARD-3"})
    r = desk.post("/staff/desk/checkout/", {"item": "QUEUE-CARD-4"}, **QUEUE)
    html = r.content.decode()
    assert "This is a patron card, not an item" in html and "QUEUE-CARD-4" in html
    assert str(other.display_name) not in html  # nothing about that patron


def test_refused_scan_leaves_the_field_empty_without_js_cir2(desk, circ, patron, item):
    patron(barcode="QUEUE-CARD-5")
    ref = item(item_type="ref")
    desk.post("/staff/desk/patron/scan/", {"card": "QUEUE-CARD-5"})
    r = desk.post("/staff/desk/checkout/", {"item": ref.barcode}, follow=True)
    html = r.content.decode()
    assert "not for loan" in html and ref.barcode in html
    assert 'id="item" name="item" data-scan-field autocomplete="off" autofocus required' in html
    assert f'value="{ref.barcode}"' not in html.split('id="answers"')[0]


def test_renewal_too_soon_policy_cir2():
    assert (
        policy.renewal_refusal(
            renewals_done=0, renewals_allowed=2, holds_by_others=0, extends=False
        )
        == "too_soon"
    )
    assert (
        policy.renewal_refusal(
            renewals_done=0,
            renewals_allowed=2,
            holds_by_others=0,
            days_to_due=10,
            no_renewal_before_days=5,
        )
        == "too_soon"
    )
    assert (
        policy.renewal_refusal(
            renewals_done=0,
            renewals_allowed=2,
            holds_by_others=0,
            days_to_due=5,
            no_renewal_before_days=5,
        )
        == ""
    )


def test_renewal_refused_too_soon_by_rule_keeps_the_renewal_cir2(circ, patron, item):
    rule = circ["rule"]
    rule.no_renewal_before_days = 3
    rule.save()
    services.config_changed()
    r = services.checkout(
        actor=None, item_barcode=item().barcode, patron_id=patron().pk, branch_id=circ["north"].pk
    )
    age_loan(r.loan.pk, days=5)  # due in 16 days: more than 3 days away
    with pytest.raises(services.CirculationRefused) as exc:
        services.renew(actor=None, loan_id=r.loan.pk)
    assert exc.value.code == "too_soon"
    r.loan.refresh_from_db()
    assert r.loan.renewals == 0
    age_loan(r.loan.pk, days=14)  # due in 2 days
    assert services.renew(actor=None, loan_id=r.loan.pk).renewals_left == 1


def test_renew_too_soon_in_norwegian_names_the_item_cir2(desk, circ, patron, item):
    patron(barcode="QUEUE-CARD-NB")
    i = item()
    desk.post("/staff/desk/patron/scan/", {"card": "QUEUE-CARD-NB"})
    desk.post("/staff/desk/checkout/", {"item": i.barcode})
    loan = Loan.objects.get(item=i)
    r = desk.post(
        "/staff/desk/renew/", {"loan_id": str(loan.pk)}, follow=True, HTTP_ACCEPT_LANGUAGE="nb"
    )
    html = r.content.decode()
    assert "For tidlig å fornye" in html and i.barcode in html


@pytest.mark.browser
def test_scan_burst_of_ten_answered_in_order_cir2(
    page, live_server, transactional_db, circ, patron, item
):
    """Ten scans 100 ms apart, typed as a scanner types (characters, then Enter): ten
    answers in scan order, each naming its barcode; the field is empty and focused."""
    from django.conf import settings

    staff = make_staff("deskburst", roles=["circulation-desk"])
    p = patron(barcode="BURST-CARD-1")
    items = [item() for _ in range(8)]
    ref = item(item_type="ref")
    scans = [i.barcode for i in items[:4]] + [ref.barcode, "BURST-CARD-1"]
    scans += [i.barcode for i in items[4:]]
    name = settings.SESSION_COOKIE_NAME
    cookie = signed_in_client(staff).cookies[name]
    page.context.add_cookies([{"name": name, "value": cookie.value, "url": live_server.url}])
    page.goto("/staff/desk/")
    page.wait_for_function("document.activeElement && document.activeElement.name === 'card'")
    page.keyboard.type("BURST-CARD-1")
    page.keyboard.press("Enter")
    page.wait_for_url("**/staff/desk/patron/")
    field = page.get_by_label("Scan an item")
    expect(field).to_be_focused()
    for barcode in scans:
        page.keyboard.type(barcode)
        page.keyboard.press("Enter")
        page.wait_for_timeout(100)
    answers = page.locator("#answers > li.answer:not(.pending)")
    expect(answers).to_have_count(10, timeout=30000)
    texts = answers.all_inner_texts()
    for barcode, text in zip(scans, texts, strict=True):
        assert text.startswith(barcode), (barcode, text)
    assert "not for loan" in texts[4]
    assert "patron card" in texts[5]
    assert sum("Checked out:" in t for t in texts) == 8
    expect(field).to_have_value("")
    expect(field).to_be_focused()
    assert Loan.objects.filter(patron_id=p.pk, returned_at__isnull=True).count() == 8
    # the loans table catches up once the queue is empty
    expect(page.locator("#loans-heading")).to_have_text("8 loans")


@pytest.mark.browser
def test_check_in_burst_answers_each_scan_cir2(
    page, live_server, transactional_db, circ, patron, item
):
    from django.conf import settings

    staff = make_staff("deskburst2", roles=["circulation-desk"])
    p = patron()
    items = [item() for _ in range(3)]
    for i in items:
        services.checkout(
            actor=None, item_barcode=i.barcode, patron_id=p.pk, branch_id=circ["north"].pk
        )
    name = settings.SESSION_COOKIE_NAME
    cookie = signed_in_client(staff).cookies[name]
    page.context.add_cookies([{"name": name, "value": cookie.value, "url": live_server.url}])
    page.goto("/staff/desk/")
    page.get_by_label("Scan the item").focus()
    scans = [items[0].barcode, "NOT-A-BARCODE", items[1].barcode, items[2].barcode]
    for barcode in scans:
        page.keyboard.type(barcode)
        page.keyboard.press("Enter")
        page.wait_for_timeout(100)
    answers = page.locator("#checkin-answers > li.answer:not(.pending)")
    expect(answers).to_have_count(4, timeout=20000)
    texts = answers.all_inner_texts()
    for barcode, text in zip(scans, texts, strict=True):
        assert text.startswith(barcode), (barcode, text)
    assert "No item has this barcode" in texts[1]
    assert Loan.objects.filter(returned_at__isnull=True).count() == 0
