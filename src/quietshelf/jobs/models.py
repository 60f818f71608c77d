"""Records of job runs and of the workers that ran them. No personal data:
job names, slots, counts, host names and process ids, scrubbed error lines."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class RunState(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    SUCCEEDED = "succeeded", _("succeeded")
    FAILED = "failed", _("failed")
    SKIPPED = "skipped", _("skipped")  # never started; a later slot covered it


class Trigger(models.TextChoices):
    SCHEDULE = "schedule", _("schedule")
    MANUAL = "manual", _("run now")
    CLI = "cli", _("command line")


class JobRun(models.Model):
    """One run of one job for one slot (the day, hour or minute it belongs to).

    Unique on (job, slot): two workers whose schedulers both decide a slot is
    due insert one row between them, and whichever moves it from queued to
    running with a conditional UPDATE runs it. A run left running by a worker
    that died is taken over (`attempt` grows) and runs again; the jobs are
    idempotent, so that repeats nothing (docs/jobs.md).
    """

    job = models.CharField(max_length=64)
    slot = models.CharField(max_length=40)
    for_date = models.DateField(help_text="the library day passed to the job as `today`")
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.SCHEDULE)
    state = models.CharField(max_length=10, choices=RunState.choices, default=RunState.QUEUED)
    attempt = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    queued_at = models.DateTimeField(help_text="last time the run was handed to the queue")
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=120, blank=True, default="")
    result_count = models.BigIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "slot"], name="jobs_run_one_per_slot"),
        ]
        indexes = [
            models.Index(fields=["job", "-created_at"], name="jobs_run_job_recent"),
            models.Index(fields=["state", "heartbeat_at"], name="jobs_run_state_beat"),
        ]

    class Privacy:  # reviewed: operational records only
        not_personal = {
            "job": "a job name from the registry",
            "slot": "a date, hour or minute",
            "worker": "host name and process id of a worker",
            "error": "exception class and a scrubbed first line of its message",
        }

    def __str__(self) -> str:
        return f"{self.job} {self.slot}"

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class WorkerSeen(models.Model):
    """A worker process (`host:pid`) and when its scheduler last ticked."""

    worker = models.CharField(max_length=120, unique=True)
    storage = models.CharField(max_length=200, help_text="where its queue lives, no password")
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField()

    class Privacy:  # reviewed: operational records only
        not_personal = {
            "worker": "host name and process id of a worker",
            "storage": "queue kind and location without credentials",
        }

    def __str__(self) -> str:
        return self.worker
