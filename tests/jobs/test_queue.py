"""CIR-5: jobs go through a real huey queue and a real huey consumer, on SQLite
storage (the default, in the instance folder) and on Redis (QUIETSHELF_REDIS_URL)."""

from __future__ import annotations

import pytest

from quietshelf.jobs import conf, queue, services
from quietshelf.jobs.models import JobRun, RunState
from tests.jobs.conftest import REDIS_URL, sent_rows, wait_for

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def _run_through(huey, consumer):
    """The tick queues the due slot; a consumer thread runs it."""
    due = services.tick(worker=services.worker_id(), storage=huey.qs_storage)
    assert due and due[0][0] == "test-effects"
    for name, slot in due:
        assert queue.enqueue_run(name, slot, huey=huey)
    assert huey.pending_count() == len(due)
    consumer(huey)
    run = wait_for(
        lambda: JobRun.objects.filter(job="test-effects", state=RunState.SUCCEEDED).first(),
        what="the run to succeed",
    )
    wait_for(lambda: huey.pending_count() == 0, what="an empty queue")
    return run


@pytest.fixture
def scheduled(test_jobs):
    test_jobs.QUIETSHELF_JOBS_SCHEDULE = {
        **test_jobs.QUIETSHELF_JOBS_SCHEDULE,
        "test-effects": "every minute",
    }
    return test_jobs


def test_cir5_sqlite_storage_runs_a_queued_job(scheduled, effect_tables, sqlite_huey, consumer):
    assert sqlite_huey.qs_storage.startswith("SQLite ")
    run = _run_through(sqlite_huey, consumer)
    assert run.result_count == 4 and len(sent_rows()) == 4


def test_cir5_redis_storage_runs_a_queued_job(scheduled, effect_tables, redis_huey, consumer):
    assert redis_huey.qs_storage.startswith("Redis redis://127.0.0.1:6379/0")
    run = _run_through(redis_huey, consumer)
    assert run.result_count == 4 and len(sent_rows()) == 4


def test_cir5_queue_is_sqlite_in_the_instance_folder_by_default(settings):
    settings.QUIETSHELF_REDIS_URL = ""
    settings.QUIETSHELF_JOBS_FILE = ""
    assert conf.sqlite_file() == settings.INSTANCE_DIR / "jobs.sqlite3"
    settings.QUIETSHELF_REDIS_URL = REDIS_URL
    huey = queue.build_huey(name=conf.queue_name(), redis_url=conf.redis_url())
    assert type(huey).__name__ == "RedisHuey"


def test_cir5_queue_name_differs_between_instances(settings):
    """Two instances sharing one Redis use two queues (named from their databases)."""
    one = {"ENGINE": "django.db.backends.postgresql", "HOST": "db", "NAME": "library_a"}
    two = {**one, "NAME": "library_b"}
    assert conf.name_for_database(one) != conf.name_for_database(two)
    assert conf.queue_name() == conf.name_for_database(settings.DATABASES["default"])
    settings.QUIETSHELF_JOBS_QUEUE = "library-b"
    assert conf.queue_name() == "library-b"


def test_cir5_redis_password_never_shown():
    shown = queue.redact("redis://jobs:s3cret-pw@redis.example.org:6380/2")
    assert shown == "redis://***@redis.example.org:6380/2"
    assert "s3cret" not in shown


def test_cir5_unreachable_queue_leaves_the_run_queued_for_the_next_tick(scheduled):
    dead = queue.build_huey(name="qs-test-dead", redis_url="redis://127.0.0.1:1/0")
    assert queue.enqueue_run("test-effects", "2026-11-23T10:00", huey=dead) is False
    assert queue.queue_length(dead) is None
