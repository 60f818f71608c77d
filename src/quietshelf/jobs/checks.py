"""`quietshelf check`: the job settings make sense (JSON, job names, schedules)."""

from __future__ import annotations

from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured


@register()
def job_settings(app_configs=None, **kwargs):
    from quietshelf.jobs import conf, registry

    try:
        registry.jobs()
        conf.stale_seconds()
        conf.max_attempts()
        conf.keep_days()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), hint="See docs/jobs.md, Settings.", id="jobs.E001")]
    return []
