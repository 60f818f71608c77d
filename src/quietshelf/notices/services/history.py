"""Reduction (PRV-NOT-1): sent notices become counts; forgetting a patron's notices."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from quietshelf.core import clock
from quietshelf.core.idlist import IdList
from quietshelf.notices import conf
from quietshelf.notices.models import (
    Notice,
    NoticeDailyCount,
    NoticeState,
    NoticeType,
)
from quietshelf.notices.services.common import CHUNK


def _count(rows) -> None:
    tally: dict = defaultdict(int)
    for notice_type, channel, state, sent_at, created_at in rows:
        day = timezone.localdate(sent_at or created_at)
        tally[(notice_type, channel or "", day, state)] += 1
    for (notice_type, channel, day, state), n in tally.items():
        row, _created = NoticeDailyCount.objects.select_for_update().get_or_create(
            notice_type=notice_type, channel=channel, day=day, outcome=state
        )
        NoticeDailyCount.objects.filter(pk=row.pk).update(count=F("count") + n)


def _strip(qs) -> int:
    """Reduce these notices to counts: content, channel, times and attempts gone, the row
    kept as a bare marker (what queueing needs to not send it again)."""
    total = 0
    while True:
        with transaction.atomic():
            rows = list(
                qs.filter(counted=False)
                .select_for_update()
                .values_list("pk", "notice_type", "channel", "state", "sent_at", "created_at")[
                    :CHUNK
                ]
            )
            if not rows:
                return total
            _count([r[1:] for r in rows])
            Notice.objects.filter(pk__in=[r[0] for r in rows]).update(
                data=None,
                subject_line=None,
                body=None,
                counted=True,
                kept=False,
                has_titles=False,
                channel="",
                sent_at=None,
                attempts=0,
                last_error="",
                next_attempt_at=F("created_at"),
            )
            total += len(rows)


def reduce_notice_history(*, today: dt.date | None = None) -> int:
    """Sent notices become a count per type and day (PRV-NOT-1); returns how many were reduced.

    Without the notification-history consent a sent notice is reduced at once
    (its content already went at delivery); with it, after the
    notice_history retention period. Failed and undeliverable ones after
    QUIETSHELF_NOTICE_FAILED_KEEP_DAYS. Markers (rows without content) are
    deleted once the occasion cannot come round again.
    """
    from quietshelf.circulation.models import Fee, Hold, Loan

    today = today or clock.today()
    now = clock.now()
    history_cutoff = now - dt.timedelta(days=conf.history_days())
    failed_cutoff = now - dt.timedelta(days=conf.failed_keep_days())
    # Sent without consent: counted at delivery (_settle); this catches the rows of a
    # worker that died before settling its batch (requeue_stale_claims made them sent),
    # and counted=False keeps anything from counting twice.
    reduced = _strip(Notice.objects.filter(state=NoticeState.SENT, kept=False))
    reduced += _strip(Notice.objects.filter(state=NoticeState.SENT, sent_at__lt=history_cutoff))
    reduced += _strip(
        Notice.objects.filter(
            state__in=(NoticeState.FAILED, NoticeState.UNDELIVERABLE), created_at__lt=failed_cutoff
        )
    )
    markers = Notice.objects.filter(counted=True)
    # markers left by an older version still said when and how the patron was told
    markers.filter(sent_at__isnull=False).update(
        channel="", sent_at=None, attempts=0, last_error="", next_attempt_at=F("created_at")
    )
    open_loan = Loan.objects.filter(
        patron_id=OuterRef("patron_id"), returned_at__isnull=True, due_at__date=OuterRef("ref_date")
    )
    on_shelf = Hold.objects.filter(pk=OuterRef("ref_id"), status="on_shelf")
    open_fee = Fee.objects.filter(
        patron_id=OuterRef("patron_id"),
        resolved_at__isnull=True,
        created_at__date=OuterRef("ref_date"),
    )
    markers.filter(
        notice_type__in=("due_soon", "expiring_card", "receipt"), ref_date__lt=today
    ).delete()
    markers.filter(notice_type="overdue").exclude(Exists(open_loan)).delete()
    markers.filter(notice_type="hold_ready").exclude(Exists(on_shelf)).delete()
    markers.filter(notice_type="fee").exclude(Exists(open_fee)).delete()
    # a scheduled report's marker: the schedule itself knows what it sent (reports app)
    markers.filter(notice_type=NoticeType.STAFF_REPORT, ref_date__lt=today).delete()
    return reduced


def forget_notice_history(subject_id) -> None:
    """Consent to notification history withdrawn: what was kept is reduced now."""
    _strip(Notice.objects.filter(subject_id=subject_id, state=NoticeState.SENT, kept=True))
    Notice.objects.filter(subject_id=subject_id, kept=True).update(kept=False)


def forget_patron_notices(subject_id) -> None:
    """The patron is erased (crypto-shredding): sent notices become counts, the rest go."""
    _strip(Notice.objects.filter(subject_id=subject_id, state=NoticeState.SENT))
    Notice.objects.filter(subject_id=subject_id).delete()


def forget_patrons_notices(subject_ids: list) -> None:
    """forget_patron_notices for a batch (the retention job's purge), set-based."""
    ids = IdList(subject_ids)  # one parameter on PostgreSQL, not one per id
    _strip(Notice.objects.filter(subject_id__in=ids, state=NoticeState.SENT))
    Notice.objects.filter(subject_id__in=ids).delete()


def forget_notice_titles(subject_id) -> None:
    """Consent to titles withdrawn: queued notices lose their titles before they go."""
    for notice in Notice.objects.filter(subject_id=subject_id, has_titles=True):
        data = notice.data if isinstance(notice.data, dict) else None
        if data is not None:
            data = {**data, "titles": []}
        notice.data = data
        notice.has_titles = False
        notice.save(update_fields=["data", "has_titles"])
