"""The reports there are: their groupings, measures and labels (RPT-1).

Each report reads de-identified facts only (selectors.py): circulation
events, items, holds without their patron, fee ledger amounts, patron counts,
notice day counts. The labels here are what pages, CSV headers and the API
show.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Measure:
    key: str
    label: str
    count: bool = True  # False: an amount of money (no noise; suppressed by its count)


@dataclass(frozen=True)
class ReportSpec:
    slug: str
    title: str
    description: str
    dims: dict  # key -> label: the things it may be grouped by
    measures: tuple[Measure, ...]
    periods: tuple[str, ...] = ("day", "week", "month", "year")
    default_period: str | None = "month"
    default_groups: tuple[str, ...] = ("branch",)
    dated: bool = True  # False: a snapshot of now (no date range)

    def measure_keys(self) -> tuple[str, ...]:
        return tuple(m.key for m in self.measures)


PERIOD_LABELS = {
    "day": _("Day"),
    "week": _("Week"),
    "month": _("Month"),
    "year": _("Year"),
}

BRANCH = _("Branch")
ITEM_TYPE = _("Item type")
PATRON_GROUP = _("Patron group")
FORMAT = _("Format")

REPORTS: dict[str, ReportSpec] = {
    spec.slug: spec
    for spec in (
        ReportSpec(
            "circulation",
            _("Circulation"),
            _("Check-outs, renewals, check-ins and holds, counted when they happened."),
            {
                "branch": BRANCH,
                "item_type": ITEM_TYPE,
                "patron_group": PATRON_GROUP,
                "format": FORMAT,
            },
            (
                Measure("checkout", _("Check-outs")),
                Measure("renewal", _("Renewals")),
                Measure("checkin", _("Check-ins")),
                Measure("hold_placed", _("Holds placed")),
                Measure("hold_filled", _("Holds filled")),
            ),
        ),
        ReportSpec(
            "collection",
            _("Collection"),
            _("Items held now, and how many have never circulated."),
            {
                "branch": BRANCH,
                "location": _("Location"),
                "item_type": ITEM_TYPE,
                "format": FORMAT,
                "status": _("Status"),
                "age": _("Age of the copy"),
            },
            (Measure("items", _("Items")), Measure("never", _("Never circulated"))),
            periods=(),
            default_period=None,
            default_groups=("branch", "item_type"),
            dated=False,
        ),
        ReportSpec(
            "holds",
            _("Holds"),
            _(
                "Holds placed, filled (and how soon), expired on the hold shelf and cancelled, "
                "by pickup branch."
            ),
            {"branch": _("Pickup branch")},
            (
                Measure("placed", _("Placed")),
                Measure("filled", _("Filled")),
                Measure("filled_7", _("Filled within 7 days")),
                Measure("filled_30", _("Filled in 8–30 days")),
                Measure("filled_later", _("Filled after 30 days")),
                Measure("expired", _("Expired on the shelf")),
                Measure("cancelled", _("Cancelled")),
            ),
        ),
        ReportSpec(
            "hold-queues",
            _("Hold queues"),
            _("Titles by how many holds are waiting for them now."),
            {"length": _("Queue length")},
            (Measure("titles", _("Titles")), Measure("waiting", _("Holds waiting"))),
            periods=(),
            default_period=None,
            default_groups=("length",),
            dated=False,
        ),
        ReportSpec(
            "fees",
            _("Fees"),
            _("Amounts charged, paid, waived and refunded, by fee type and branch."),
            {"branch": BRANCH, "type": _("Fee type")},
            (
                Measure("charged", _("Charged"), count=False),
                Measure("paid", _("Paid"), count=False),
                Measure("waived", _("Waived"), count=False),
                Measure("refunded", _("Refunded"), count=False),
            ),
            default_groups=("type",),
        ),
        ReportSpec(
            "patrons",
            _("Patrons"),
            _(
                "Registrations, expiries and active borrowers (from each patron's last active "
                "month), counts only."
            ),
            {"group": PATRON_GROUP, "branch": _("Home branch")},
            (
                Measure("registered", _("Registered")),
                Measure("expiring", _("Expiring")),
                Measure("active", _("Active borrowers")),
            ),
            default_groups=("group",),
            default_period="year",
        ),
        ReportSpec(
            "notices",
            _("Notices"),
            _("Notices sent, failed and undeliverable, by type and channel."),
            {"type": _("Notice type"), "channel": _("Channel")},
            (
                Measure("sent", _("Sent")),
                Measure("failed", _("Failed")),
                Measure("undeliverable", _("Undeliverable")),
            ),
            default_groups=("type",),
        ),
        ReportSpec(
            "search",
            _("Catalogue searches"),
            _(
                "Public catalogue searches per day and how many found nothing; counts only, "
                "never per person or session."
            ),
            {},
            (Measure("searches", _("Searches")), Measure("zero", _("Found nothing"))),
            default_groups=(),
        ),
    )
}
