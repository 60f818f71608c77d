"""PRV-RET-1: what the privacy office records is kept for its rule, then deleted by the job."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from quietshelf.privacy import retention
from quietshelf.privacyoffice import services
from quietshelf.privacyoffice.models import CanaryStatement, ProcessingRestriction, RequestCase

pytestmark = pytest.mark.django_db(databases="__all__")


def _aged(model, pk, **fields):
    model.objects.filter(pk=pk).update(**fields)


def test_closed_cases_go_after_the_privacy_case_rule_open_ones_stay_prv_ret_1(officer, patron):
    days = retention.schedule()["privacy_case"].days
    old = timezone.now() - dt.timedelta(days=days + 2)
    closed_old = services.case_open(actor=officer, kind="access", channel="letter")
    services.case_close(actor=officer, case_id=closed_old.pk, status="done", note="sent")
    _aged(RequestCase, closed_old.pk, closed_at=old)
    closed_new = services.case_open(actor=officer, kind="access", channel="letter")
    services.case_close(actor=officer, case_id=closed_new.pk, status="done", note="sent")
    still_open = services.case_open(actor=officer, kind="access", channel="email")
    dry = retention.run(dry_run=True, only=["closed privacy requests"])
    assert dry.reports[0].due == 1 and RequestCase.objects.count() == 3
    retention.run(only=["closed privacy requests"])
    assert set(RequestCase.objects.values_list("pk", flat=True)) == {closed_new.pk, still_open.pk}


def test_lifted_restrictions_and_lapsed_canaries_go_the_newest_canary_stays_prv_ret_1(
    officer, patron
):
    p = patron()
    services.restriction_apply(actor=officer, patron_id=p.pk)
    restriction = ProcessingRestriction.objects.get()
    _aged(
        ProcessingRestriction,
        restriction.pk,
        lifted_at=timezone.now()
        - dt.timedelta(days=retention.schedule()["patron_account"].days + 2),
    )
    audit_days = retention.schedule()["audit_log"].days
    first = services.canary_sign(actor=officer, valid_days=30)
    second = services.canary_sign(actor=officer, valid_days=30)
    lapsed = timezone.localdate() - dt.timedelta(days=audit_days + 2)
    CanaryStatement.objects.filter(pk__in=[first.pk, second.pk]).update(valid_until=lapsed)
    retention.run(only=["lifted restrictions", "old canary statements"])
    assert not ProcessingRestriction.objects.exists()
    assert list(CanaryStatement.objects.values_list("pk", flat=True)) == [second.pk]
