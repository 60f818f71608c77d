# ruff: noqa: F811
"""The patron's self-service circulation pages under /account/ (issue "Circulation" item 10).

CIR-2 (loans, renew), CIR-3 (holds), CIR-4 (fees), PRV-HIST-3 / PRV-CON-1/2 (reading
history), SEC-ACC-1 (another patron's loan or hold is 404), SEC-URL-1 (no-store, no ids or
card numbers in URLs). Real database, real services; every person and title is fictional.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.test import Client
from django.utils import timezone

from quietshelf.circulation import services
from quietshelf.circulation.models import Hold, Loan, ReadingHistoryEntry

# the circulation fixtures (branches, rules, items); tests take them as arguments
from tests.circulation.conftest import _fresh_config_cache, age_loan, circ, item  # noqa: F401
from tests.factories import BibRecordFactory

from .conftest import PASSWORD, sign_in

pytestmark = pytest.mark.django_db

PAGES = [
    "/account/loans/",
    "/account/holds/",
    "/account/fees/",
    "/account/reading-history/",
    "/account/reading-history/export.json",
    "/account/reading-history/export.csv",
]


@pytest.fixture
def reader(make_patron, circ):
    return make_patron(
        email="runa.fjell@example.org",
        barcode="230055550001",
        given_name="Runa",
        family_name="Fjellheim",
        home_branch=circ["south"],
        group=circ["adult"],
    )


@pytest.fixture
def other(make_patron, circ):
    return make_patron(
        email="eir.vik@example.org",
        barcode="230055550002",
        given_name="Eir",
        family_name="Vikane",
        home_branch=circ["north"],
        group=circ["adult"],
    )


@pytest.fixture
def me(client, reader):
    assert sign_in(client, "230055550001").status_code == 302
    return client


def lend(circ, patron, it):
    return services.checkout(
        actor=None, item_barcode=it.barcode, patron_id=patron.pk, branch_id=circ["north"].pk
    ).loan


def body(response) -> str:
    return response.content.decode()


# --- every page -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_pages_need_sign_in_and_come_back_sec_url_1(client, circ, path):
    r = client.get(path)
    assert r.status_code == 302
    assert r["Location"].startswith("/account/sign-in/?next=")


@pytest.mark.parametrize("path", PAGES)
def test_pages_are_no_store_sec_url_1(me, reader, path):
    from quietshelf.privacy import services as privacy_services

    privacy_services.give_consent(subject_id=reader.subject_id, scope=services.READING_HISTORY)
    r = me.get(path)
    assert r.status_code == 200, path
    assert r["Cache-Control"] == "no-store"


def test_urls_on_the_pages_carry_no_card_number_or_loan_id_sec_url_1(me, circ, reader, item):
    loan = lend(circ, reader, item())
    hold = services.hold_place(
        actor=None,
        patron_id=reader.pk,
        record_id=item().record_id,
        pickup_branch_id=circ["north"].pk,
    )
    for path in ("/account/", "/account/loans/", "/account/holds/", "/account/fees/"):
        html = body(me.get(path))
        urls = re.findall(r'(?:href|action)="([^"]+)"', html)
        assert urls
        for url in urls:
            assert "230055550001" not in url, url
            assert str(loan.pk) not in url and str(hold.pk) not in url, url


# --- loans and renewals (CIR-2) -----------------------------------------------------------------


def test_loans_page_shows_titles_due_dates_overdue_and_renewals_left_cir2(
    me,
    circ,
    reader,
    item,
):
    a = item(record=BibRecordFactory(title="Tidevann over Lofoten"))
    b = item(record=BibRecordFactory(title="Stille vinter"))
    lend(circ, reader, a)
    late = lend(circ, reader, b)
    Loan.objects.filter(pk=late.pk).update(due_at=timezone.now() - dt.timedelta(days=3))
    html = body(me.get("/account/loans/"))
    assert "Tidevann over Lofoten" in html and "Stille vinter" in html
    assert html.count('class="unavailable overdue"') == 1
    assert "2 (0 used)" in html
    assert 'name="all"' in html and "csrfmiddlewaretoken" in html


def test_renew_one_loan_until_the_limit_gives_a_readable_refusal_cir2(me, circ, reader, item):
    loan = lend(circ, reader, item())
    for used in (1, 2):
        age_loan(loan.pk)
        r = me.post("/account/loans/renew/", {"loan": str(loan.pk)})
        assert r.status_code == 302 and r["Location"] == "/account/loans/"
        assert "Renewed: now due" in body(me.get("/account/loans/"))
        loan.refresh_from_db()
        assert loan.renewals == used
    r = me.post("/account/loans/renew/", {"loan": str(loan.pk)}, follow=True)
    assert r.status_code == 200
    assert "You have renewed this loan as many times as allowed." in body(r)
    loan.refresh_from_db()
    assert loan.renewals == 2
    # the result is shown once, not on every later visit
    assert "as many times as allowed" not in body(me.get("/account/loans/"))


def test_renew_refused_when_someone_else_waits_cir2(me, circ, reader, other, item):
    it = item()
    loan = lend(circ, reader, it)
    services.hold_place(
        actor=None, patron_id=other.pk, record_id=it.record_id, pickup_branch_id=circ["north"].pk
    )
    r = me.post("/account/loans/renew/", {"loan": str(loan.pk)}, follow=True)
    assert "Someone else is waiting for this title" in body(r)
    loan.refresh_from_db()
    assert loan.renewals == 0


def test_renew_refused_for_a_blocked_patron_is_readable_not_500_cir2(me, circ, reader, item):
    from quietshelf.patrons import services as patron_services

    loan = lend(circ, reader, item())
    age_loan(loan.pk)
    patron_services.block_add(actor=None, patron_id=reader.pk, reason_code="manual")
    r = me.post("/account/loans/renew/", {"loan": str(loan.pk)}, follow=True)
    assert r.status_code == 200
    assert "Your account is blocked. Please contact the library." in body(r)


def test_renew_all_reports_each_loan_cir2(me, circ, reader, other, item):
    free, wanted = item(), item()
    age_loan(lend(circ, reader, free).pk)
    age_loan(lend(circ, reader, wanted).pk)
    services.hold_place(
        actor=None,
        patron_id=other.pk,
        record_id=wanted.record_id,
        pickup_branch_id=circ["north"].pk,
    )
    r = me.post("/account/loans/renew/", {"all": "1"}, follow=True)
    html = body(r)
    assert "1 of 2 loans renewed." in html
    assert html.count("Renewed: now due") == 1
    assert html.count("Someone else is waiting") == 1


def test_renew_with_no_choice_or_a_bad_id_is_readable_cir2(me, circ, reader):
    r = me.post("/account/loans/renew/", {}, follow=True)
    assert r.status_code == 200 and "Choose a loan to renew." in body(r)
    r = me.post("/account/loans/renew/", {"loan": "not-a-uuid"}, follow=True)
    assert r.status_code == 200 and "Choose a loan to renew." in body(r)


def test_renewing_another_patrons_loan_is_not_found_sec_acc_1(me, circ, other, item):
    loan = lend(circ, other, item())
    r = me.post("/account/loans/renew/", {"loan": str(loan.pk)})
    assert r.status_code == 404
    loan.refresh_from_db()
    assert loan.renewals == 0
    assert str(loan.item.record.title) not in body(me.get("/account/loans/"))


def test_renew_needs_post_and_csrf_sec_csrf_1(circ, reader, item):
    loan = lend(circ, reader, item())
    client = Client(enforce_csrf_checks=True)
    page = client.get("/account/sign-in/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body(page)).group(1)
    r = client.post(
        "/account/sign-in/",
        {"identifier": "230055550001", "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert r.status_code == 302
    assert client.get("/account/loans/renew/").status_code == 405
    assert client.post("/account/loans/renew/", {"loan": str(loan.pk)}).status_code == 403
    loan.refresh_from_db()
    assert loan.renewals == 0


# --- holds (CIR-3) ------------------------------------------------------------------------------


def test_record_page_links_to_place_a_hold_without_a_cookie_cir3(client, circ, item):
    it = item(record=BibRecordFactory(title="Nordlys i mars"))
    r = client.get(f"/record/{it.record_id}/")
    assert r.status_code == 200
    assert f'href="/account/holds/place/{it.record_id}/"' in body(r)
    assert not r.cookies, "the public record page sets no cookie"
    assert "<script" not in body(r)


def test_place_hold_signs_in_first_and_comes_back_cir3(client, circ, reader, item):
    it = item()
    target = f"/account/holds/place/{it.record_id}/"
    r = client.get(target)
    assert r.status_code == 302 and r["Location"].startswith("/account/sign-in/?next=")
    r = sign_in(client, "230055550001", next=target)
    assert r.status_code == 302 and r["Location"] == target


def test_place_hold_defaults_to_home_branch_and_shows_queue_position_cir3(
    me,
    circ,
    reader,
    other,
    item,
):
    it = item(record=BibRecordFactory(title="Havets stemmer"))
    services.hold_place(
        actor=None, patron_id=other.pk, record_id=it.record_id, pickup_branch_id=circ["north"].pk
    )
    form = body(me.get(f"/account/holds/place/{it.record_id}/"))
    assert "Havets stemmer" in form
    assert re.search(rf'<option value="{circ["south"].pk}" selected>', form)
    r = me.post(
        f"/account/holds/place/{it.record_id}/",
        {"pickup_branch": circ["south"].pk},
        follow=True,
    )
    html = body(r)
    assert "You are number 2 in the queue." in html
    assert "Number 2 in the queue" in html and "South" in html
    hold = Hold.objects.get(patron=reader)
    assert hold.pickup_branch_id == circ["south"].pk and not hold.item_level


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("duplicate", "You already have a hold on this title."),
        ("on_loan", "You have this title on loan already."),
        ("not_allowed", "Holds are not allowed on this title for your card."),
        ("limit", "You have as many holds as allowed."),
        ("blocked", "Your account is blocked. Please contact the library."),
    ],
)
def test_place_hold_refusals_are_readable_cir3(me, circ, reader, item, setup, message):
    from quietshelf.patrons import services as patron_services

    it = item()
    north = circ["north"].pk
    if setup == "duplicate":
        services.hold_place(
            actor=None, patron_id=reader.pk, record_id=it.record_id, pickup_branch_id=north
        )
    elif setup == "on_loan":
        lend(circ, reader, it)
    elif setup == "not_allowed":
        services.rule_save(actor=None, item_type_id=circ["book"].pk, holds_allowed=False)
    elif setup == "limit":
        services.rule_save(actor=None, hold_limit=1)
        services.hold_place(
            actor=None, patron_id=reader.pk, record_id=item().record_id, pickup_branch_id=north
        )
    elif setup == "blocked":
        patron_services.block_add(actor=None, patron_id=reader.pk, reason_code="manual")
    before = Hold.objects.filter(patron=reader).count()
    r = me.post(f"/account/holds/place/{it.record_id}/", {"pickup_branch": north})
    assert r.status_code in (400, 409)
    assert message in body(r)
    assert Hold.objects.filter(patron=reader).count() == before


def test_place_hold_bad_branch_or_unknown_title_cir3(me, circ, reader, item):
    it = item()
    r = me.post(f"/account/holds/place/{it.record_id}/", {"pickup_branch": "999999"})
    assert r.status_code == 400 and 'class="errorlist"' in body(r)
    r = me.post(f"/account/holds/place/{it.record_id}/", {"pickup_branch": "north"})
    assert r.status_code == 400
    assert me.get("/account/holds/place/99999999/").status_code == 404
    record_without_copies = BibRecordFactory()
    r = me.post(
        f"/account/holds/place/{record_without_copies.pk}/", {"pickup_branch": circ["north"].pk}
    )
    assert r.status_code == 409
    assert "no copies of this title" in body(r)
    assert not Hold.objects.filter(patron=reader).exists()


def test_holds_page_shelf_expiry_and_cancel_cir3(me, circ, reader, item):
    it = item(record=BibRecordFactory(title="Fjellvind"))
    services.hold_place(
        actor=None, patron_id=reader.pk, record_id=it.record_id, pickup_branch_id=circ["north"].pk
    )
    services.checkin(actor=None, item_barcode=it.barcode, branch_id=circ["north"].pk)
    hold = Hold.objects.get(patron=reader)
    assert hold.status == "on_shelf" and hold.shelf_expires_on
    html = body(me.get("/account/holds/"))
    assert "Ready for pickup" in html
    assert f"collect by {hold.shelf_expires_on:%Y-%m-%d}" in html
    assert "Suspend until" not in html  # only a waiting hold can be suspended
    r = me.post("/account/holds/cancel/", {"hold": str(hold.pk)}, follow=True)
    assert "Your hold is cancelled." in body(r)
    hold.refresh_from_db()
    assert hold.status == "cancelled" and hold.patron_id is None
    assert "Fjellvind" not in body(me.get("/account/holds/"))


def test_suspend_and_resume_a_hold_cir3(me, circ, reader, item):
    it = item()
    hold = services.hold_place(
        actor=None, patron_id=reader.pk, record_id=it.record_id, pickup_branch_id=circ["north"].pk
    )
    until = timezone.localdate() + dt.timedelta(days=10)
    r = me.post(
        "/account/holds/suspend/", {"hold": str(hold.pk), "until": until.isoformat()}, follow=True
    )
    assert f"suspended until {until:%Y-%m-%d}" in body(r)
    hold.refresh_from_db()
    assert hold.suspended_until == until
    assert f"Suspended until {until:%Y-%m-%d}" in body(me.get("/account/holds/"))
    r = me.post("/account/holds/suspend/", {"hold": str(hold.pk)}, follow=True)
    assert "Your hold is active again." in body(r)
    hold.refresh_from_db()
    assert hold.suspended_until is None


def test_suspend_bad_dates_are_readable_cir3(me, circ, reader, item):
    hold = services.hold_place(
        actor=None,
        patron_id=reader.pk,
        record_id=item().record_id,
        pickup_branch_id=circ["north"].pk,
    )
    past = timezone.localdate() - dt.timedelta(days=2)
    r = me.post(
        "/account/holds/suspend/", {"hold": str(hold.pk), "until": past.isoformat()}, follow=True
    )
    assert r.status_code == 200 and "Choose a date after today." in body(r)
    r = me.post(
        "/account/holds/suspend/", {"hold": str(hold.pk), "until": "31/31/2026"}, follow=True
    )
    assert r.status_code == 200 and "Enter the date as YYYY-MM-DD." in body(r)
    hold.refresh_from_db()
    assert hold.suspended_until is None


def test_another_patrons_hold_is_not_found_sec_acc_1(me, circ, other, item):
    hold = services.hold_place(
        actor=None,
        patron_id=other.pk,
        record_id=item().record_id,
        pickup_branch_id=circ["north"].pk,
    )
    assert me.post("/account/holds/cancel/", {"hold": str(hold.pk)}).status_code == 404
    until = (timezone.localdate() + dt.timedelta(days=5)).isoformat()
    r = me.post("/account/holds/suspend/", {"hold": str(hold.pk), "until": until})
    assert r.status_code == 404
    assert me.post("/account/holds/cancel/", {"hold": "nope"}).status_code == 404
    hold.refresh_from_db()
    assert hold.status == "waiting" and hold.suspended_until is None


# --- fees (CIR-4) -------------------------------------------------------------------------------


def test_fees_page_lists_open_fees_total_and_history_cir4(me, circ, reader, item):
    it = item(record=BibRecordFactory(title="Bølgebok"))
    card = services.fee_charge(
        actor=None, patron_id=reader.pk, fee_type="card", amount=5000, branch_id=circ["north"].pk
    )
    services.fee_charge(
        actor=None,
        patron_id=reader.pk,
        fee_type="damage",
        amount=12000,
        branch_id=circ["north"].pk,
        item_barcode=it.barcode,
    )
    services.fee_pay(actor=None, fee_id=card.pk, amount=2000)
    html = body(me.get("/account/fees/"))
    assert "Card replacement" in html and "Damage" in html and "Bølgebok" in html
    assert "30.00 NOK" in html and "120.00 NOK" in html
    assert re.search(r'id="fee-total">150\.00 NOK<', html)
    assert "-20.00 NOK" in html and "Payment" in html
    assert "Pay at any library desk" in html
    assert "<form" not in html.split("<main", 1)[1].split("</main>")[0]  # no payment form


def test_fees_page_when_nothing_is_owed_cir4(me, circ):
    html = body(me.get("/account/fees/"))
    assert "You owe the library nothing." in html and "No fees so far." in html


# --- reading history (PRV-HIST-3, PRV-CON-1/2) --------------------------------------------------


def test_reading_history_off_by_default_links_to_consents_prv_con_1(me, circ, reader, item):
    it = item()
    lend(circ, reader, it)
    services.checkin(actor=None, item_barcode=it.barcode, branch_id=circ["north"].pk)
    html = body(me.get("/account/reading-history/"))
    assert 'id="history-off"' in html and 'href="/account/consents/"' in html
    assert it.record.title not in html
    assert not ReadingHistoryEntry.objects.filter(patron=reader).exists()
    r = me.get("/account/reading-history/export.json")
    assert r.status_code == 302


def test_reading_history_opt_in_see_export_delete_prv_hist_3(me, circ, reader, item):
    r = me.post("/account/consents/", {"scope": "reading_history", "action": "give"})
    assert r.status_code == 302
    it = item(record=BibRecordFactory(title='=HYPERLINK("x") Skjærgård'))
    lend(circ, reader, it)
    services.checkin(actor=None, item_barcode=it.barcode, branch_id=circ["north"].pk)
    html = body(me.get("/account/reading-history/"))
    assert "Skjærgård" in html and 'id="history"' in html

    j = me.get("/account/reading-history/export.json")
    assert j["Content-Type"].startswith("application/json")
    assert j["Cache-Control"] == "no-store" and "attachment" in j["Content-Disposition"]
    rows = json.loads(j.content)["reading_history"]
    assert [r["title"] for r in rows] == [it.record.title] and rows[0]["returned"]

    c = me.get("/account/reading-history/export.csv")
    assert c["Content-Type"].startswith("text/csv") and c["Cache-Control"] == "no-store"
    text = c.content.decode()
    assert "'=HYPERLINK" in text  # no spreadsheet formula from our export

    r = me.post("/account/reading-history/delete/", {})
    assert r.status_code == 400 and "Tick the box to confirm." in body(r)
    assert ReadingHistoryEntry.objects.filter(patron=reader).count() == 1
    r = me.post("/account/reading-history/delete/", {"confirm": "on"}, follow=True)
    assert "Your reading history is deleted (1 titles)." in body(r)
    assert not ReadingHistoryEntry.objects.filter(patron=reader).exists()


def test_withdrawing_consent_on_the_page_deletes_history_at_once_prv_con_2(
    me,
    circ,
    reader,
    item,
):
    me.post("/account/consents/", {"scope": "reading_history", "action": "give"})
    it = item()
    lend(circ, reader, it)
    services.checkin(actor=None, item_barcode=it.barcode, branch_id=circ["north"].pk)
    assert ReadingHistoryEntry.objects.filter(patron=reader).count() == 1
    me.post("/account/consents/", {"scope": "reading_history", "action": "withdraw"})
    assert not ReadingHistoryEntry.objects.filter(patron=reader).exists()
    assert 'id="history-off"' in body(me.get("/account/reading-history/"))


def test_reading_history_is_only_ones_own_sec_acc_1(me, circ, reader, other, item):
    from quietshelf.privacy import services as privacy_services

    privacy_services.give_consent(subject_id=other.subject_id, scope=services.READING_HISTORY)
    privacy_services.give_consent(subject_id=reader.subject_id, scope=services.READING_HISTORY)
    it = item(record=BibRecordFactory(title="Andres bok"))
    lend(circ, other, it)
    services.checkin(actor=None, item_barcode=it.barcode, branch_id=circ["north"].pk)
    assert "Andres bok" not in body(me.get("/account/reading-history/"))
    assert "Andres bok" not in me.get("/account/reading-history/export.csv").content.decode()
    me.post("/account/reading-history/delete/", {"confirm": "on"})
    assert ReadingHistoryEntry.objects.filter(patron=other).count() == 1


# --- My account summary and languages ----------------------------------------------------------


def test_home_summary_counts_loans_holds_and_balance_cir2_cir3_cir4(
    me,
    circ,
    reader,
    other,
    item,
):
    a, b = item(), item()
    lend(circ, reader, a)
    late = lend(circ, reader, b)
    Loan.objects.filter(pk=late.pk).update(due_at=timezone.now() - dt.timedelta(days=1))
    shelf = item()
    services.hold_place(
        actor=None,
        patron_id=reader.pk,
        record_id=shelf.record_id,
        pickup_branch_id=circ["north"].pk,
    )
    services.checkin(actor=None, item_barcode=shelf.barcode, branch_id=circ["north"].pk)
    services.hold_place(
        actor=None,
        patron_id=reader.pk,
        record_id=item().record_id,
        pickup_branch_id=circ["north"].pk,
    )
    services.fee_charge(
        actor=None,
        patron_id=reader.pk,
        fee_type="manual",
        amount=2550,
        branch_id=circ["north"].pk,
    )
    lend(circ, other, item())  # not counted
    html = body(me.get("/account/"))
    summary = html.split('id="summary"', 1)[1].split("</ul>", 1)[0]
    assert "2 loans" in summary and "1 overdue" in summary
    assert "2 holds" in summary and "1 ready for pickup" in summary
    assert "You owe 25.50 NOK" in summary


def test_pages_in_norwegian_bokmal(me, circ, reader, item):
    lend(circ, reader, item())
    html = body(me.get("/account/loans/", HTTP_ACCEPT_LANGUAGE="nb"))
    assert "Mine lån" in html and "Forny alle" in html
    assert "Reservasjoner" in body(me.get("/account/holds/", HTTP_ACCEPT_LANGUAGE="nb"))
    assert "Gebyrer" in body(me.get("/account/fees/", HTTP_ACCEPT_LANGUAGE="nb"))
    assert "Lesehistorikk" in body(me.get("/account/reading-history/", HTTP_ACCEPT_LANGUAGE="nb"))


# --- CSRF on every form, query counts, the record page in Norwegian ----------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/account/loans/renew/",
        "/account/holds/cancel/",
        "/account/holds/suspend/",
        "/account/reading-history/delete/",
        "/account/holds/place/1/",
    ],
)
def test_every_form_needs_the_csrf_token_sec_csrf_1(circ, reader, path):
    client = Client(enforce_csrf_checks=True)
    page = client.get("/account/sign-in/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body(page)).group(1)
    r = client.post(
        "/account/sign-in/",
        {"identifier": "230055550001", "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert r.status_code == 302
    assert client.post(path, {"confirm": "on", "all": "1"}).status_code == 403


def test_loans_page_query_count_does_not_grow_cir2(me, circ, reader, item):
    """Rule 9: a list page's queries do not grow with the number of loans."""
    from tests.queries import own_queries

    lend(circ, reader, item())
    # The first page after earlier tests may fill per-process caches (code tables,
    # settings) once; warm them so the figure compared is the page's own queries.
    own_queries(me, "/account/loans/")
    one = own_queries(me, "/account/loans/")
    for _ in range(5):
        lend(circ, reader, item())
    assert own_queries(me, "/account/loans/") == one


