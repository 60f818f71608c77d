"""The schedule as data: every job, what it calls, when, and why.

Callables are named by dotted path and imported only when a run starts, so a
job whose code is missing or broken fails its own run with a clear error
(shown on /staff/jobs/) instead of stopping the worker or this module.
Operators change a schedule with QUIETSHELF_JOBS_SCHEDULE and add jobs with
QUIETSHELF_JOBS_EXTRA (docs/jobs.md).
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from quietshelf.jobs import conf
from quietshelf.jobs.schedule import Schedule, ScheduleError

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{1,62}$")


class JobUnavailable(Exception):
    """The job's callable cannot be imported or called (a deployment problem)."""


@dataclass(frozen=True)
class JobSpec:
    name: str
    target: str  # "package.module:function"
    schedule: Schedule
    description: str
    kwargs: dict = field(default_factory=dict)

    def resolve(self) -> Callable:
        module_name, _sep, attr = self.target.partition(":")
        try:
            func = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise JobUnavailable(
                f"cannot import {self.target} ({type(exc).__name__}): is that app deployed?"
            ) from None
        if not callable(func):
            raise JobUnavailable(f"{self.target} is not callable")
        return func

    def call(self, *, today) -> int | None:
        func = self.resolve()
        kwargs = dict(self.kwargs)
        try:
            params = inspect.signature(func).parameters
        except (TypeError, ValueError):
            params = {}
        if "today" in params:
            kwargs["today"] = today
        result = func(**kwargs)
        return result if isinstance(result, int) and not isinstance(result, bool) else None


# (name, target, schedule relative to the night hour H, description)
_NIGHTLY = [
    ("overdue-fines", "quietshelf.circulation.services:charge_overdue_fines", 0,
     _("Brings the fines of overdue loans up to date (CIR-4, CIR-5).")),
    ("hold-shelf-expiry", "quietshelf.circulation.services:expire_hold_shelf", 10,
     _("Expires holds left on the hold shelf; the copy goes to the next patron in the queue.")),
    ("deidentify-loans", "quietshelf.circulation.services:deidentify_closed_loans", 20,
     _("Removes the patron from closed loans without an open fee (PRV-HIST-1).")),
    ("escrow-purge", "quietshelf.circulation.services:purge_escrow", 25,
     _("Deletes last-borrower escrow entries past their date (PRV-HIST-4).")),
    ("due-soon-notices", "quietshelf.notices.services:queue_due_soon_notices", 30,
     _("Queues courtesy notices for loans due soon.")),
    ("overdue-notices", "quietshelf.notices.services:queue_overdue_notices", 35,
     _("Queues overdue notices (after the fines are brought up to date).")),
    ("fee-notices", "quietshelf.notices.services:queue_fee_notices", 40,
     _("Queues notices about fees (after the fines are brought up to date).")),
    ("expiring-card-notices", "quietshelf.notices.services:queue_expiring_card_notices", 45,
     _("Queues notices for library cards about to expire.")),
    ("reduce-notice-history", "quietshelf.notices.services:reduce_notice_history", 50,
     _("Deletes notice history past its retention (PRV-NOT-1).")),
    ("retention", "quietshelf.privacy.retention:run_scheduled", 15,
     _("Applies the retention schedule: de-identifies, deletes and erases what is past its "
       "rule (PRV-RET-1).")),
    ("prune-job-runs", "quietshelf.jobs.services:prune_runs", 55,
     _("Deletes old job run records (QUIETSHELF_JOBS_KEEP_DAYS).")),
    ("reports-rollup", "quietshelf.reports.rollup:rollup_circulation", 58,
     _("Counts the circulation events of closed months for the reports (RPT-1).")),
    ("report-mail", "quietshelf.reports.services:queue_scheduled_reports", 59,
     _("Queues the scheduled report mails due today, in the publication form (RPT-1, "
       "PRV-AGG-1).")),
    ("privacy-request-reminders", "quietshelf.privacyoffice.services:case_reminders", 5,
     _("Reminds the privacy office of requests near or past their legal deadline (PRV-DSR-6).")),
    ("government-notice-reminders",
     "quietshelf.privacyoffice.services:government_notice_reminders", 6,
     _("Reminds the privacy office to tell patrons of a disclosure once a gag order ends "
       "(PRV-GOV-1).")),
    ("policy-change-notices", "quietshelf.privacyoffice.services:policy_change_notices", 7,
     _("Tells patrons who asked for it that the privacy policy changed (PRV-POL-1).")),
]  # fmt: skip

_FREQUENT = [
    ("hold-ready-notices", "quietshelf.notices.services:queue_hold_ready_notices",
     "every 5 minutes", {}, _("Queues notices for holds waiting on the shelf.")),
    ("deliver-notices", "quietshelf.notices.services:deliver_queued_notices",
     "every minute", {"limit": None, "seconds": 50, "threads": None},
     _("Sends queued notices (e-mail, SMS) until none is left or 50 seconds have passed.")),
    ("audit-seal", "quietshelf.privacy.audit:seal", "every minute", {},
     _("Chains new audit log entries (PRV-ACC-1).")),
    ("audit-checkpoint", "quietshelf.privacy.audit:seal", "hourly :00", {"checkpoint": True},
     _("Chains the audit log and signs a checkpoint (PRV-ACC-1).")),
    ("outgoing-purge", "quietshelf.core.outgoing:purge_outgoing", "hourly :15", {},
     _("Deletes mail and text messages kept in the instance folder (no mail server or SMS "
       "gateway set) once they are a day old (PRV-LOG-1).")),
]  # fmt: skip


def _defaults() -> list[JobSpec]:
    hour = conf.night_hour()
    specs = [
        JobSpec(name, target, Schedule("daily", hour=hour, minute=minute), str(text))
        for name, target, minute, text in _NIGHTLY
    ]
    specs += [
        JobSpec(name, target, Schedule.parse(when), str(text), kwargs)
        for name, target, when, kwargs, text in _FREQUENT
    ]
    return specs


def jobs() -> list[JobSpec]:
    """Every job with the operator's overrides and extra jobs applied."""
    specs = {spec.name: spec for spec in _defaults()}
    for item in conf.extra_jobs():
        try:
            name, target = item["name"], item["callable"]
            schedule = Schedule.parse(item.get("schedule", "off"))
        except (KeyError, TypeError, ScheduleError) as exc:
            raise ImproperlyConfigured(
                f"QUIETSHELF_JOBS_EXTRA: bad entry {item!r}: {exc}"
            ) from None
        if not NAME_RE.match(str(name)) or ":" not in str(target):
            raise ImproperlyConfigured(
                f"QUIETSHELF_JOBS_EXTRA: {name!r} needs a lower-case name and "
                "a callable like package.module:function"
            )
        specs[name] = JobSpec(
            name, target, schedule, str(item.get("description", "")), dict(item.get("kwargs", {}))
        )
    for name, text in conf.schedule_overrides().items():
        if name not in specs:
            raise ImproperlyConfigured(f"QUIETSHELF_JOBS_SCHEDULE: no job named {name!r}")
        try:
            schedule = Schedule.parse(text)
        except ScheduleError as exc:
            raise ImproperlyConfigured(f"QUIETSHELF_JOBS_SCHEDULE[{name!r}]: {exc}") from None
        spec = specs[name]
        specs[name] = JobSpec(spec.name, spec.target, schedule, spec.description, spec.kwargs)
    return list(specs.values())


def get(name: str) -> JobSpec | None:
    return next((spec for spec in jobs() if spec.name == name), None)
