"""CIR-5: the staff jobs page (/staff/jobs/): schedule, last runs, failures with their
error, queue length, Run now and Retry; permissions jobs.view_jobs / jobs.run_jobs."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from quietshelf.accounts.testing import make_staff, signed_in_client
from quietshelf.jobs import services
from quietshelf.jobs.models import JobRun, RunState

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

URL = "/staff/jobs/"


@pytest.fixture
def admin_client(test_jobs, sqlite_huey):
    return signed_in_client(make_staff("jobs-page-admin", roles=["administrator"]))


def _failed_run() -> JobRun:
    now = timezone.now()
    run = JobRun.objects.create(
        job="test-fails", slot="2026-11-23", for_date=dt.date(2026, 11, 23), created_at=now,
        queued_at=now,
    )  # fmt: skip
    return services.run_job("test-fails", slot=run.slot, worker="page:1")


def test_cir5_page_shows_schedule_last_run_failure_and_queue(admin_client):
    run = _failed_run()
    page = admin_client.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="job-test-effects"' in html
    assert "RuntimeError: could not reach the notice gateway" in html
    assert "23000000042" not in html
    assert f'id="run-{run.pk}"' in html
    assert "0 tasks waiting" in html
    assert "No worker has been seen" in html
    assert "Run now" in html and "Retry" in html


def test_cir5_retry_button_requeues_the_failed_run(admin_client, sqlite_huey):
    run = _failed_run()
    response = admin_client.post(URL + "retry/", {"run": run.pk}, follow=True)
    assert "is queued again (attempt 2)" in response.content.decode()
    run.refresh_from_db()
    assert run.state == RunState.QUEUED and sqlite_huey.pending_count() == 1


def test_cir5_run_now_button_queues_a_run(admin_client, sqlite_huey):
    response = admin_client.post(URL + "run/", {"job": "test-effects"}, follow=True)
    assert "test-effects is queued" in response.content.decode()
    assert JobRun.objects.filter(job="test-effects", state=RunState.QUEUED).count() == 1
    assert sqlite_huey.pending_count() == 1


def test_cir5_bad_input_on_the_buttons_is_a_message_not_an_error(admin_client):
    response = admin_client.post(URL + "run/", {"job": "no-such-job"}, follow=True)
    assert response.status_code == 200 and "No such job." in response.content.decode()
    response = admin_client.post(URL + "retry/", {"run": "abc"}, follow=True)
    assert response.status_code == 200 and "No such run." in response.content.decode()
    run = JobRun.objects.create(
        job="test-effects", slot="x", for_date=dt.date(2026, 11, 23), created_at=timezone.now(),
        queued_at=timezone.now(), state=RunState.SUCCEEDED,
    )  # fmt: skip
    response = admin_client.post(URL + "retry/", {"run": run.pk}, follow=True)
    assert "Only a failed run can be retried." in response.content.decode()
    assert admin_client.get(URL + "run/").status_code == 405


def test_cir5_page_and_buttons_need_the_jobs_permissions(test_jobs, sqlite_huey):
    desk = signed_in_client(make_staff("jobs-page-desk", roles=["circulation-desk"]))
    assert desk.get(URL).status_code == 403
    assert desk.post(URL + "run/", {"job": "test-effects"}).status_code == 403
    assert not JobRun.objects.exists()
    from django.test import Client

    anonymous = Client()
    response = anonymous.get(URL)
    assert response.status_code == 302 and "/staff/login/" in response["Location"]


def test_cir5_page_in_norwegian(admin_client):
    html = admin_client.get(URL + "?lang=nb", HTTP_ACCEPT_LANGUAGE="nb").content.decode()
    assert "Planlagte jobber" in html