def test_record_page_hold_link_in_norwegian(client, circ, item):
    it = item()
    html = body(client.get(f"/record/{it.record_id}/?lang=nb"))
    assert ">Reserver</a>" in html


def test_holds_page_positions_match_queue_position_in_one_query_cir3(
    me, circ, reader, other, make_patron, item
):
    """The page (and /me/holds) count positions in one query; the numbers agree with
    selectors.queue_position, suspended holds ahead skipped, same placing time by id."""
    from quietshelf.circulation import selectors
    from quietshelf.privacy.audit import Actor
    from tests.queries import own_queries

    north = circ["north"].pk
    third = make_patron(email="kai.lund@example.org", barcode="230055550003")
    records = [item().record_id for _ in range(4)]
    for rid in records[:3]:
        services.hold_place(actor=None, patron_id=other.pk, record_id=rid, pickup_branch_id=north)
    suspended = services.hold_place(
        actor=None, patron_id=third.pk, record_id=records[1], pickup_branch_id=north
    )
    services.hold_suspend(
        actor=None, hold_id=suspended.pk, until=timezone.localdate() + dt.timedelta(days=9)
    )
    for rid in records:
        services.hold_place(actor=None, patron_id=reader.pk, record_id=rid, pickup_branch_id=north)
    ahead_same_time = Hold.objects.filter(patron=other, record_id=records[2]).get()
    mine = Hold.objects.get(patron=reader, record_id=records[2])
    Hold.objects.filter(pk=ahead_same_time.pk).update(placed_at=mine.placed_at)

    actor = Actor.patron(reader.pk)
    rows = selectors.patron_holds_positioned(actor=actor, patron_id=reader.pk)
    expected = {h.pk: selectors.queue_position(h) for h, _ in rows}
    assert {h.pk: pos for h, pos in rows} == expected
    assert expected[Hold.objects.get(patron=reader, record_id=records[3]).pk] == 1
    assert (
        expected[Hold.objects.get(patron=reader, record_id=records[1]).pk] == 2
    )  # suspended skipped
    assert expected[mine.pk] == (2 if ahead_same_time.pk < mine.pk else 1)

    few = own_queries(me, "/account/holds/")
    services.hold_place(
        actor=None, patron_id=reader.pk, record_id=item().record_id, pickup_branch_id=north
    )
    assert own_queries(me, "/account/holds/") == few
