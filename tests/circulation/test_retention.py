"""Retention in circulation (PRV-HIST-5, PRV-RET-1/2, PRV-DSR-4): nothing re-links a reader.

The re-link scan is generic over the schema (every installed model): after a
realistic day of circulation and the nightly retention run, it joins every
timestamp of every row that names a patron (a foreign key to the patron or
their data subject, or the patron row itself) but no item (an open loan,
hold or unpaid fee links the item anyway, PRV-HIST-1) with every timestamp of every
row that holds an item or title (a foreign key to the item or record, or to a
row that does) but no patron, to the second, and fails on a match that
points at exactly one person.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.apps import apps
from django.db import IntegrityError, connection, models, transaction
from django.test import override_settings
from django.utils import timezone

from quietshelf.catalog.models import BibRecord, Item
from quietshelf.circulation import services
from quietshelf.circulation.models import Fee, FeeTransaction, Hold, Loan
from quietshelf.core.errors import Conflict
from quietshelf.patrons import selectors as patron_selectors
from quietshelf.patrons import services as patron_services
from quietshelf.patrons.models import Card, Patron, RetiredIdentifier
from quietshelf.privacy import keys, retention
from quietshelf.privacy.models import AuditEntry, Subject
from tests.circulation.conftest import age_loan


@pytest.fixture(autouse=True)
def _fresh_schedule():
    retention.reset_cache()
    yield
    retention.reset_cache()


def _second(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _graph():
    """Per model: its datetime fields, the fields naming a person, the fields naming an item."""
    person = {Patron, Subject}
    item_models = {Item, BibRecord}
    out = {}
    for model in apps.get_models():
        fks = [f for f in model._meta.concrete_fields if f.is_relation and f.related_model]
        out[model] = {
            "times": [
                f.attname
                for f in model._meta.concrete_fields
                if isinstance(f, models.DateTimeField)
            ],
            "person": [f.attname for f in fks if f.related_model in person],
            "item": [f.attname for f in fks if f.related_model in item_models],
            "fks": {f.attname: f.related_model for f in fks},
        }
    # one hop: rows that point at a row that holds an item (a loan, a hold)
    holders = {m for m, g in out.items() if g["item"]}
    for g in out.values():
        g["hop"] = [a for a, target in g["fks"].items() if target in holders and a not in g["item"]]
    return out


def relinks() -> list[str]:
    graph = _graph()
    subject_to_patron = dict(Patron.objects.values_list("subject_id", "pk"))
    named: dict[str, set] = {}  # second -> the people a row naming them has at that second
    for model, g in graph.items():
        if not g["times"]:
            continue
        if model is Patron:
            rows = model._base_manager.values_list("pk", *g["times"])
            for pk, *times in rows:
                for t in times:
                    if t is not None:
                        named.setdefault(_second(t), set()).add(pk)
            continue
        if not g["person"]:
            continue
        links = [*g["item"], *g["hop"]]
        for row in model._base_manager.values(*g["person"], *links, *g["times"]):
            if any(row[a] is not None for a in links):
                continue  # an open loan, hold or unpaid fee: it links the item anyway
            people = set()
            for a in g["person"]:
                if row[a] is not None:
                    people.add(subject_to_patron.get(row[a], row[a]))
            if not people:
                continue
            for t in g["times"]:
                if row[t] is not None:
                    named.setdefault(_second(row[t]), set()).update(people)
    found = []
    for model, g in graph.items():
        if not g["times"] or not (g["item"] or g["hop"]) or model is Patron:
            continue
        cols = [*g["item"], *g["hop"], *g["person"], *g["times"]]
        for row in model._base_manager.values("pk", *cols):
            if any(row[a] is not None for a in g["person"]):
                continue  # an open loan, hold or fee: the link PRV-HIST-1 allows
            if not any(row[a] is not None for a in (*g["item"], *g["hop"])):
                continue
            for t in g["times"]:
                if row[t] is None:
                    continue
                people = named.get(_second(row[t]), set())
                if len(people) == 1:
                    found.append(f"{model._meta.label}.{t} of {row['pk']} = a time of {people}")
    return found


def _checkout(circ, p, i, branch="north"):
    return services.checkout(
        actor=None, item_barcode=i.barcode, patron_id=p.pk, branch_id=circ[branch].pk
    )


def _checkin(circ, i, branch="north"):
    return services.checkin(actor=None, item_barcode=i.barcode, branch_id=circ[branch].pk)


def _overdue(loan_id, days=4):
    Loan.objects.filter(pk=loan_id).update(due_at=timezone.now() - dt.timedelta(days=days))


def _a_day_of_circulation(circ, patron, item):
    """Six readers' visits, each within one second of its own (time stands still during a
    visit): the worst case for a join to the second. The first visit is also the second the
    copies are catalogued in, and every reader registers in the second of their own check-outs
    and check-ins, so any exact time a copy or a transit kept of a check-in names one reader."""
    start = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=10)

    def visit(n):
        return time_machine.travel(start + dt.timedelta(seconds=n), tick=False)

    with visit(0):
        items = [item() for _ in range(8)]
        ps = [patron()]
        # on time, returned at another branch (a transit home): de-identified at check-in
        _checkout(circ, ps[0], items[0])
        _checkin(circ, items[0], "south")
        # overdue, fine paid at the desk
        r = _checkout(circ, ps[0], items[1])
        _overdue(r.loan.pk)
        res = _checkin(circ, items[1])
        services.fee_pay(actor=None, fee_id=res.fee_id, amount=res.fine_minor)
    with visit(1):  # overdue, fine waived
        ps.append(patron())
        r = _checkout(circ, ps[1], items[2])
        _overdue(r.loan.pk, 2)
        res = _checkin(circ, items[2])
        services.fee_waive(actor=None, fee_id=res.fee_id, reason="first time")
    with visit(2):  # a hold placed and filled
        ps.append(patron())
        h = services.hold_place(
            actor=None,
            patron_id=ps[2].pk,
            record_id=items[3].record_id,
            pickup_branch_id=circ["north"].pk,
        )
        _checkout(circ, ps[2], items[3])
        _checkin(circ, items[3])
    with visit(3):  # a hold placed and cancelled; a manual fee paid
        ps.append(patron())
        h2 = services.hold_place(
            actor=None,
            patron_id=ps[3].pk,
            record_id=items[4].record_id,
            pickup_branch_id=circ["north"].pk,
        )
        services.hold_cancel(actor=None, hold_id=h2.pk)
        fee = services.fee_charge(
            actor=None, patron_id=ps[3].pk, fee_type="card", amount=5000, branch_id=circ["north"].pk
        )
        services.fee_pay(actor=None, fee_id=fee.pk, amount=5000)
    with visit(4):  # renewed and still out (a link PRV-HIST-1 allows)
        ps.append(patron())
        r = _checkout(circ, ps[4], items[5])
        age_loan(r.loan.pk)  # a fresh loan's renewal is refused "too soon" (CIR-2)
        services.renew(actor=None, loan_id=r.loan.pk)
    with visit(5):  # returned late, the fine unpaid
        ps.append(patron())
        r = _checkout(circ, ps[5], items[6])
        _overdue(r.loan.pk, 3)
        res = _checkin(circ, items[6])
    return ps, items, h, res


def test_nothing_relinks_after_a_day_and_the_nightly_run_prv_hist_5(circ, patron, item):
    ps, items, hold, unpaid = _a_day_of_circulation(circ, patron, item)
    retention.run()
    assert relinks() == []
    # the filled and cancelled holds and the closed loans keep only coarse times
    for loan in Loan.objects.filter(patron__isnull=True):
        for name in ("checked_out_at", "due_at", "returned_at"):
            assert getattr(loan, name) == retention.coarsen(getattr(loan, name))
    assert Hold.objects.get(pk=hold.pk).placed_at == retention.coarsen(hold.placed_at)
    # the unpaid fine still links its patron and loan (PRV-HIST-2), exactly
    fee = Fee.objects.get(pk=unpaid.fee_id)
    assert fee.patron_id == ps[5].pk and fee.loan_id is not None


def test_copies_and_transits_keep_only_the_day_of_a_check_in_prv_hist_5(circ, patron, item):
    """Item.created_at/updated_at and Transit.sent_at/received_at are truncated on every
    write (save, create, update); the routing slip still finds the latest transit."""
    from quietshelf.circulation.models import Transit
    from quietshelf.circulation.selectors import slip_transit

    moment = dt.datetime(2026, 3, 4, 15, 16, 17, tzinfo=dt.UTC)
    with time_machine.travel(moment, tick=False):
        i = item()
        p = patron()
        _checkout(circ, p, i)
        _checkin(circ, i, "south")  # home to north: a transit
        _checkin(circ, i, "north")  # arrived
        _checkout(circ, p, i)
        _checkin(circ, i, "south")  # again, the same day
    day = retention.coarsen(moment)
    assert day == dt.datetime(2026, 3, 4, tzinfo=dt.UTC)
    copy = Item.objects.get(pk=i.pk)
    assert (copy.created_at, copy.updated_at) == (day, day)
    first, second = Transit.objects.filter(item=i).order_by("pk")
    assert (first.sent_at, first.received_at, second.sent_at) == (day, day, day)
    Transit.objects.filter(pk=second.pk).update(received_at=moment)
    assert Transit.objects.get(pk=second.pk).received_at == day
    assert slip_transit(actor=None, item_id=i.pk).pk == second.pk


def test_the_relink_scan_can_fail_prv_hist_5(circ, patron, item):
    """A paid fine's loan with its exact return time is found (the issue's measured join)."""
    p, i = patron(), item()
    r = _checkout(circ, p, i)
    _overdue(r.loan.pk)
    _checkin(circ, i)
    fee = Fee.objects.get(loan=r.loan)
    # what the old code left: a de-identified loan whose return time equals the fee's
    Loan.objects.filter(pk=r.loan.pk).update(patron=None, returned_at=fee.created_at)
    Fee.objects.filter(pk=fee.pk).update(loan=None, item=None, record=None)
    assert any("circulation.Loan.returned_at" in f for f in relinks())


def test_resolved_fees_keep_amount_type_branch_and_a_coarse_day_only_prv_hist_5(circ, patron, item):
    p, i = patron(), item()
    r = _checkout(circ, p, i)
    _overdue(r.loan.pk)
    res = _checkin(circ, i)
    services.fee_waive(actor=None, fee_id=res.fee_id, reason="first time")
    before = Fee.objects.get(pk=res.fee_id)
    assert retention.run(dry_run=True, only=["fees"]).reports[0].due == 1
    retention.run(only=["fees"])
    fee = Fee.objects.get(pk=res.fee_id)
    assert (fee.patron_id, fee.subject_id, fee.item_id, fee.record_id, fee.loan_id) == (None,) * 5
    assert fee.original_minor == before.original_minor and fee.type == "overdue"
    assert fee.branch_id == before.branch_id
    assert fee.created_at == retention.coarsen(before.created_at)
    assert fee.resolved_at == retention.coarsen(before.resolved_at)
    for tx in FeeTransaction.objects.filter(fee=fee):
        assert tx.subject_id is None and tx.at == retention.coarsen(tx.at)
    # after the financial-records rule the record goes too
    later = timezone.localdate() + dt.timedelta(days=7 * 365 + 2)
    retention.run(today=later, only=["fees"])
    assert not Fee.objects.filter(pk=fee.pk).exists()
    assert not FeeTransaction.objects.filter(fee_id=fee.pk).exists()


@override_settings(QUIETSHELF_LOAN_DEIDENTIFY_DAYS=3)
def test_a_configured_delay_is_applied_by_the_run_prv_hist_2(circ, patron, item):
    p, i = patron(), item()
    _checkout(circ, p, i)
    _checkin(circ, i)
    today = timezone.localdate()
    report = retention.run(today=today + dt.timedelta(days=2), only=["closed loans"]).reports[0]
    assert report.done == 0 and Loan.objects.get(item=i).patron_id == p.pk
    report = retention.run(today=today + dt.timedelta(days=3), only=["closed loans"]).reports[0]
    loan = Loan.objects.get(item=i)
    assert report.done == 1 and loan.patron_id is None
    assert loan.returned_at == retention.coarsen(loan.returned_at)


@override_settings(QUIETSHELF_LOAN_DEIDENTIFY_DAYS=3, QUIETSHELF_RETENTION_UPDATE_BATCH=2)
def test_closed_loans_go_in_batches_of_one_statement_each_perf_ret_1(circ, patron, item):
    """PERF-RET-1: the loans' batches (one range UPDATE over the returned_at index each)
    go on until none is due, and skip a loan with an unresolved fee (PRV-HIST-2)."""
    p = patron()
    items = [item() for _ in range(5)]
    for i in items:
        _checkout(circ, p, i)
    fined = _checkout(circ, p, item_with_fee := item())
    _overdue(fined.loan.pk)
    for i in [*items, item_with_fee]:
        _checkin(circ, i)
    assert Fee.objects.filter(loan_id=fined.loan.pk, resolved_at__isnull=True).exists()
    seen = []
    later = timezone.localdate() + dt.timedelta(days=4)
    report = retention.run(
        today=later, only=["closed loans"], progress=lambda r: seen.append(r.done)
    ).reports[0]
    assert report.done == 5 and seen[:3] == [2, 4, 5]  # three batches of at most 2
    for loan in Loan.objects.filter(item__in=items):
        assert loan.patron_id is None
        assert loan.checked_out_at == retention.coarsen(loan.checked_out_at)
        assert loan.returned_at == retention.coarsen(loan.returned_at)
    assert Loan.objects.get(pk=fined.loan.pk).patron_id == p.pk
    assert retention.run(today=later, only=["closed loans"]).reports[0].done == 0


@override_settings(QUIETSHELF_LOAN_DEIDENTIFY_DAYS=3, QUIETSHELF_RETENTION_UPDATE_BATCH=2)
def test_loans_returned_at_the_same_moment_all_go_and_none_is_skipped_perf_ret_1(
    circ, patron, item
):
    """PERF-RET-1: the batches walk the returned_at index; loans returned at the very same
    moment as a batch's last one go in that batch, the walk goes on past them, and a loan
    returned too recently stays linked (PRV-HIST-2)."""
    p = patron()
    loans = [_checkout(circ, p, item()).loan for _ in range(7)]
    for loan in loans:
        _checkin(circ, loan.item)
    moment = timezone.now() - dt.timedelta(days=10)
    same, spread, recent = loans[:3], loans[3:6], loans[6]
    Loan.objects.filter(pk__in=[x.pk for x in same]).update(returned_at=moment)
    for k, loan in enumerate(spread, start=1):
        Loan.objects.filter(pk=loan.pk).update(returned_at=moment + dt.timedelta(hours=k))
    seen = []
    report = retention.run(only=["closed loans"], progress=lambda r: seen.append(r.done)).reports[0]
    assert report.done == 6
    assert seen[0] == 3  # the three tied at the first batch's edge went together
    assert not Loan.objects.filter(pk__in=[x.pk for x in same + spread], patron__isnull=False)
    assert Loan.objects.get(pk=recent.pk).patron_id == p.pk
    assert retention.run(only=["closed loans"]).reports[0].done == 0


def test_patron_references_refuse_a_deletion_at_once_on_postgresql_perf_ret_1(circ, patron):
    """PERF-RET-1 (config migration 0001): on PostgreSQL every foreign key to a patron is
    ON DELETE RESTRICT (one look-up per deleted row and table, not NO ACTION's two), still
    deferred for writes; a patron whose rows are still there is refused, at once."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's foreign-key actions; SQLite keeps its own")
    with connection.cursor() as cur:
        cur.execute(
            "SELECT conname, confdeltype, condeferrable, condeferred FROM pg_constraint "
            "WHERE contype = 'f' AND confrelid = 'patrons_patron'::regclass"
        )
        found = cur.fetchall()
    assert len(found) >= 18
    assert [row for row in found if tuple(row[1:]) != ("r", True, True)] == []
    p = patron()  # a card (and a data subject) refer to it
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM patrons_patron WHERE id = %s", [p.pk])
    assert Patron.objects.filter(pk=p.pk).exists()


