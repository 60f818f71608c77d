"""CIR-5, /api/v1/jobs: the schedule with last runs and failures, run now, retry;
permission denials in the standard error shape."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from quietshelf.accounts.testing import make_staff, signed_in_client
from quietshelf.jobs import services
from quietshelf.jobs.models import JobRun

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__")]

BASE = "/api/v1/jobs"


def test_cir5_api_lists_jobs_runs_and_failures(
    test_jobs, sqlite_huey, django_assert_max_num_queries
):
    now = timezone.now()
    JobRun.objects.create(
        job="test-fails", slot="2026-11-23", for_date=dt.date(2026, 11, 23), created_at=now,
        queued_at=now,
    )  # fmt: skip
    failed = services.run_job("test-fails", slot="2026-11-23", worker="api:1")
    client = signed_in_client(make_staff("jobs-api-admin", roles=["administrator"]))
    with django_assert_max_num_queries(12):
        r = client.get(BASE)
    assert r.status_code == 200, r.content
    body = r.json()
    names = [job["name"] for job in body["jobs"]]
    assert "test-effects" in names and "overdue-fines" in names
    fails = next(job for job in body["jobs"] if job["name"] == "test-fails")
    assert fails["last_run"]["state"] == "failed"
    assert body["failures"][0]["id"] == failed.pk
    assert "23000000042" not in r.content.decode()
    assert body["queue_length"] == 0

    r = client.post(f"{BASE}/runs/{failed.pk}/retry")
    assert r.status_code == 202 and r.json()["attempt"] == 2
    r = client.post(f"{BASE}/test-effects/run")
    assert r.status_code == 202 and r.json()["state"] == "queued"
    assert sqlite_huey.pending_count() == 2
    r = client.post(f"{BASE}/no-such-job/run")
    assert r.status_code == 404 and r.json()["error"]["code"] == "job_not_found"


def test_cir5_api_denies_without_the_jobs_permissions(test_jobs, sqlite_huey):
    desk = signed_in_client(make_staff("jobs-api-desk", roles=["circulation-desk"]))
    r = desk.get(BASE)
    assert r.status_code == 403 and set(r.json()) == {"error"}
    r = desk.post(f"{BASE}/test-effects/run")
    assert r.status_code == 403
    assert not JobRun.objects.exists()
    from django.test import Client

    assert Client().get(BASE).status_code == 401
