"""Circulation's retention steps and erasure hook (PRV-HIST-1/2/5, PRV-RET-1/2).

Registered with the privacy kernel at start-up (circulation/hooks.py):

- closed loans lose their patron after the loan rule (0 days: the check-in
  does it; this sweeps a configured delay) and every kept timestamp is
  coarsened; a loan with an unresolved fee keeps its link (PRV-HIST-2);
- closed holds: the same sweep (the close itself unlinks them);
- resolved fees lose patron, data subject, item, title and loan, and their
  timestamps are coarsened; the ledger lines lose their subject and reason;
  after the financial-records rule the fee and its lines are deleted;
- last-borrower escrow rows past their date are deleted.

The erasure hook makes a patron's erasure keep only what must be kept: an
unresolved fee stays as a financial record without the patron, open holds
are cancelled, and every row that loses the patron is coarsened.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from quietshelf.circulation.models import (
    OPEN_HOLD,
    Fee,
    FeeTransaction,
    Hold,
    LastBorrowerEscrow,
    Loan,
)
from quietshelf.core.idlist import IdList, referencing_pks
from quietshelf.privacy.retention import (
    Context,
    Step,
    coarse_values,
    coarsen,
    ids_batch,
    not_coarse,
    register_step,
)

LOAN_TIMES = ("checked_out_at", "due_at", "returned_at")
HOLD_TIMES = ("placed_at", "closed_at")
FEE_TIMES = ("created_at", "resolved_at")


def _unresolved_fee_loans():
    return Fee.objects.filter(resolved_at__isnull=True, loan__isnull=False).values("loan_id")


# --- loans ---------------------------------------------------------------------------


def _loans_to_unlink(ctx: Context):
    qs = (
        Loan.objects.filter(returned_at__isnull=False, patron__isnull=False)
        .filter(returned_at__lt=_day_cutoff(ctx))
        .exclude(pk__in=_unresolved_fee_loans())
    )
    if ctx.held_subject_ids:  # usually none: no join on the patron table per batch
        qs = qs.exclude(patron__subject_id__in=ctx.held_subject_ids)
    return qs


def _loans_to_coarsen():
    return Loan.objects.filter(patron__isnull=True).filter(not_coarse(*LOAN_TIMES))


def _day_cutoff(ctx: Context):
    """Loans closed before the start of (today - days): the de-identify delay counts days."""
    day = ctx.today - dt.timedelta(days=ctx.rule.days) + dt.timedelta(days=1)
    return timezone.make_aware(dt.datetime.combine(day, dt.time()))


def _loans_count(ctx: Context) -> dict:
    held = (
        Loan.objects.filter(returned_at__isnull=False, patron__isnull=False)
        .filter(returned_at__lt=_day_cutoff(ctx))
        .filter(patron__subject_id__in=ctx.held_subjects())
        .count()
    )
    kept = (
        Loan.objects.filter(returned_at__isnull=False, patron__isnull=False)
        .filter(pk__in=_unresolved_fee_loans())
        .count()
    )
    due = _loans_to_unlink(ctx).count() + _loans_to_coarsen().count()
    return {"due": due, "held": held, "kept": kept}


def _loans_batch(ctx: Context) -> int:
    """One batch of closed loans loses its patron, its times coarsened in the same UPDATE.

    The batches walk the returned_at index in order: each finds where its
    ctx.update_batch_size-th due loan lies (returned_at, from where the last batch ended)
    and updates the due loans up to there with one range UPDATE. Asking instead for
    "the first n due loans" scanned the table from its start each time, past every row
    already done and the dead versions the batches before had left (PERF-RET-1: a
    million loans). The ids never travel to Python and back. Then, in the same way as
    before, loans that lost their patron some other way get their times coarsened."""
    values = {"patron": None, **coarse_values(*LOAN_TIMES)}
    n = ctx.update_batch_size
    while not ctx.position.get("loans unlinked"):
        due = _loans_to_unlink(ctx)
        after = ctx.position.get("loans returned_at")
        if after is not None:
            due = due.filter(returned_at__gt=after)
        edge = list(due.order_by("returned_at").values_list("returned_at", flat=True)[n - 1 : n])
        if not edge:  # fewer than n left: the last batch of this walk
            ctx.position["loans unlinked"] = True
            done = due.update(**values)
        else:
            ctx.position["loans returned_at"] = edge[0]
            done = due.filter(returned_at__lte=edge[0]).update(**values)
        if done:
            return done
    chosen = _loans_to_coarsen().values("pk")[:n]
    return Loan.objects.filter(pk__in=chosen).update(**values)


# --- holds ---------------------------------------------------------------------------


def _holds_due():
    closed = Hold.objects.exclude(status__in=OPEN_HOLD)
    return closed.filter(Q(patron__isnull=False) | not_coarse(*HOLD_TIMES))


def _holds_batch(ctx: Context) -> int:
    ids = ids_batch(_holds_due(), ctx)
    if not ids:
        return 0
    return Hold.objects.filter(pk__in=ids).update(
        patron=None, suspended_until=None, **coarse_values(*HOLD_TIMES)
    )


# --- fees ----------------------------------------------------------------------------


def _fees_to_unlink(ctx: Context):
    resolved = Fee.objects.filter(resolved_at__isnull=False).exclude(
        patron__subject_id__in=ctx.held_subjects()
    )
    named = Q(patron__isnull=False) | Q(subject__isnull=False) | Q(loan__isnull=False)
    named |= Q(item__isnull=False) | Q(record__isnull=False)
    # a fee resolved while its loan is still open keeps the loan until it closes
    open_loan = Q(loan__returned_at__isnull=True, loan__isnull=False)
    return resolved.filter(named | not_coarse(*FEE_TIMES)).exclude(open_loan)


def _fees_to_delete(ctx: Context):
    return Fee.objects.filter(resolved_at__lt=ctx.cutoff, patron__isnull=True)


def _fees_count(ctx: Context) -> dict:
    kept = Fee.objects.filter(resolved_at__isnull=True).count()
    return {"due": _fees_to_unlink(ctx).count() + _fees_to_delete(ctx).count(), "kept": kept}


def strip_fees(fee_ids: list) -> int:
    """Fees keep amount, type, owning branch and coarse dates; nothing names anyone."""
    FeeTransaction.objects.filter(fee_id__in=fee_ids).update(
        subject=None, reason=None, by=None, **coarse_values("at")
    )
    return Fee.objects.filter(pk__in=fee_ids).update(
        patron=None, subject=None, item=None, record=None, loan=None, **coarse_values(*FEE_TIMES)
    )


def _fees_batch(ctx: Context) -> int:
    ids = ids_batch(_fees_to_unlink(ctx), ctx)
    if ids:
        return strip_fees(ids)
    ids = ids_batch(_fees_to_delete(ctx), ctx)
    if not ids:
        return 0
    # the ledger is append-only for the application; the retention rule is what ends it
    FeeTransaction.objects.filter(fee_id__in=ids).delete()
    return Fee.objects.filter(pk__in=ids).delete()[0]


# --- escrow --------------------------------------------------------------------------


def _escrow(ctx: Context):
    return LastBorrowerEscrow.objects.filter(expires_on__lt=ctx.today)


def _escrow_batch(ctx: Context) -> int:
    ids = ids_batch(_escrow(ctx), ctx)
    return LastBorrowerEscrow.objects.filter(pk__in=ids).delete()[0] if ids else 0


# --- erasure hook --------------------------------------------------------------------


def on_patrons_erased(patron_ids: list) -> None:
    """Before the patrons' rows go: what circulation keeps loses them, coarsened.

    Set-based over the batch: the rows are found with one index probe per patron
    (core.idlist.referencing_pks; usually there are none) and changed by primary key.
    """
    holds = IdList(referencing_pks(Hold, "patron", patron_ids), Hold._meta.pk)
    Hold.objects.filter(pk__in=holds, status__in=OPEN_HOLD).update(
        status="cancelled", closed_at=coarsen(timezone.now())
    )
    Hold.objects.filter(pk__in=holds).update(
        patron=None, suspended_until=None, **coarse_values(*HOLD_TIMES)
    )
    loans = IdList(referencing_pks(Loan, "patron", patron_ids), Loan._meta.pk)
    Loan.objects.filter(pk__in=loans).update(patron=None, **coarse_values(*LOAN_TIMES))
    fee_ids = referencing_pks(Fee, "patron", patron_ids)
    if fee_ids:
        strip_fees(fee_ids)


def busy_patrons() -> Q:
    """Patrons the purge keeps for now: an item out, or one waiting on the hold shelf."""
    out = Loan.objects.filter(patron_id=OuterRef("pk"), returned_at__isnull=True)
    shelf = Hold.objects.filter(patron_id=OuterRef("pk"), status__in=("in_transit", "on_shelf"))
    return Q(Exists(out)) | Q(Exists(shelf))


def install() -> None:
    from quietshelf.patrons.retention import register_busy_rule, register_erase_hook

    register_erase_hook(on_patrons_erased)
    register_busy_rule(busy_patrons)
    register_step(
        Step(
            key="closed loans",
            rule="loan",
            action="de-identified",
            why="returned, past the loan rule, no unresolved fee: patron removed, times coarsened",
            models=("circulation.Loan",),
            count=_loans_count,
            batch=_loans_batch,
            order=20,
        )
    )
    register_step(
        Step(
            key="closed holds",
            rule="hold",
            action="de-identified",
            why="filled, cancelled or expired: patron removed, times coarsened",
            models=("circulation.Hold",),
            count=lambda ctx: {"due": _holds_due().count()},
            batch=_holds_batch,
            order=21,
        )
    )
    register_step(
        Step(
            key="fees",
            rule="fee",
            action="de-identified or deleted",
            why=(
                "resolved: patron, item, title and loan removed, times coarsened; "
                "deleted after the financial-records rule"
            ),
            models=("circulation.Fee", "circulation.FeeTransaction"),
            count=_fees_count,
            batch=_fees_batch,
            order=30,
        )
    )
    register_step(
        Step(
            key="last-borrower escrow",
            rule="loan",
            action="deleted",
            why="the sealed last borrower is past its date (PRV-HIST-4)",
            models=("circulation.LastBorrowerEscrow",),
            count=lambda ctx: {"due": _escrow(ctx).count()},
            batch=_escrow_batch,
            order=22,
        )
    )
