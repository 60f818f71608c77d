"""Notification history is opt-in (PRV-NOT-1, PRV-CON-1): reduction to counts per day."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.db import connection
from django.utils import timezone

from quietshelf.notices import services
from quietshelf.notices.models import Notice, NoticeDailyCount
from quietshelf.privacy.services import give_consent, withdraw_consent
from tests.notices.conftest import TODAY


def _send_due_soon(reader, loan, **kw):
    p = reader(**kw)
    loan(p, TODAY + dt.timedelta(days=3))
    services.queue_due_soon_notices(today=TODAY)
    assert services.deliver_queued_notices() == 1
    return p


def test_without_consent_a_sent_notice_keeps_no_content_and_is_reduced_to_a_count_prv_not_1(
    reader, loan
):
    _send_due_soon(reader, loan)
    notice = Notice.objects.get()
    assert notice.data is None and notice.body is None and notice.subject_line is None
    # counted when the server accepted it, so the nightly job has nothing left to count
    assert services.reduce_notice_history(today=TODAY) == 0
    [count] = NoticeDailyCount.objects.all()
    assert (count.notice_type, count.channel, count.outcome, count.count) == (
        "due_soon",
        "email",
        "sent",
        1,
    )
    assert count.day == timezone.localdate()
    # the stripped row stays as a marker while the due date is ahead: nothing is sent twice
    assert services.queue_due_soon_notices(today=TODAY) == 0
    assert services.reduce_notice_history(today=TODAY) == 0
    # once the occasion has passed, the marker goes too
    services.reduce_notice_history(today=TODAY + dt.timedelta(days=4))
    assert not Notice.objects.exists()
    assert NoticeDailyCount.objects.get().count == 1


def test_with_consent_the_notice_is_kept_for_the_retention_period_prv_con_1(settings, reader, loan):
    settings.QUIETSHELF_RETENTION = {
        **settings.QUIETSHELF_RETENTION,
        "notice_history": {"days": 30, "after": "sent"},
    }
    p = reader()
    give_consent(subject_id=p.subject_id, scope=services.HISTORY_SCOPE)
    loan(p, TODAY + dt.timedelta(days=3))
    services.queue_due_soon_notices(today=TODAY)
    services.deliver_queued_notices()
    assert services.reduce_notice_history(today=TODAY) == 0
    notice = Notice.objects.get()
    assert notice.kept and notice.subject_line == "Items due on 5 March"
    assert "You have 1 item due on 5 March." in notice.body
    with connection.cursor() as cur:  # encrypted at rest
        cur.execute("SELECT body FROM notices_notice")
        assert b"due on" not in bytes(cur.fetchone()[0])
    with time_machine.travel(timezone.now() + dt.timedelta(days=31), tick=False):
        assert services.reduce_notice_history(today=TODAY) == 1
    notice.refresh_from_db()
    assert notice.body is None and notice.counted
    assert NoticeDailyCount.objects.get().count == 1


def test_withdrawing_history_consent_reduces_what_was_kept_prv_con_1(reader, loan):
    p = reader()
    give_consent(subject_id=p.subject_id, scope=services.HISTORY_SCOPE)
    loan(p, TODAY + dt.timedelta(days=3))
    services.queue_due_soon_notices(today=TODAY)
    services.deliver_queued_notices()
    assert Notice.objects.get().body
    withdraw_consent(subject_id=p.subject_id, scope=services.HISTORY_SCOPE)
    notice = Notice.objects.get()
    assert notice.body is None and notice.counted and not notice.kept
    assert NoticeDailyCount.objects.get().count == 1


def test_overdue_marker_stays_while_the_loan_is_out_and_goes_when_returned_prv_not_1(reader, loan):
    p = reader()
    lent = loan(p, TODAY - dt.timedelta(days=2))
    services.queue_overdue_notices(today=TODAY)
    services.deliver_queued_notices()
    services.reduce_notice_history(today=TODAY)
    assert Notice.objects.filter(counted=True).count() == 1
    assert services.queue_overdue_notices(today=TODAY + dt.timedelta(days=1)) == 0
    lent.returned_at = timezone.now()
    lent.patron = None
    lent.save()
    services.reduce_notice_history(today=TODAY + dt.timedelta(days=1))
    assert not Notice.objects.exists()


def test_failed_notices_keep_their_content_for_staff_then_are_counted_prv_not_1(
    settings, reader, loan
):
    _queue = reader(email="")
    loan(_queue, TODAY + dt.timedelta(days=3))
    services.queue_due_soon_notices(today=TODAY)
    services.deliver_queued_notices()
    assert Notice.objects.get().state == "undeliverable"
    assert services.reduce_notice_history(today=TODAY) == 0
    with time_machine.travel(timezone.now() + dt.timedelta(days=31), tick=False):
        assert services.reduce_notice_history(today=TODAY) == 1
    assert NoticeDailyCount.objects.get().outcome == "undeliverable"


def test_erasing_a_patron_leaves_only_counts_of_their_notices_prv_not_1(reader, loan):
    from quietshelf.privacy.services import forget_subject

    p = reader()
    give_consent(subject_id=p.subject_id, scope=services.HISTORY_SCOPE)
    loan(p, TODAY + dt.timedelta(days=3))
    loan(p, TODAY - dt.timedelta(days=1))
    services.queue_due_soon_notices(today=TODAY)
    services.deliver_queued_notices()
    services.queue_overdue_notices(today=TODAY)  # still queued when the patron is erased
    forget_subject(subject_id=p.subject_id, reason="erasure_request")
    assert not Notice.objects.filter(patron=p).exists()
    assert NoticeDailyCount.objects.get().notice_type == "due_soon"


def test_prv_not_1_delivery_without_consent_counts_at_once_and_leaves_a_bare_marker(
    smtp, reader, loan
):
    """Review 7: the marker row (it lives as long as the loan is out) held the channel,
    attempts and time of sending, and the count waited for the nightly job."""
    p = reader()
    other = reader()
    loan(p, TODAY + dt.timedelta(days=3))
    loan(p, TODAY - dt.timedelta(days=1))
    loan(other, TODAY + dt.timedelta(days=3))
    services.queue_due_soon_notices(today=TODAY)
    services.queue_overdue_notices(today=TODAY)
    assert services.deliver_queued_notices() == 3
    assert len(smtp.messages) == 3
    # counted at delivery, before any nightly job
    counts = {
        (c.notice_type, c.channel, c.day, c.outcome): c.count
        for c in NoticeDailyCount.objects.all()
    }
    day = timezone.localdate()
    assert counts == {("due_soon", "email", day, "sent"): 2, ("overdue", "email", day, "sent"): 1}
    rows = Notice.objects.filter(patron=p)
    assert rows.count() == 2
    for row in rows:
        assert row.state == "sent" and row.counted
        assert row.channel == "" and row.sent_at is None and row.attempts == 0
        assert row.last_error == "" and row.claimed_at is None and row.claimed_by == ""
        assert row.data is None and row.body is None and row.subject_line is None
        assert row.next_attempt_at == row.created_at  # no trace of when it went out
    assert not Notice.objects.filter(patron=p).exclude(sent_at=None).exists()
    assert not Notice.objects.filter(patron=p).exclude(channel="").exists()
    # the nightly job does not count them again, and the markers still stop a re-queue
    assert services.reduce_notice_history(today=TODAY) == 0
    assert sum(NoticeDailyCount.objects.values_list("count", flat=True)) == 3
    assert services.queue_due_soon_notices(today=TODAY) == 0
    assert services.queue_overdue_notices(today=TODAY) == 0
    assert services.deliver_queued_notices() == 0
    assert len(smtp.messages) == 3


def test_prv_not_1_nightly_reduction_strips_the_markers_of_kept_notices_too(reader, loan):
    """With consent the notice is kept, then reduced: the marker left has no channel or
    time of sending either, and the count is made once."""
    p = reader()
    give_consent(subject_id=p.subject_id, scope=services.HISTORY_SCOPE)
    loan(p, TODAY + dt.timedelta(days=3))
    services.queue_due_soon_notices(today=TODAY)
    services.deliver_queued_notices()
    kept = Notice.objects.get()
    assert kept.channel == "email" and kept.sent_at is not None  # the patron's own history
    assert not NoticeDailyCount.objects.exists()
    withdraw_consent(subject_id=p.subject_id, scope=services.HISTORY_SCOPE)
    marker = Notice.objects.get()
    assert marker.counted and marker.channel == "" and marker.sent_at is None
    assert marker.attempts == 0 and marker.body is None
    assert services.reduce_notice_history(today=TODAY) == 0
    assert NoticeDailyCount.objects.get().count == 1


def test_prv_not_1_a_worker_that_died_before_settling_its_batch_is_counted_once_at_night(
    reader, loan
):
    """CIR-5, PRV-NOT-1: the server's acceptance is recorded per message, the batch settled
    (emptied and counted) at its end. If the worker dies in between, the notice is not sent
    again: once its claim times out it becomes sent, the nightly job counts it, and a late
    settle by the old worker adds nothing."""
    p = reader()
    loan(p, TODAY + dt.timedelta(days=3))
    services.queue_due_soon_notices(today=TODAY)
    [notice] = services._claim("worker-a", timezone.now(), 10)
    assert services._mark_accepted(notice, "worker-a", "email")  # then the worker died
    assert services.deliver_queued_notices() == 0  # still claimed
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=901), tick=True):
        assert services.deliver_queued_notices() == 0  # taken over as sent, not sent again
    assert Notice.objects.get().state == "sent"
    assert not NoticeDailyCount.objects.exists()
    assert services.reduce_notice_history(today=TODAY) == 1
    assert services._settle("worker-a", {notice.pk: ("due_soon", "email")}) == 0
    [count] = NoticeDailyCount.objects.all()
    assert (count.notice_type, count.channel, count.outcome, count.count) == (
        "due_soon",
        "email",
        "sent",
        1,
    )
    marker = Notice.objects.get()
    assert marker.counted and marker.channel == "" and marker.sent_at is None
