"""CIR-5 with the real circulation jobs: the nightly fines and hold-shelf expiry run
through the scheduler, the queue and a consumer; a second run (Run now) charges
nothing twice, and an expired hold's copy goes to the next patron in the queue."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from quietshelf.accounts.testing import make_staff
from quietshelf.circulation import services as circ_services
from quietshelf.circulation.models import Fee, Hold, Loan
from quietshelf.jobs import queue, services
from quietshelf.jobs.models import JobRun, RunState
from tests.factories import noon_days_ago
from tests.jobs.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def nightly(test_jobs):
    """Only the two circulation jobs are scheduled."""
    test_jobs.QUIETSHELF_JOBS_SCHEDULE = {
        **test_jobs.QUIETSHELF_JOBS_SCHEDULE,
        "overdue-fines": "daily 00:00",
        "hold-shelf-expiry": "daily 00:00",
    }
    return test_jobs


def _finished(job: str, count: int):
    return wait_for(
        lambda: JobRun.objects.filter(job=job, state=RunState.SUCCEEDED).count() == count,
        what=f"{count} finished run(s) of {job}",
    )


def test_cir5_nightly_fines_through_the_queue_and_run_now_charges_nothing_twice(
    nightly, circ, patron, item, sqlite_huey, consumer
):
    p, i = patron(), item()
    loan = circ_services.checkout(
        actor=None, item_barcode=i.barcode, patron_id=p.pk, branch_id=circ["north"].pk
    ).loan
    Loan.objects.filter(pk=loan.pk).update(due_at=noon_days_ago(3))

    for name, slot in services.tick(worker=services.worker_id()):
        queue.enqueue_run(name, slot, huey=sqlite_huey)
    consumer(sqlite_huey)
    _finished("overdue-fines", 1)
    fines = JobRun.objects.get(job="overdue-fines")
    assert fines.result_count == 1 and fines.slot == timezone.localdate().isoformat()
    fee = Fee.objects.get(patron=p)
    assert circ_services.fee_balance(fee.pk) == 3 * 500

    admin = make_staff("jobs-circ-admin", roles=["administrator"])
    services.run_now(actor=admin, job="overdue-fines")
    _finished("overdue-fines", 2)
    again = JobRun.objects.filter(job="overdue-fines").order_by("-id").first()
    assert again.result_count == 0
    assert circ_services.fee_balance(fee.pk) == 3 * 500
    assert Fee.objects.filter(patron=p).count() == 1


def test_cir5_hold_shelf_expiry_job_passes_the_copy_to_the_next_patron(nightly, circ, patron, item):
    i = item()
    a, b = patron(), patron()
    ha, hb = (
        circ_services.hold_place(
            actor=None, patron_id=x.pk, record_id=i.record_id, pickup_branch_id=circ["north"].pk
        )
        for x in (a, b)
    )
    circ_services.checkin(actor=None, item_barcode=i.barcode, branch_id=circ["north"].pk)
    ha.refresh_from_db()
    day = ha.shelf_expires_on + dt.timedelta(days=1)
    night = timezone.make_aware(dt.datetime.combine(day, dt.time(1, 10)))
    with time_machine.travel(night, tick=True):  # the night after the shelf date
        run = services.run_here(job="hold-shelf-expiry")
        assert (run.state, run.result_count, run.for_date) == (RunState.SUCCEEDED, 1, day)
        assert Hold.objects.get(pk=ha.pk).status == "expired"
        on_shelf = Hold.objects.get(pk=hb.pk)
        assert on_shelf.status == "on_shelf" and on_shelf.item_id == i.pk
        # The same night again: nothing more expires, nothing moves.
        assert services.run_here(job="hold-shelf-expiry").result_count == 0
        assert Hold.objects.get(pk=hb.pk).status == "on_shelf"