# --- patron purge (PRV-RET-1/2, PRV-DSR-4) -----------------------------------------------


def _expire(p, days_ago):
    Patron.objects.filter(pk=p.pk).update(
        expiry_date=timezone.localdate() - dt.timedelta(days=days_ago)
    )


def test_expired_patrons_are_erased_and_cannot_be_found_prv_ret_1(circ, patron, item):
    gone = patron(email="ingrid.test@example.org")
    recent, out, held, dated = patron(), patron(), patron(), patron()
    _expire(gone, 31)
    _expire(recent, 10)  # within the 30 days
    _checkout(circ, out, item())  # an item still out: kept for now
    _expire(out, 60)
    _expire(held, 60)
    Patron.objects.filter(pk=dated.pk).update(erase_after=timezone.localdate())
    hold = retention.legal_hold_place(
        actor=None, case_reference="CASE-2026-11", subject_id=held.subject_id
    )
    card = Card.objects.get(patron=gone).barcode
    dry = retention.run(dry_run=True, only=["expired patrons"]).reports[0]
    assert (dry.due, dry.held, dry.kept) == (2, 1, 1)
    assert Patron.objects.filter(pk=gone.pk).exists()  # the dry run changed nothing
    result = retention.run(only=["expired patrons"]).reports[0]
    assert result.done == 2
    assert set(Patron.objects.values_list("pk", flat=True)) == {recent.pk, out.pk, held.pk}
    assert patron_selectors.patron_by_card_barcode(card) is None
    assert patron_selectors.patron_by_email("ingrid.test@example.org") is None
    assert keys.data_key(gone.subject_id) is None
    assert Subject.objects.get(pk=gone.subject_id).forgotten_at is not None
    assert RetiredIdentifier.objects.filter(kind="card").exists()
    # card numbers are never issued again (SEC-ID-1)
    with pytest.raises(Exception):  # noqa: B017 - DuplicateBarcode, whatever its base
        patron(barcode=card)
    assert (
        AuditEntry.objects.filter(action="retention_applied", object_id="expired patrons").count()
        == 1
    )
    retention.legal_hold_release(actor=None, hold_id=hold.pk)
    assert retention.run(only=["expired patrons"]).reports[0].done == 1


