"""Privacy on return (PRV-HIST-1/2/3, PRV-CON-1/2): no row links a patron to what they read.

The scan is generic: every table in the database (connection.introspection),
every row that holds the patron's id or data-subject id in any column, is
checked for a link to the item or its title: a foreign key column pointing at
the item or record, the barcode or title in clear, or a foreign key to a row
that itself points at the item (one hop: a loan id, a hold id).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from quietshelf.circulation import selectors, services
from quietshelf.circulation.models import CirculationEvent, Fee, Hold, Loan, ReadingHistoryEntry
from quietshelf.privacy import services as privacy_services
from tests.circulation.conftest import age_loan


def _norm(value) -> str:
    return str(value).replace("-", "").lower() if value is not None else ""


def _tables():
    with connection.cursor() as cur:
        names = connection.introspection.table_names(cur)
        out = {}
        for t in names:
            cols = [c.name for c in connection.introspection.get_table_description(cur, t)]
            rels = connection.introspection.get_relations(cur, t)
            out[t] = (cols, rels)
    return out


def _rows(table, cols):
    qn = connection.ops.quote_name
    with connection.cursor() as cur:
        cur.execute(f"SELECT {', '.join(qn(c) for c in cols)} FROM {qn(table)}")  # noqa: S608
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def links_between(patron, item) -> list[str]:
    """Rows anywhere that tie this patron to this item or its title."""
    from quietshelf.catalog.models import BibRecord, Item

    person = {_norm(patron.pk), _norm(patron.subject_id)}
    item_table, record_table = Item._meta.db_table, BibRecord._meta.db_table
    targets = {item_table: _norm(item.pk), record_table: _norm(item.record_id)}
    clear = {item.barcode.lower(), item.record.title.lower()}
    tables = _tables()
    # rows that point at the item or record: (table, pk) for the one-hop check
    pointing: dict[str, set[str]] = {}
    for t, (cols, rels) in tables.items():
        fk = [c for c, (_ref_col, ref_t) in rels.items() if ref_t in targets]
        if not fk or "id" not in cols:
            continue
        for row in _rows(t, cols):
            if any(_norm(row[c]) == targets[rels[c][1]] for c in fk):
                pointing.setdefault(t, set()).add(_norm(row["id"]))
    found = []
    for t, (cols, rels) in tables.items():
        for row in _rows(t, cols):
            if not any(_norm(v) in person for v in row.values() if v is not None):
                continue
            for c, v in row.items():
                if v is None:
                    continue
                ref = rels.get(c)
                if ref and ref[1] in targets and _norm(v) == targets[ref[1]]:
                    found.append(f"{t}.{c} -> {ref[1]}")
                elif ref and ref[1] in pointing and _norm(v) in pointing[ref[1]]:
                    found.append(f"{t}.{c} -> {ref[1]} (points at the item)")
                elif isinstance(v, str) and v.lower() in clear:
                    found.append(f"{t}.{c} (in clear)")
    return found


def test_scan_finds_the_link_of_an_open_loan(circ, patron, item):
    """The scan can fail: an open loan is a link."""
    p, i = patron(), item()
    services.checkout(
        actor=None, item_barcode=i.barcode, patron_id=p.pk, branch_id=circ["north"].pk
    )
    assert any("circulation_loan" in f for f in links_between(p, i))


def test_no_row_links_patron_and_item_after_checkin_prv_hist1(circ, patron, item):
    p, i = patron(), item()
    services.checkout(
        actor=None, item_barcode=i.barcode, patron_id=p.pk, branch_id=circ["north"].pk
    )
    age_loan(Loan.objects.get(item=i).pk)
    services.renew(actor=None, loan_id=Loan.objects.get(item=i).pk)
    services.checkin(actor=None, item_barcode=i.barcode, branch_id=circ["south"].pk)
    assert links_between(p, i) == []
    loan = Loan.objects.get(item=i)
    assert loan.patron_id is None and loan.returned_at is not None
    # statistics kept without the patron (PRV-HIST-2, RPT-1)
    kinds = set(CirculationEvent.objects.filter(item=i).values_list("kind", flat=True))
    assert kinds == {"checkout", "renewal", "checkin"}
    assert CirculationEvent.objects.filter(item=i, patron_group=circ["adult"]).count() == 3


def _overdue_checkin(circ, p, i, days=3):
    r = services.checkout(
        actor=None, item_barcode=i.barcode, patron_id=p.pk, branch_id=circ["north"].pk
    )
    Loan.objects.filter(pk=r.loan.pk).update(due_at=timezone.now() - dt.timedelta(days=days))
    return services.checkin(actor=None, item_barcode=i.barcode, branch_id=circ["north"].pk)


def test_unresolved_fee_keeps_the_link_until_paid_prv_hist2(circ, patron, item):
    p, i = patron(), item()
    res = _overdue_checkin(circ, p, i)
    assert res.fee_id is not None
    assert links_between(p, i)  # the fee (and its loan) keep it while unresolved
    services.fee_pay(actor=None, fee_id=res.fee_id, amount=res.fine_minor)
    assert links_between(p, i) == []
    fee = Fee.objects.get(pk=res.fee_id)
    assert fee.resolved_at and fee.item_id is None and fee.record_id is None and fee.loan_id is None
    assert Loan.objects.get(item=i).patron_id is None


def test_waived_fee_also_releases_the_link_prv_hist2(circ, patron, item):
    p, i = patron(), item()
    res = _overdue_checkin(circ, p, i)
    services.fee_waive(actor=None, fee_id=res.fee_id, reason="first time")
    assert links_between(p, i) == []


@override_settings(QUIETSHELF_LOAN_DEIDENTIFY_DAYS=3)
def test_configured_delay_then_deidentify_job_prv_hist1(circ, patron, item):
    p, i = patron(), item()
    services.checkout(
        actor=None, item_barcode=i.barcode, patron_id=p.pk, branch_id=circ["north"].pk
    )
    services.checkin(actor=None, item_barcode=i.barcode, branch_id=circ["north"].pk)
    assert Loan.objects.get(item=i).patron_id == p.pk
    today = timezone.localdate()
    assert services.deidentify_closed_loans(today=today + dt.timedelta(days=2)) == 0
    assert services.deidentify_closed_loans(today=today + dt.timedelta(days=3)) == 1
    assert links_between(p, i) == []


def test_filled_and_cancelled_holds_are_deidentified_cir3(circ, patron, item):
    p, q, i = patron(), patron(), item()
    h = services.hold_place(
        actor=None, patron_id=p.pk, record_id=i.record_id, pickup_branch_id=circ["north"].pk
    )
    services.checkout(
        actor=None, item_barcode=i.barcode, patron_id=p.pk, branch_id=circ["north"].pk
    )
    h.refresh_from_db()
    assert h.status == "filled" and h.patron_id is None
    services.checkin(actor=None, item_barcode=i.barcode, branch_id=circ["north"].pk)
    assert links_between(p, i) == []
    h2 = services.hold_place(
        actor=None, patron_id=q.pk, record_id=i.record_id, pickup_branch_id=circ["north"].pk
    )
    services.hold_cancel(actor=None, hold_id=h2.pk)
    assert Hold.objects.get(pk=h2.pk).patron_id is None
    assert links_between(q, i) == []


def _opt_in(p):
    privacy_services.give_consent(subject_id=p.subject_id, scope=services.READING_HISTORY)


def test_reading_history_is_off_by_default_prv_hist3(circ, patron, item):
    p, i = patron(), item()
    services.checkout(
        actor=None, item_barcode=i.barcode, patron_id=p.pk, branch_id=circ["north"].pk
    )
    services.checkin(actor=None, item_barcode=i.barcode, branch_id=circ["north"].pk)
    assert not ReadingHistoryEntry.objects.exists()


def test_reading_history_opt_in_encrypted_and_erased_on_withdrawal_prv_con2(circ, patron, item):
    p, i = patron(), item()
    _opt_in(p)
    services.checkout(
        actor=None, item_barcode=i.barcode, patron_id=p.pk, branch_id=circ["north"].pk
    )
    services.checkin(actor=None, item_barcode=i.barcode, branch_id=circ["north"].pk)
    rows = selectors.reading_history(actor=None, patron_id=p.pk)
    assert [r["title"] for r in rows] == [i.record.title]
    # encrypted: neither the title nor the record id is in the row in clear
    assert links_between(p, i) == []
    qn = connection.ops.quote_name
    with connection.cursor() as cur:
        cur.execute(f"SELECT {qn('data')} FROM {qn(ReadingHistoryEntry._meta.db_table)}")  # noqa: S608
        raw = bytes(cur.fetchone()[0])
    assert i.record.title.encode() not in raw
    privacy_services.withdraw_consent(subject_id=p.subject_id, scope=services.READING_HISTORY)
    assert not ReadingHistoryEntry.objects.exists()


@pytest.mark.parametrize("n", [1])
def test_reading_history_delete_by_patron_prv_hist3(circ, patron, item, n):
    from quietshelf.privacy.audit import Actor

    p, i = patron(), item()
    _opt_in(p)
    services.checkout(
        actor=None, item_barcode=i.barcode, patron_id=p.pk, branch_id=circ["north"].pk
    )
    services.checkin(actor=None, item_barcode=i.barcode, branch_id=circ["north"].pk)
    other = patron()
    from quietshelf.core.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.reading_history_delete(actor=Actor.patron(other.pk), patron_id=p.pk)
    assert services.reading_history_delete(actor=Actor.patron(p.pk), patron_id=p.pk) == n


def test_fee_paid_during_the_loan_loses_item_at_checkin_prv_hist2(circ, patron, item):
    p, i = patron(), item()
    r = services.checkout(
        actor=None, item_barcode=i.barcode, patron_id=p.pk, branch_id=circ["north"].pk
    )
    Loan.objects.filter(pk=r.loan.pk).update(due_at=timezone.now() - dt.timedelta(days=2))
    services.charge_overdue_fines(today=timezone.localdate())
    fee = Fee.objects.get(patron=p)
    services.fee_pay(actor=None, fee_id=fee.pk, amount=services.fee_balance(fee.pk))
    fee.refresh_from_db()
    assert fee.resolved_at and fee.item_id == i.pk  # the loan is still open
    services.checkin(actor=None, item_barcode=i.barcode, branch_id=circ["north"].pk)
    assert links_between(p, i) == []


def test_last_borrower_escrow_is_off_by_default_prv_hist4(circ, patron, item):
    from quietshelf.circulation.models import LastBorrowerEscrow

    p, i = patron(), item()
    services.checkout(
        actor=None, item_barcode=i.barcode, patron_id=p.pk, branch_id=circ["north"].pk
    )
    services.checkin(actor=None, item_barcode=i.barcode, branch_id=circ["north"].pk)
    assert not LastBorrowerEscrow.objects.exists()


@override_settings(QUIETSHELF_LAST_BORROWER_ESCROW_DAYS=30)
def test_last_borrower_escrow_sealed_opened_only_by_privacy_officer_prv_hist4(circ, patron, item):
    from quietshelf.accounts.testing import make_staff
    from quietshelf.circulation.models import LastBorrowerEscrow
    from quietshelf.core.errors import InvalidInput, PermissionDenied
    from quietshelf.privacy.models import AuditEntry

    p, i = patron(), item()
    services.checkout(
        actor=None, item_barcode=i.barcode, patron_id=p.pk, branch_id=circ["north"].pk
    )
    services.checkin(actor=None, item_barcode=i.barcode, branch_id=circ["north"].pk)
    assert LastBorrowerEscrow.objects.filter(item=i).count() == 1
    assert links_between(p, i) == []  # sealed: no patron id in clear anywhere
    desk = make_staff("escrowdesk", roles=["circulation-desk"])
    officer = make_staff("escrowofficer", roles=["privacy-officer"])
    with pytest.raises(PermissionDenied):
        services.escrow_open(actor=desk, item_barcode=i.barcode, reason="damaged pages")
    with pytest.raises(InvalidInput):
        services.escrow_open(actor=officer, item_barcode=i.barcode, reason=" ")
    assert services.escrow_open(actor=officer, item_barcode=i.barcode, reason="torn").pk == p.pk
    entry = AuditEntry.objects.get(action="escrow_opened")
    assert entry.object_id == str(p.pk) and entry.actor_id == str(officer.pk)
    today = timezone.localdate()
    assert services.purge_escrow(today=today + dt.timedelta(days=30)) == 0
    assert services.purge_escrow(today=today + dt.timedelta(days=31)) == 1


def test_unpaid_fine_accrued_before_a_renewal_still_holds_the_link_prv_hist2(circ, patron, item):
    p, i = patron(), item()
    r = services.checkout(
        actor=None, item_barcode=i.barcode, patron_id=p.pk, branch_id=circ["north"].pk
    )
    Loan.objects.filter(pk=r.loan.pk).update(due_at=timezone.now() - dt.timedelta(days=2))
    services.charge_overdue_fines(today=timezone.localdate())
    services.renew(actor=None, loan_id=r.loan.pk)  # now due in the future: no new fine
    res = services.checkin(actor=None, item_barcode=i.barcode, branch_id=circ["north"].pk)
    assert res.fine_minor == 0
    assert Loan.objects.get(pk=r.loan.pk).patron_id == p.pk  # the unpaid fee keeps it
    fee = Fee.objects.get(patron=p)
    services.fee_pay(actor=None, fee_id=fee.pk, amount=services.fee_balance(fee.pk))
    assert links_between(p, i) == []


def test_erasing_a_patron_with_loans_fees_holds_and_history_works_prv_ret3(circ, patron, item):
    from quietshelf.patrons import services as patron_services

    p, i, j = patron(), item(), item()
    _opt_in(p)
    services.checkout(
        actor=None, item_barcode=i.barcode, patron_id=p.pk, branch_id=circ["north"].pk
    )
    services.checkin(actor=None, item_barcode=i.barcode, branch_id=circ["north"].pk)
    services.checkout(
        actor=None, item_barcode=j.barcode, patron_id=p.pk, branch_id=circ["north"].pk
    )
    services.hold_place(
        actor=None, patron_id=p.pk, record_id=item().record_id, pickup_branch_id=circ["north"].pk
    )
    services.fee_charge(
        actor=None, patron_id=p.pk, fee_type="damage", amount=700, branch_id=circ["north"].pk
    )
    patron_services.patron_erase(actor=None, patron_id=p.pk)
    assert not ReadingHistoryEntry.objects.exists()
    assert Loan.objects.get(item=j).patron_id is None  # still open, no longer anyone's
    assert not Fee.objects.filter(patron__isnull=False).exists()
    assert not Hold.objects.filter(patron__isnull=False).exists()
