"""quietshelf send-notices (CIR-5): a summary line with counts only; bad input exits 2."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command

from quietshelf.notices.models import Notice
from tests.notices.conftest import TODAY


def test_send_notices_dry_run_queues_nothing_and_the_real_run_sends_cir5(reader, loan):
    p = reader(given_name="Sigrid", family_name="Fjellheim")
    loan(p, TODAY + dt.timedelta(days=2))
    loan(reader(), TODAY - dt.timedelta(days=1))
    out = io.StringIO()
    call_command("send_notices", "--date", TODAY.isoformat(), "--dry-run", stdout=out)
    assert "would queue 1 due soon, 1 overdue" in out.getvalue()
    assert not Notice.objects.exists()
    out = io.StringIO()
    call_command("send_notices", "--date", TODAY.isoformat(), stdout=out)
    line = out.getvalue().strip()
    assert "queued 1 due soon, 1 overdue, 0 hold ready, 0 expiring card, 0 fees; sent 2" in line
    assert "Sigrid" not in line and "@" not in line
    out = io.StringIO()
    call_command("send_notices", "--date", TODAY.isoformat(), stdout=out)
    assert "queued 0 due soon, 0 overdue" in out.getvalue() and "sent 0" in out.getvalue()


def test_send_notices_bad_date_is_one_line_and_exit_2(db):
    import subprocess
    import sys

    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "quietshelf", "send-notices", "--date", "5 March"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "not a date" in result.stderr


@pytest.mark.parametrize("value", ["0", "x"])
def test_overdue_intervals_must_increase(settings, value):
    from django.core.exceptions import ImproperlyConfigured

    from quietshelf.notices import conf

    settings.QUIETSHELF_NOTICE_OVERDUE_DAYS = [8, value]
    with pytest.raises((ImproperlyConfigured, ValueError)):
        conf.overdue_days()