def test_unresolved_fee_keeps_only_its_own_financial_record_prv_ret_2(circ, patron, item):
    p, i = patron(), item()
    r = _checkout(circ, p, i)
    _overdue(r.loan.pk)
    res = _checkin(circ, i)
    _expire(p, 40)
    assert retention.run(only=["expired patrons"]).reports[0].done == 1
    fee = Fee.objects.get(pk=res.fee_id)
    assert fee.resolved_at is None and fee.original_minor == res.fine_minor
    assert (fee.patron_id, fee.subject_id, fee.item_id, fee.record_id, fee.loan_id) == (None,) * 5
    loan = Loan.objects.get(pk=r.loan.pk)
    assert loan.patron_id is None and loan.returned_at == retention.coarsen(loan.returned_at)
    assert relinks() == []


def test_staff_erasure_is_refused_under_a_legal_hold_prv_ret_2(circ, patron):
    p = patron()
    retention.legal_hold_place(actor=None, case_reference="CASE-2026-12", subject_id=p.subject_id)
    with pytest.raises(Conflict) as exc:
        patron_services.patron_erase(actor=None, patron_id=p.pk)
    assert exc.value.code == "legal_hold"
    assert Patron.objects.filter(pk=p.pk).exists()


@override_settings(QUIETSHELF_DO_NOT_CONTACT=True)
def test_do_not_contact_keeps_a_keyed_digest_only_prv_dsr_4(circ, patron):
    from quietshelf.patrons.models import ContactPoint
    from quietshelf.patrons.retention import is_do_not_contact

    p = patron(email="no.more.mail@example.org")
    digest = ContactPoint.objects.get(patron=p, kind="email").lookup_index
    patron_services.patron_erase(actor=None, patron_id=p.pk)
    assert is_do_not_contact("email", digest)
    assert not Patron.objects.filter(pk=p.pk).exists()


