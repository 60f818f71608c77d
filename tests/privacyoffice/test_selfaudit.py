"""`quietshelf privacy-audit` (PRV-AUD-1): read-only, scored, each finding with its
requirement and fix; --strict exits non-zero on a failure; also a staff page."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from quietshelf.accounts.testing import make_staff, signed_in_client
from quietshelf.circulation.models import Loan
from quietshelf.jobs.models import JobRun
from quietshelf.privacy.models import AuditEntry
from quietshelf.privacyoffice import selfaudit, services

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def healthy(lib, settings, tmp_path):
    """An instance that passes: canary, contact, a recent retention run, a private folder."""
    settings.INSTANCE_DIR = tmp_path
    settings.QUIETSHELF_CONTROLLER = {"name": "Test library", "contact": "dpo@library.example"}
    services.canary_sign(actor=None, valid_days=30)
    now = timezone.now()
    JobRun.objects.create(
        job="deidentify-loans",
        slot="s1",
        for_date=now.date(),
        state="succeeded",
        created_at=now,
        queued_at=now,
        finished_at=now,
    )
    return tmp_path


def by_check(report):
    return {f.check: f for f in report.findings}


def test_healthy_instance_passes_strict_and_writes_nothing_prv_aud_1(healthy, patron):
    patron(email="astrid.berg@example.org")
    before = (AuditEntry.objects.count(), Loan.objects.count())
    out = io.StringIO()
    call_command("privacy_audit", "--strict", "--format", "json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["failures"] == 0 and 0 < data["score"] <= 100
    assert all(f["requirement"].startswith("PRV-") for f in data["findings"])
    assert (AuditEntry.objects.count(), Loan.objects.count()) == before  # read-only


def test_findings_fail_with_requirement_and_fix_and_strict_exits_1_prv_aud_1(
    healthy, patron, item, lend
):
    p = patron(email="ola.nordmann@example.org")
    loan = lend(p, item()).loan
    Loan.objects.filter(pk=loan.pk).update(returned_at=timezone.now() - dt.timedelta(days=3))
    make_staff("no-mfa-desk", roles=["circulation-desk"])  # no second factor enrolled
    (healthy / "logs").mkdir()
    (healthy / "logs" / "app.log").write_text("sent notice to ola.nordmann@example.org\n")
    report = selfaudit.run()
    found = by_check(report)
    assert found["closed-loans-deidentified"].status == "fail"
    assert found["staff-mfa-and-training"].status == "fail"
    assert found["no-clear-values-in-files"].status == "fail"
    assert "logs/app.log" in found["no-clear-values-in-files"].message
    assert all(f.fix for f in report.findings if f.status == "fail")
    assert "| FAIL | PRV-HIST-2 |" in report.as_markdown()
    with pytest.raises(CommandError) as exc:
        call_command("privacy_audit", "--strict", stdout=io.StringIO())
    assert exc.value.returncode == 1


def test_stale_canary_and_overdue_request_fail_prv_aud_1(healthy, officer):
    services.canary_sign(
        actor=None, valid_days=1, today=timezone.localdate() - dt.timedelta(days=5)
    )
    services.case_open(
        actor=officer,
        kind="access",
        channel="letter",
        received_on=timezone.localdate() - dt.timedelta(days=60),
    )
    found = by_check(selfaudit.run())
    assert found["canary-fresh"].status == "fail" and "stale" in found["canary-fresh"].message
    assert found["requests-on-time"].status == "fail"


def test_self_audit_page_for_the_privacy_office_only_prv_aud_1(healthy, officer, desk):
    page = signed_in_client(officer).get("/staff/privacy-office/audit/")
    assert page.status_code == 200 and "PRV-GOV-2" in page.content.decode()
    assert signed_in_client(desk).get("/staff/privacy-office/audit/").status_code == 403
