"""PRV-RET-1: a closed staff account's saved reports go with it, counted on their own."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from quietshelf.privacy import retention
from quietshelf.reports.models import SavedReport
from tests.factories import StaffUserFactory

pytestmark = pytest.mark.django_db(databases="__all__")


def test_saved_reports_of_a_closed_staff_account_are_deleted_prv_ret_1():
    days = retention.schedule()["staff_account"].days
    gone = StaffUserFactory(username="left-long-ago")
    gone.is_active = False
    gone.last_login = timezone.now() - dt.timedelta(days=days + 3)
    gone.save()
    here = StaffUserFactory(username="still-here")
    now = timezone.now()
    SavedReport.objects.create(owner=gone, name="Old", report="circulation", created_at=now)
    mine = SavedReport.objects.create(owner=here, name="Mine", report="circulation", created_at=now)
    key = "saved reports of closed staff accounts"
    assert retention.run(dry_run=True, only=[key]).reports[0].due == 1
    retention.run(only=[key])
    assert list(SavedReport.objects.values_list("pk", flat=True)) == [mine.pk]