@override_settings(QUIETSHELF_DO_NOT_CONTACT=True, QUIETSHELF_RETENTION_BATCH=2)
def test_the_purge_erases_a_batch_set_based_and_keeps_nothing_that_names_them_perf_ret_1(
    circ, patron, item
):
    """PERF-RET-1: the purge's batches (cards retired and do-not-contact digests kept with
    one INSERT ... SELECT each, the rows hanging off the patrons deleted one statement per
    table, the ids as one parameter on PostgreSQL) do what erasing each patron does: five
    expired patrons in three batches of at most two; a card number retired before stays
    retired once; blocks, overrides, notes, proxy links, contact points go; a patron who
    stays keeps everything."""
    from quietshelf.patrons.models import Block, BlockOverride, ContactPoint, ProxyLink, StaffNote

    stays = patron(email="stays@example.org")
    gone = [patron(email=f"gone{n}@example.org", phone=f"+4670123450{n}") for n in range(5)]
    first_card = Card.objects.get(patron=gone[0])
    RetiredIdentifier.objects.create(kind="card", digest=first_card.barcode_index)
    block = patron_services.block_add(actor=None, patron_id=gone[1].pk, reason_code="manual")
    patron_services.block_override(
        actor=None, patron_id=gone[1].pk, reason="once", block_id=block.pk
    )
    patron_services.note_add(actor=None, patron_id=gone[2].pk, text="call back", confirmed=True)
    patron_services.proxy_add(actor=None, patron_id=stays.pk, proxy_id=gone[3].pk)
    patron_services.proxy_add(actor=None, patron_id=gone[4].pk, proxy_id=stays.pk)
    r = _checkout(circ, gone[2], i := item())
    _checkin(circ, i)
    for p in gone:
        _expire(p, 60)
    digests = {
        kind: set(
            ContactPoint.objects.filter(patron__in=gone, kind=kind).values_list(
                "lookup_index", flat=True
            )
        )
        for kind in ("email", "phone")
    }
    cards = set(Card.objects.filter(patron__in=gone).values_list("barcode_index", flat=True))
    seen = []
    report = retention.run(
        only=["expired patrons"], progress=lambda rep: seen.append(rep.done)
    ).reports[0]
    assert report.done == 5 and seen[:3] == [2, 4, 5]
    assert list(Patron.objects.values_list("pk", flat=True)) == [stays.pk]
    for model in (Card, ContactPoint, Block, BlockOverride, StaffNote):
        assert not model.objects.exclude(patron=stays).exists(), model
    assert not ProxyLink.objects.exists()
    assert Loan.objects.get(pk=r.loan.pk).patron_id is None
    retired = RetiredIdentifier.objects.filter(kind="card", digest__in=cards)
    assert retired.count() == 5  # the one retired before is there once
    for kind, found in digests.items():
        assert len(found) == 5
        assert RetiredIdentifier.objects.filter(kind=f"dnc_{kind}", digest__in=found).count() == 5
    assert all(keys.data_key(p.subject_id) is None for p in gone)
    forgotten = Subject.objects.filter(pk__in=[p.subject_id for p in gone])
    assert not forgotten.filter(forgotten_at__isnull=True).exists()
    assert keys.data_key(stays.subject_id) is not None
    assert Card.objects.filter(patron=stays).count() == 1
    assert ContactPoint.objects.filter(patron=stays).count() == 1
