"""What the reports keep: publications (a report in its publication form, frozen).

Nothing here names a reader. A Publication holds a table after small-cell
suppression and noise (PRV-AGG-1), computed once when a staff member
publishes it; the public statistics page and the anonymous API serve that
stored table and never run a query on a visitor's request (so repeated
visits cannot average the noise away, and an anonymous caller cannot start a
scan of millions of facts).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from quietshelf.privacy.inventory import personal


class Publication(models.Model):
    """One report published in its publication form: the parameters and the frozen table."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    report = models.CharField(max_length=40)  # a slug of specs.REPORTS
    title = models.CharField(max_length=200)
    params = models.JSONField(default=dict)  # from, to, period, groups
    k = models.PositiveIntegerField()
    epsilon = models.FloatField(null=True, blank=True)
    table = models.JSONField()  # as services.table_json writes it
    public = models.BooleanField(default=False)  # opt-in: shown on /statistics/
    published_at = models.DateTimeField()

    class Meta:
        ordering = ["report", "-published_at"]
        indexes = [models.Index(fields=["public", "report"], name="reports_pub_public")]

    class Privacy:  # reviewed: de-identified aggregates (PRV-AGG-1), about no one
        not_personal = {
            "report": "a report name",
            "title": "a report title",
            "params": "dates and grouping names",
            "table": "counts after small-cell suppression",
        }

    def __str__(self) -> str:
        return f"publication {self.report} {self.published_at:%Y-%m-%d}"


class SearchDailyCount(models.Model):
    """How many public catalogue searches were made on a day, and how many found nothing.

    Counts only (PRV-SEP-1): no session, no patron, no time of day, nothing that
    could be joined with circulation.
    """

    day = models.DateField(unique=True)
    searches = models.PositiveIntegerField(default=0)
    zero_results = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-day"]

    class Privacy:  # reviewed: counts, about no one
        not_personal: dict = {}

    def __str__(self) -> str:
        return f"{self.searches} searches {self.day}"


class ZeroResultTerm(models.Model):
    """A normalised search text that found nothing, counted per day (PRV-SEP-1).

    Not linked to any session or person. Reports show a term only when at
    least k searches used it (small-cell suppression); rows older than
    QUIETSHELF_SEARCH_TERMS_DAYS (default 90) are deleted when a new day's
    counts begin.
    """

    day = models.DateField()
    term = models.CharField(max_length=100)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "term"], name="reports_zero_term_day")
        ]

    class Privacy:  # reviewed: a text typed by someone unknown, never linked to anyone
        not_personal = {
            "term": "a search text that found nothing, kept without session or person, shown "
            "only when k or more searches used it, deleted after 90 days"
        }

    def __str__(self) -> str:
        return f"zero-result term {self.day}"


class SavedReport(models.Model):
    """A report with its grouping and range, saved by a staff member for their own list."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey("accounts.StaffUser", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    report = models.CharField(max_length=40)
    params = models.JSONField(default=dict)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["owner", "name"], name="reports_saved_owner")]

    class Privacy:
        subject = "staff"
        fields = {
            "owner": personal(
                category="identifier",
                risk="low",
                purpose="whose list of saved reports it is",
                legal_basis="contract",
                source="system",
                retention="staff_account",
                readers=("staff",),
            ),
            "name": personal(
                category="free_text",
                risk="low",
                purpose="the name a staff member gave a saved report",
                legal_basis="contract",
                source="the staff member",
                retention="staff_account",
                readers=("staff",),
            ),
        }
        not_personal = {"report": "a report name", "params": "dates and grouping names"}

    def __str__(self) -> str:
        return f"saved report {self.pk}"


class CirculationMonth(models.Model):
    """Circulation events of a closed month, counted per kind, branch, item type, patron
    group and format (the nightly rollup; RPT-1). Reports over whole months read these
    instead of scanning every event; the days not yet rolled up are read from the events."""

    month = models.DateField()  # the first day of the month
    kind = models.CharField(max_length=16)
    branch = models.ForeignKey(
        "catalog.Branch", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    item_type = models.ForeignKey(
        "catalog.ItemType", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    patron_group = models.ForeignKey(
        "patrons.PatronGroup", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    format = models.CharField(max_length=16, blank=True)
    n = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["month", "kind"], name="reports_circ_month")]

    class Privacy:  # reviewed: counts of de-identified facts (PRV-HIST-2)
        not_personal = {"kind": "enumeration", "format": "enumeration"}

    def __str__(self) -> str:
        return f"{self.n} {self.kind} {self.month:%Y-%m}"


class RollupState(models.Model):
    """How far a rollup has gone: every day up to `through` is counted in it."""

    name = models.CharField(max_length=40, unique=True)
    through = models.DateField()

    class Privacy:  # reviewed: a rollup name and a date
        not_personal = {"name": "the name of a rollup"}

    def __str__(self) -> str:
        return f"{self.name} through {self.through}"


class ScheduleFrequency(models.TextChoices):
    DAILY = "daily", _("Daily")
    WEEKLY = "weekly", _("Weekly (Mondays)")
    MONTHLY = "monthly", _("Monthly (on the 1st)")


class ScheduleWindow(models.TextChoices):
    LAST = "last", _("The day, week or month just ended")
    ROLLING = "rolling", _("The saved range's length, up to yesterday")
    SAVED = "saved", _("The saved dates as they are")


class ReportSchedule(models.Model):
    """A staff member's saved report, e-mailed in its publication form (small cells
    suppressed, PRV-AGG-1) daily, weekly or monthly to staff recipients who may read
    reports (RPT-1). Queued by the `report-mail` job through the notices outbox."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey("accounts.StaffUser", on_delete=models.CASCADE, related_name="+")
    saved = models.ForeignKey(SavedReport, on_delete=models.CASCADE, related_name="schedules")
    frequency = models.CharField(max_length=8, choices=ScheduleFrequency.choices)
    window = models.CharField(max_length=8, choices=ScheduleWindow.choices)
    language = models.CharField(max_length=2, default="en")
    next_run_on = models.DateField()
    last_run_on = models.DateField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["next_run_on"], name="reports_schedule_due")]

    class Privacy:
        subject = "staff"
        fields = {
            "owner": personal(
                category="identifier",
                risk="low",
                purpose="who set up the scheduled report mail",
                legal_basis="contract",
                source="system",
                retention="staff_account",
                readers=("staff",),
            ),
        }
        not_personal = {
            "frequency": "enumeration",
            "window": "enumeration",
            "language": "a language code",
            "last_error": "why the last run sent nothing (a report error, no personal values)",
        }

    def __str__(self) -> str:
        return f"report schedule {self.pk}"


class ReportScheduleRecipient(models.Model):
    """A staff member a scheduled report goes to (they must hold reports.view_reports)."""

    schedule = models.ForeignKey(
        ReportSchedule, on_delete=models.CASCADE, related_name="recipients"
    )
    staff = models.ForeignKey("accounts.StaffUser", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["schedule", "staff"], name="reports_schedule_to_once")
        ]

    class Privacy:
        subject = "staff"
        fields = {
            "staff": personal(
                category="identifier",
                risk="low",
                purpose="which staff member a scheduled report is mailed to",
                legal_basis="contract",
                source="chosen by the staff member who scheduled it",
                retention="staff_account",
                readers=("staff",),
            ),
        }
        not_personal: dict = {}

    def __str__(self) -> str:
        return f"report schedule recipient {self.pk}"
