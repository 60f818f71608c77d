"""The nightly rollup of circulation events into month counts (RPT-1, the benchmark).

A year of a large library is tens of millions of events; a report by month
would scan them all on every view. Once a month is closed (ROLLUP_MARGIN_DAYS
after its end, so a job catching up a late slot still lands in it), its events
are counted once per kind, branch, item type, patron group and format into
CirculationMonth, and RollupState remembers how far that has gone. Reports
over whole months read the counts, and the events only for the days after.
Events are only ever written for the day they happen, never changed or
deleted, so a closed month's counts stay right.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Count, Min

from quietshelf.circulation.models import CirculationEvent
from quietshelf.core import clock
from quietshelf.reports.models import CirculationMonth, RollupState

NAME = "circulation"
ROLLUP_MARGIN_DAYS = 2


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def rolled_through() -> dt.date | None:
    return RollupState.objects.filter(name=NAME).values_list("through", flat=True).first()


def rollup_circulation(*, today: dt.date | None = None) -> int:
    """Count every closed month not yet counted; returns the rows written. Idempotent:
    a month is written with its RollupState step in one transaction."""
    today = today or clock.today()
    closed_before = (today - dt.timedelta(days=ROLLUP_MARGIN_DAYS)).replace(day=1)
    through = rolled_through()
    if through is not None:
        month = through + dt.timedelta(days=1)
    else:
        first = CirculationEvent.objects.aggregate(first=Min("day"))["first"]
        if first is None:
            return 0
        month = first.replace(day=1)
    written = 0
    while month < closed_before:
        after = next_month(month)
        written += _rollup_month(month, after)
        month = after
    return written


@transaction.atomic(durable=True)
def _rollup_month(month: dt.date, after: dt.date) -> int:
    if (rolled_through() or dt.date.min) >= month:
        return 0  # another worker did it meanwhile
    rows = (
        CirculationEvent.objects.filter(day__gte=month, day__lt=after)
        .values("kind", "branch_id", "item_type_id", "patron_group_id", "record__format")
        .annotate(n=Count("pk"))
        .order_by()
    )
    objs = [
        CirculationMonth(
            month=month,
            kind=r["kind"],
            branch_id=r["branch_id"],
            item_type_id=r["item_type_id"],
            patron_group_id=r["patron_group_id"],
            format=r["record__format"] or "",
            n=r["n"],
        )
        for r in rows.iterator(chunk_size=5000)
    ]
    CirculationMonth.objects.bulk_create(objs, batch_size=2000)
    RollupState.objects.update_or_create(
        name=NAME, defaults={"through": after - dt.timedelta(days=1)}
    )
    return len(objs)
