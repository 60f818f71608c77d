"""Reports with personal data (RPT-1, PRV-ACC-1): only with
reports.view_personal_reports, every run and download audited with its filter,
a refusal answered 403 and audited too; no API route."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from quietshelf.accounts.testing import make_staff, signed_in_client
from quietshelf.circulation import services as circ_services
from quietshelf.privacy.models import AuditEntry

pytestmark = pytest.mark.django_db(databases="__all__")

URL = "/staff/reports/personal/"


@pytest.fixture
def overdue(circ, item, patron):
    borrower = patron(phone="+47 912 34 567")
    book = item()
    with time_machine.travel(timezone.now() - dt.timedelta(days=40), tick=False):
        circ_services.checkout(
            actor=None, item_barcode=book.barcode, patron_id=borrower.pk,
            branch_id=circ["north"].pk,
        )  # fmt: skip
    return borrower, book


def test_overdue_list_names_the_patron_and_is_audited_with_its_filter_prv_acc_1(overdue):
    borrower, book = overdue
    desk = make_staff("desk-overdue", roles=["circulation-desk"])
    client = signed_in_client(desk)
    r = client.get(URL + "overdue/", {"days": "7"})
    assert r.status_code == 200
    body = r.content.decode()
    table = body[body.find('id="personal-table"') :]
    assert borrower.sort_name in table and book.barcode in table, table[:2000]
    assert "912" in table, table[:2000]
    entry = AuditEntry.objects.get(action="viewed", object_type="reports.personal_report")
    assert entry.object_id == "overdue" and entry.actor_id == str(desk.pk)
    assert entry.reason == "overdue days=7 branches=all"
    assert borrower.sort_name not in entry.reason

    r = client.get(URL + "overdue/csv/", {"days": "7"})
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    assert borrower.sort_name in r.content.decode()
    assert AuditEntry.objects.filter(
        action="exported", object_type="reports.personal_report", object_id="overdue"
    ).exists()

    r = client.get(URL + "overdue/", {"days": "60"})
    assert borrower.sort_name not in r.content.decode()


def test_a_report_reader_asking_for_an_overdue_list_gets_403_and_is_audited_prv_acc_1(
    overdue, reader
):
    client = signed_in_client(reader)
    assert client.get(URL + "overdue/").status_code == 403
    assert client.get(URL + "overdue/csv/").status_code == 403
    denied = AuditEntry.objects.filter(action="denied", object_type="reports.personal_report")
    assert denied.count() == 2
    assert denied.first().reason == "reports.view_personal_reports"
    assert not AuditEntry.objects.filter(action="viewed", object_type="reports.personal_report")
    # and the list is not offered on the reports page
    assert 'id="personal"' not in client.get("/staff/reports/").content.decode()


def test_bad_filters_are_form_errors_rpt_1(overdue):
    client = signed_in_client(make_staff("desk-bad", roles=["circulation-desk"]))
    assert client.get(URL + "overdue/", {"days": "-1"}).status_code == 400
    assert client.get(URL + "overdue/", {"days": "many"}).status_code == 400
    assert client.get(URL + "fees-above/", {"limit": "-5"}).status_code == 400
    assert client.get(URL + "nothing/").status_code == 404
    assert not AuditEntry.objects.filter(action="viewed", object_type="reports.personal_report")


def test_patrons_with_fees_above_a_limit_prv_acc_1(circ, patron):
    owing, small = patron(), patron()
    circ_services.fee_charge(
        actor=None, patron_id=owing.pk, fee_type="damage", amount=25000, branch_id=circ["north"].pk
    )
    circ_services.fee_charge(
        actor=None, patron_id=small.pk, fee_type="manual", amount=500, branch_id=circ["north"].pk
    )
    client = signed_in_client(make_staff("pm-fees", roles=["patron-manager"]))
    body = client.get(URL + "fees-above/", {"limit": "10000"}).content.decode()
    assert owing.sort_name in body and small.sort_name not in body and "25000" in body
    entry = AuditEntry.objects.get(action="viewed", object_type="reports.personal_report")
    assert entry.reason == "fees-above limit=10_000 branches=all"


def test_lists_with_personal_data_have_no_api_route_prv_acc_1(overdue):
    client = signed_in_client(make_staff("desk-api", roles=["circulation-desk"]))
    assert client.get("/api/v1/reports/overdue").status_code == 404


def test_holds_to_pull_lists_a_copy_for_each_waiting_hold_prv_acc_1(circ, item, patron):
    on_shelf = item(branch="south", call_number="839 HAM")
    lent = item()
    waiting, other, borrower = patron(), patron(), patron()
    circ_services.checkout(
        actor=None, item_barcode=lent.barcode, patron_id=borrower.pk, branch_id=circ["north"].pk
    )
    for who, record in ((waiting, on_shelf.record_id), (other, lent.record_id)):
        circ_services.hold_place(
            actor=None, patron_id=who.pk, record_id=record, pickup_branch_id=circ["north"].pk
        )
    client = signed_in_client(make_staff("desk-pull", roles=["circulation-desk"]))
    r = client.get(URL + "holds-to-pull/")
    assert r.status_code == 200
    table = r.content.decode()[r.content.decode().find('id="personal-table"') :]
    assert on_shelf.barcode in table and "839 HAM" in table and waiting.sort_name in table
    assert other.sort_name not in table  # its only copy is on loan
    assert AuditEntry.objects.filter(
        action="viewed", object_type="reports.personal_report", object_id="holds-to-pull"
    ).exists()
