"""quietshelf circulation-daily: fines, hold-shelf expiry, de-identification, escrow (CIR-4)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from quietshelf.circulation import services
from quietshelf.circulation.models import Fee, Loan
from quietshelf.core.commands import UsageError


def test_daily_command_runs_every_job_and_summarises(circ, patron, item):
    p, i = patron(), item()
    r = services.checkout(
        actor=None, item_barcode=i.barcode, patron_id=p.pk, branch_id=circ["north"].pk
    )
    Loan.objects.filter(pk=r.loan.pk).update(due_at=timezone.now() - dt.timedelta(days=3))
    out = io.StringIO()
    call_command("circulation_daily", stdout=out)
    assert "1 fines brought up to date" in out.getvalue()
    assert Fee.objects.filter(patron=p, type="overdue").count() == 1


def test_daily_command_bad_date_is_a_usage_error(circ):
    with pytest.raises(UsageError):
        call_command("circulation_daily", "--date", "31/12/2026")
