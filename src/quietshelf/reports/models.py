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
