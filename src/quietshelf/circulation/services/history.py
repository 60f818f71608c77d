"""Reading history (PRV-HIST-3) and the de-identification of closed loans (PRV-HIST-1/2/5).

Privacy on return: the check-in transaction removes the loan's patron link
(QUIETSHELF_LOAN_DEIDENTIFY_DAYS = 0, the default) unless a fee on the loan
is unresolved; the fee's resolution removes it later. `deidentify_closed_loans`
applies a configured delay.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from quietshelf.catalog.models import Item
from quietshelf.circulation import retention
from quietshelf.circulation.models import (
    Fee,
    Loan,
    ReadingHistoryEntry,
)
from quietshelf.circulation.selectors import require_permission as _require
from quietshelf.circulation.services._base import (
    _local_date,
    _patron,
)
from quietshelf.core import clock
from quietshelf.privacy import audit
from quietshelf.privacy.retention import coarse_values, coarsen, rule_days

READING_HISTORY = "reading_history"


def _deidentify_delay_days() -> int:
    # the loan rule of the retention schedule (privacy.retention): one truth
    return max(0, rule_days("loan"))


def _unlink_loan(loan: Loan) -> None:
    """The loan loses its patron; what it keeps is coarsened (PRV-HIST-5)."""
    loan.patron = None
    for name in retention.LOAN_TIMES:
        setattr(loan, name, coarsen(getattr(loan, name)))


def _record_reading_history(loan: Loan, item: Item, returned: dt.date) -> None:
    from quietshelf.privacy.consent import has_consent

    if loan.patron_id is None:
        return
    # check-in reads the patron's subject with the loan row (no Patron row needed)
    subject_id = getattr(loan, "patron_subject_id", None) or loan.patron.subject_id
    if subject_id is None or not has_consent(subject_id=subject_id, scope=READING_HISTORY):
        return
    ReadingHistoryEntry.objects.create(
        subject_id=subject_id,
        patron_id=loan.patron_id,
        data={
            "record_id": item.record_id,
            "title": item.record.title,
            "borrowed": _local_date(loan.checked_out_at).isoformat(),
            "returned": returned.isoformat(),
        },
    )


def _unresolved_fee_loans():
    return Fee.objects.filter(resolved_at__isnull=True, loan__isnull=False).values("loan_id")


@transaction.atomic(durable=True)
def deidentify_closed_loans(*, today: dt.date | None = None) -> int:
    """Remove the patron from loans closed at least QUIETSHELF_LOAN_DEIDENTIFY_DAYS ago.

    Loans with an unresolved fee keep it. Returns the number of loans changed.
    """
    today = today or clock.today()
    days = _deidentify_delay_days()
    cutoff_day = today - dt.timedelta(days=days)
    cutoff = timezone.make_aware(dt.datetime.combine(cutoff_day + dt.timedelta(days=1), dt.time()))
    return (
        Loan.objects.filter(returned_at__isnull=False, patron__isnull=False, returned_at__lt=cutoff)
        .exclude(pk__in=_unresolved_fee_loans())
        .update(patron=None, **coarse_values(*retention.LOAN_TIMES))
    )


# --- holds ---------------------------------------------------------------------------------


def erase_reading_history(subject_id) -> None:
    """Consent withdrawn: the history goes at once (called by privacy.withdraw_consent)."""
    ReadingHistoryEntry.objects.filter(subject_id=subject_id).delete()


@transaction.atomic(durable=True)
def reading_history_delete(*, actor, patron_id) -> int:
    _require(actor, "circulation.checkout", patron_id=patron_id)
    patron = _patron(patron_id)
    n, _ = ReadingHistoryEntry.objects.filter(patron=patron).delete()
    return n


@transaction.atomic(durable=True)
def reading_history_exported(*, actor, patron_id, fmt: str) -> None:
    """Record that the reading history left the system as a download (PRV-ACC-1, SEC-CSV-1):
    the API's export writes the same `exported` entry as the portal's."""
    _require(actor, "circulation.checkout", patron_id=patron_id)
    patron = _patron(patron_id)
    audit.record(actor=actor, action="exported", obj=patron, reason=f"reading history {fmt}")


# --- last-borrower escrow (PRV-HIST-4, off by default) ------------------------------------------
