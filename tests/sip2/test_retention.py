"""PRV-RET-1: failed SIP2 logins and PINs are deleted after the sign-in-failure rule."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from quietshelf.privacy import retention
from quietshelf.sip2.models import Sip2Failure

pytestmark = pytest.mark.django_db(databases="__all__")


def test_old_sip2_failures_are_deleted_by_the_retention_job_prv_ret_1():
    days = retention.schedule()["sign_in_failure"].days
    now = timezone.now()
    Sip2Failure.objects.create(
        kind="pin", account_digest="a" * 64, source="t1", at=now - dt.timedelta(days=days + 1)
    )
    recent = Sip2Failure.objects.create(kind="login", account_digest="b" * 64, source="n", at=now)
    assert retention.run(dry_run=True, only=["SIP2 sign-in failures"]).reports[0].due == 1
    retention.run(only=["SIP2 sign-in failures"])
    assert list(Sip2Failure.objects.values_list("pk", flat=True)) == [recent.pk]
