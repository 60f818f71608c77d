"""Set-based reads behind the reports: one GROUP BY per measure family, ids to labels after.

Every function returns facts for policy.build_table: (keys, values, counts)
with keys already turned into labels. The database groups by ids and truncated
dates only; names come from the small lookup tables afterwards, so the big
scan never joins (except grouping by format, which needs the record).

None of these reads a patron id: circulation events, holds, fee ledger lines
and notice counts are grouped by branch, type, group and period; patrons are
counted, never listed (PRV-AGG-1, PRV-HIST-2).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable

from django.db import connection
from django.db.models import Case, Count, DateField, DateTimeField, F, Q, Sum, Value, When
from django.db.models.functions import Substr, Trunc
from django.utils import timezone
from django.utils.translation import gettext as _

from quietshelf.catalog.models import (
    Branch,
    Item,
    ItemStatus,
    ItemType,
    MaterialFormat,
    ShelvingLocation,
)
from quietshelf.circulation.models import (
    CirculationEvent,
    FeeTransaction,
    FeeType,
    Hold,
    HoldStatus,
)
from quietshelf.core.dates import years_before
from quietshelf.notices.models import Channel, NoticeDailyCount, NoticeType
from quietshelf.patrons.models import Patron, PatronGroup
from quietshelf.reports import policy

NONE = "—"

Fact = tuple[tuple[str, ...], list[int], list[int] | None]


def _names(model) -> dict:
    return dict(model.objects.values_list("pk", "name"))


def _choices(choices) -> dict:
    return {value: str(label) for value, label in choices}


class Labels:
    """Lookups from ids and codes to the labels a report shows, loaded once per report."""

    def __init__(self, dims: list[str], *, kinds: dict[str, str]):
        self.maps: list[dict] = []
        for dim in dims:
            self.maps.append(_LOADERS[kinds.get(dim, dim)]())

    def keys(self, raw: tuple) -> tuple[str, ...]:
        out = []
        for mapping, value in zip(self.maps, raw, strict=True):
            if value is None or value == "":
                out.append(NONE)
            else:
                out.append(str(mapping.get(value, value)))
        return tuple(out)


_LOADERS: dict[str, Callable[[], dict]] = {
    "branch": lambda: _names(Branch),
    "item_type": lambda: _names(ItemType),
    "location": lambda: _names(ShelvingLocation),
    "patron_group": lambda: _names(PatronGroup),
    "format": lambda: _choices(MaterialFormat.choices),
    "status": lambda: _choices(ItemStatus.choices),
    "fee_type": lambda: _choices(FeeType.choices),
    "notice_type": lambda: _choices(NoticeType.choices),
    "channel": lambda: _choices(Channel.choices),
    "age": lambda: {},
}


def _local_bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    first = dt.datetime.combine(start, dt.time(), tzinfo=tz)
    after = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    return first, after


def _period_of_date(field: str, period: str):
    # SQLite truncates dates through a Python function called per row; a month or a
    # year is a prefix of the ISO text it stores, which SQLite cuts natively (the
    # 2M-fact benchmark: about twice as fast). PostgreSQL's date_trunc is native.
    if connection.vendor == "sqlite" and period in ("month", "year"):
        return Substr(F(field), 1, 7 if period == "month" else 4)
    return Trunc(field, period, output_field=DateField())


def _period_of_moment(field: str, period: str):
    return Trunc(
        field, period, output_field=DateTimeField(), tzinfo=timezone.get_current_timezone()
    )


def _period_key(value, period: str | None) -> str:
    if period is None:
        return ""
    if isinstance(value, str):  # 'YYYY-MM' or 'YYYY' cut by SQLite: already the label
        return value
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return policy.period_label(value, period)


def _grouped(
    qs,
    *,
    period: str | None,
    period_expr,
    dims: list[str],
    fields: dict[str, str],
    kinds: dict[str, str] | None = None,
    measure_field: str | None = None,
    aggregate=None,
    extra: dict | None = None,
):
    """Run one GROUP BY; yield (label keys, the measure field's value, aggregate values)."""
    names = []
    annotations = dict(extra or {})
    if period is not None:
        annotations["_period"] = period_expr
        names.append("_period")
    names.extend(fields[d] for d in dims)
    if measure_field:
        names.append(measure_field)
    if annotations:
        qs = qs.annotate(**annotations)
    rows = qs.values(*names).order_by().annotate(**(aggregate or {"_n": Count("pk")}))
    labels = Labels(dims, kinds=kinds or {})
    for row in rows:
        keys = labels.keys(tuple(row[fields[d]] for d in dims))
        if period is not None:
            keys = (_period_key(row["_period"], period), *keys)
        yield keys, row.get(measure_field) if measure_field else None, row


# --- circulation -------------------------------------------------------------------------

CIRCULATION_FIELDS = {
    "branch": "branch_id",
    "item_type": "item_type_id",
    "patron_group": "patron_group_id",
    "format": "record__format",
}


ROLLUP_FIELDS = {
    "branch": "branch_id",
    "item_type": "item_type_id",
    "patron_group": "patron_group_id",
    "format": "format",
}
CIRCULATION_MEASURES = ["checkout", "renewal", "checkin", "hold_placed", "hold_filled"]


def _month_end(day: dt.date) -> dt.date:
    from quietshelf.reports.rollup import next_month

    return next_month(day) - dt.timedelta(days=1)


def _rolled_span(start: dt.date, end: dt.date, period: str | None):
    """The whole months of [start, end] the rollup covers, or None."""
    from quietshelf.reports.rollup import next_month, rolled_through

    if period not in (None, "month", "year"):
        return None  # days and weeks cut through months
    through = rolled_through()
    if through is None:
        return None
    first = start if start.day == 1 else next_month(start)
    last = min(through, end if end == _month_end(end) else end.replace(day=1) - dt.timedelta(1))
    return (first, last) if first <= last else None


def circulation_facts(
    *, branch_ids: set[int] | None, start: dt.date, end: dt.date, period: str | None, dims
) -> list[Fact]:
    """Counts of circulation events by kind (RPT-1: counted when they happened).

    Whole months already rolled up are read from the month counts (rollup.py);
    the rest of the range from the events themselves."""
    from quietshelf.reports.models import CirculationMonth

    out: list[Fact] = []
    span = _rolled_span(start, end, period)
    raw_ranges = [(start, end)]
    if span is not None:
        first, last = span
        raw_ranges = [
            (a, b)
            for a, b in ((start, first - dt.timedelta(days=1)), (last + dt.timedelta(days=1), end))
            if a <= b
        ]
        qs = CirculationMonth.objects.filter(
            month__gte=first, month__lte=last, kind__in=CIRCULATION_MEASURES
        )
        if branch_ids is not None:
            qs = qs.filter(branch_id__in=branch_ids)
        out.extend(
            _circulation_rows(
                qs, "month", period, dims, ROLLUP_FIELDS, {"_n": Sum("n")}, fmt_kind=True
            )
        )
    for a, b in raw_ranges:
        qs = CirculationEvent.objects.filter(day__gte=a, day__lte=b, kind__in=CIRCULATION_MEASURES)
        if branch_ids is not None:
            qs = qs.filter(branch_id__in=branch_ids)
        out.extend(_circulation_rows(qs, "day", period, dims, CIRCULATION_FIELDS, None))
    return out


def _circulation_rows(qs, date_field, period, dims, fields, aggregate, *, fmt_kind=False):
    kinds = {"format": "format"}
    for keys, kind, row in _grouped(
        qs,
        period=period,
        period_expr=_period_of_date(date_field, period) if period else None,
        dims=dims,
        fields=fields,
        kinds=kinds,
        measure_field="kind",
        aggregate=aggregate,
    ):
        values = [0] * len(CIRCULATION_MEASURES)
        values[CIRCULATION_MEASURES.index(kind)] = int(row["_n"] or 0)
        yield keys, values, None


# --- collection --------------------------------------------------------------------------

COLLECTION_FIELDS = {
    "branch": "branch_id",
    "location": "location_id",
    "item_type": "item_type_id",
    "format": "record__format",
    "status": "status",
    "age": "_age",
}


def age_buckets(today: dt.date) -> list[tuple[str, dt.date | None]]:
    """(label, added on or after) from the youngest: under a year, 1–5, 5–10, older."""

    def years_ago(n: int) -> dt.date:
        return years_before(today, n)

    return [
        (_("under 1 year"), years_ago(1)),
        (_("1–5 years"), years_ago(5)),
        (_("5–10 years"), years_ago(10)),
        (_("over 10 years"), None),
    ]


def collection_facts(*, branch_ids: set[int] | None, today: dt.date, dims) -> list[Fact]:
    qs = Item.objects.all()
    if branch_ids is not None:
        qs = qs.filter(branch_id__in=branch_ids)
    extra = {}
    if "age" in dims:
        tz = timezone.get_current_timezone()
        whens = [
            When(created_at__gte=dt.datetime.combine(since, dt.time(), tzinfo=tz), then=Value(i))
            for i, (_label, since) in enumerate(age_buckets(today))
            if since is not None
        ]
        extra["_age"] = Case(*whens, default=Value(len(whens)))
    kinds = {}
    out: list[Fact] = []
    age_labels = [label for label, _since in age_buckets(today)]
    for keys, _m, row in _grouped(
        qs,
        period=None,
        period_expr=None,
        dims=dims,
        fields=COLLECTION_FIELDS,
        kinds=kinds,
        extra=extra,
        aggregate={
            "_n": Count("pk"),
            "_never": Count("pk", filter=Q(last_activity_on__isnull=True)),
        },
    ):
        if "age" in dims:
            i = dims.index("age")
            keys = (*keys[:i], age_labels[int(row["_age"])], *keys[i + 1 :])
        out.append((keys, [row["_n"], row["_never"]], None))
    return out


# --- holds -------------------------------------------------------------------------------


def holds_facts(
    *, branch_ids: set[int] | None, start: dt.date, end: dt.date, period: str | None, dims
) -> list[Fact]:
    """Placed (by the day placed) and closed holds (by the day closed); no patron is read."""
    first, after = _local_bounds(start, end)
    fields = {"branch": "pickup_branch_id"}
    kinds = {"branch": "branch"}
    width = 7
    out: list[Fact] = []
    placed = Hold.objects.filter(placed_at__gte=first, placed_at__lt=after)
    closed = Hold.objects.filter(
        closed_at__gte=first,
        closed_at__lt=after,
        status__in=[HoldStatus.FILLED, HoldStatus.EXPIRED, HoldStatus.CANCELLED],
    )
    if branch_ids is not None:
        placed = placed.filter(pickup_branch_id__in=branch_ids)
        closed = closed.filter(pickup_branch_id__in=branch_ids)
    for keys, _m, row in _grouped(
        placed,
        period=period,
        period_expr=_period_of_moment("placed_at", period) if period else None,
        dims=dims,
        fields=fields,
        kinds=kinds,
    ):
        values = [0] * width
        values[0] = row["_n"]
        out.append((keys, values, None))
    soon = dt.timedelta(days=7)
    month = dt.timedelta(days=30)
    for keys, status, row in _grouped(
        closed,
        period=period,
        period_expr=_period_of_moment("closed_at", period) if period else None,
        dims=dims,
        fields=fields,
        kinds=kinds,
        measure_field="status",
        aggregate={
            "_n": Count("pk"),
            "_7": Count("pk", filter=Q(closed_at__lte=F("placed_at") + soon)),
            "_30": Count(
                "pk",
                filter=Q(
                    closed_at__gt=F("placed_at") + soon, closed_at__lte=F("placed_at") + month
                ),
            ),
            "_later": Count("pk", filter=Q(closed_at__gt=F("placed_at") + month)),
        },
    ):
        values = [0] * width
        if status == HoldStatus.FILLED:
            values[1:5] = [row["_n"], row["_7"], row["_30"], row["_later"]]
        elif status == HoldStatus.EXPIRED:
            values[5] = row["_n"]
        else:
            values[6] = row["_n"]
        out.append((keys, values, None))
    return out


# --- fees --------------------------------------------------------------------------------

FEE_MEASURES = {"charge": 0, "payment": 1, "waiver": 2, "refund": 3}


def fees_facts(
    *, branch_ids: set[int] | None, start: dt.date, end: dt.date, period: str | None, dims
) -> list[Fact]:
    """Sums of ledger lines by kind (amounts only, in minor units); the count of lines
    summed is what small-cell suppression looks at."""
    first, after = _local_bounds(start, end)
    qs = FeeTransaction.objects.filter(at__gte=first, at__lt=after)
    if branch_ids is not None:
        qs = qs.filter(fee__branch_id__in=branch_ids)
    out: list[Fact] = []
    for keys, kind, row in _grouped(
        qs,
        period=period,
        period_expr=_period_of_moment("at", period) if period else None,
        dims=dims,
        fields={"branch": "fee__branch_id", "type": "fee__type"},
        kinds={"type": "fee_type"},
        measure_field="kind",
        aggregate={"_n": Count("pk"), "_sum": Sum("amount_minor")},
    ):
        values, counts = [0] * 4, [0] * 4
        i = FEE_MEASURES[kind]
        values[i] = abs(int(row["_sum"] or 0))
        counts[i] = row["_n"]
        out.append((keys, values, counts))
    return out


# --- patrons -----------------------------------------------------------------------------


def patrons_facts(
    *, branch_ids: set[int] | None, start: dt.date, end: dt.date, period: str | None, dims
) -> list[Fact]:
    """Registrations (by the day registered), expiries (by expiry date) and active
    borrowers (by the month of their last loan or renewal, RPT-1). Counts only."""
    first, after = _local_bounds(start, end)
    base = Patron.objects.all()
    if branch_ids is not None:
        base = base.filter(home_branch_id__in=branch_ids)
    fields = {"group": "group_id", "branch": "home_branch_id"}
    kinds = {"group": "patron_group", "branch": "branch"}
    parts = [
        (
            base.filter(created_at__gte=first, created_at__lt=after),
            _period_of_moment("created_at", period) if period else None,
        ),
        (
            base.filter(expiry_date__gte=start, expiry_date__lte=end),
            _period_of_date("expiry_date", period) if period else None,
        ),
        (
            base.filter(last_active_month__gte=start.replace(day=1), last_active_month__lte=end),
            _period_of_date("last_active_month", period) if period else None,
        ),
    ]
    out: list[Fact] = []
    for i, (qs, expr) in enumerate(parts):
        for keys, _m, row in _grouped(
            qs, period=period, period_expr=expr, dims=dims, fields=fields, kinds=kinds
        ):
            values = [0, 0, 0]
            values[i] = row["_n"]
            out.append((keys, values, None))
    return out


# --- notices -----------------------------------------------------------------------------

NOTICE_MEASURES = {"sent": 0, "failed": 1, "undeliverable": 2}


def notices_facts(
    *, branch_ids: set[int] | None, start: dt.date, end: dt.date, period: str | None, dims
) -> list[Fact]:
    """From the per-day counts that are all that is left of sent notices (PRV-NOT-1)."""
    del branch_ids  # notices belong to no branch; the counts are library-wide
    qs = NoticeDailyCount.objects.filter(
        day__gte=start, day__lte=end, outcome__in=list(NOTICE_MEASURES)
    )
    out: list[Fact] = []
    for keys, outcome, row in _grouped(
        qs,
        period=period,
        period_expr=_period_of_date("day", period) if period else None,
        dims=dims,
        fields={"type": "notice_type", "channel": "channel"},
        kinds={"type": "notice_type"},
        measure_field="outcome",
        aggregate={"_n": Sum("count")},
    ):
        values = [0, 0, 0]
        values[NOTICE_MEASURES[outcome]] = int(row["_n"] or 0)
        out.append((keys, values, None))
    return out


FACTS = {
    "circulation": circulation_facts,
    "holds": holds_facts,
    "fees": fees_facts,
    "patrons": patrons_facts,
    "notices": notices_facts,
}


# --- reports with personal data (reports.view_personal_reports) ----------------------------


def _patron_bits(patron_ids) -> dict:
    """Name and preferred phone of each patron, their keys fetched in one query."""
    from django.db.models import Prefetch

    from quietshelf.patrons.models import ContactPoint
    from quietshelf.patrons.selectors import warm_keys

    patrons = list(
        Patron.objects.filter(pk__in=set(patron_ids)).prefetch_related(
            Prefetch(
                "contacts",
                queryset=ContactPoint.objects.filter(kind="phone").order_by(
                    "-preferred", "created_at"
                ),
                to_attr="phones",
            )
        )
    )
    warm_keys([p.subject_id for p in patrons])
    return {
        p.pk: {"name": p.sort_name, "phone": p.phones[0].value if p.phones else ""} for p in patrons
    }


def overdue_list(*, branch_ids: set[int] | None, now: dt.datetime, min_days: int) -> list[dict]:
    """Open loans overdue by at least `min_days`, with whom to phone (staff only)."""
    from quietshelf.circulation.models import Loan

    qs = (
        Loan.objects.filter(
            returned_at__isnull=True,
            patron__isnull=False,
            due_at__lt=now - dt.timedelta(days=min_days),
        )
        .select_related("item__record", "branch")
        .defer("item__record__marc_json")
        .order_by("due_at")
    )
    if branch_ids is not None:
        qs = qs.filter(branch_id__in=branch_ids)
    loans = list(qs[:5000])
    people = _patron_bits(loan.patron_id for loan in loans)
    today = timezone.localtime(now).date()
    return [
        {
            "patron": people.get(loan.patron_id, {}).get("name", ""),
            "phone": people.get(loan.patron_id, {}).get("phone", ""),
            "title": loan.item.record.title,
            "barcode": loan.item.barcode,
            "branch": loan.branch.name,
            "due": timezone.localtime(loan.due_at).date(),
            "days_overdue": (today - timezone.localtime(loan.due_at).date()).days,
        }
        for loan in loans
    ]


def fees_above(*, branch_ids: set[int] | None, limit_minor: int) -> list[dict]:
    """Patrons whose unresolved fees add up to more than the limit (staff only)."""
    from quietshelf.circulation.models import Fee

    qs = Fee.objects.filter(resolved_at__isnull=True, patron__isnull=False)
    if branch_ids is not None:
        qs = qs.filter(branch_id__in=branch_ids)
    rows = (
        qs.values("patron_id")
        .annotate(balance=Sum("transactions__amount_minor"), fees=Count("pk", distinct=True))
        .filter(balance__gt=limit_minor)
        .order_by("-balance")[:5000]
    )
    rows = list(rows)
    people = _patron_bits(r["patron_id"] for r in rows)
    return [
        {
            "patron": people.get(r["patron_id"], {}).get("name", ""),
            "phone": people.get(r["patron_id"], {}).get("phone", ""),
            "fees": r["fees"],
            "balance_minor": int(r["balance"] or 0),
        }
        for r in rows
    ]


# --- search statistics (PRV-SEP-1) --------------------------------------------------------


def search_facts(
    *, branch_ids: set[int] | None, start: dt.date, end: dt.date, period: str | None, dims
) -> list[Fact]:
    """Searches and searches that found nothing, per period (library-wide counts)."""
    from quietshelf.reports.models import SearchDailyCount

    del branch_ids, dims  # searches belong to no branch and have no other grouping
    qs = SearchDailyCount.objects.filter(day__gte=start, day__lte=end)
    out: list[Fact] = []
    for keys, _m, row in _grouped(
        qs,
        period=period,
        period_expr=_period_of_date("day", period) if period else None,
        dims=[],
        fields={},
        aggregate={"_s": Sum("searches"), "_z": Sum("zero_results")},
    ):
        out.append((keys, [int(row["_s"] or 0), int(row["_z"] or 0)], None))
    return out


def zero_result_terms(*, start: dt.date, end: dt.date, k: int, limit: int = 25):
    """The commonest texts that found nothing, each used at least k times (the rest
    are only counted): ([(term, count)], how many searches the hidden terms made)."""
    from quietshelf.reports.models import ZeroResultTerm

    rows = (
        ZeroResultTerm.objects.filter(day__gte=start, day__lte=end)
        .values("term")
        .annotate(n=Sum("count"))
        .order_by("-n", "term")
    )
    shown, hidden = [], 0
    for row in rows:
        if row["n"] >= k and len(shown) < limit:
            shown.append((row["term"], int(row["n"])))
        else:
            hidden += int(row["n"])
    return shown, hidden


FACTS["search"] = search_facts


# --- weeding candidates (collection) ------------------------------------------------------


def weeding_candidates(
    *, branch_ids: set[int] | None, before: dt.date, limit: int = 5000
) -> list[dict]:
    """Items that have not circulated since `before` (by the day kept on the item, never
    from loans), oldest activity first; items never lent count when added before it."""
    tz = timezone.get_current_timezone()
    added_before = dt.datetime.combine(before, dt.time(), tzinfo=tz)
    qs = (
        Item.objects.filter(
            Q(last_activity_on__lt=before)
            | Q(last_activity_on__isnull=True, created_at__lt=added_before)
        )
        .exclude(status__in=[ItemStatus.WITHDRAWN, ItemStatus.LOST])
        .select_related("record", "branch", "item_type")
        .defer("record__marc_json")
        .order_by(F("last_activity_on").asc(nulls_first=True), "branch__name", "call_number")
    )
    if branch_ids is not None:
        qs = qs.filter(branch_id__in=branch_ids)
    return [
        {
            "branch": item.branch.name,
            "call_number": item.call_number,
            "title": item.record.title,
            "barcode": item.barcode,
            "item_type": item.item_type.name,
            "last_activity": item.last_activity_on,
        }
        for item in qs[:limit]
    ]


# --- hold queues (now) --------------------------------------------------------------------

QUEUE_BUCKETS = ((1, "1"), (2, "2–4"), (5, "5–9"), (10, "10+"))


def hold_queue_facts(*, branch_ids: set[int] | None, today: dt.date, dims) -> list[Fact]:
    """Titles by how many holds wait for them now, and those holds (no patron read)."""
    del today
    qs = Hold.objects.filter(status=HoldStatus.WAITING)
    if branch_ids is not None:
        qs = qs.filter(pickup_branch_id__in=branch_ids)
    out: list[Fact] = []
    for row in qs.values("record_id").annotate(n=Count("pk")).order_by():
        label = next(lab for low, lab in reversed(QUEUE_BUCKETS) if row["n"] >= low)
        keys = (label,) if "length" in dims else ()
        out.append((keys, [1, row["n"]], None))
    return out


def holds_to_pull(*, branch_ids: set[int] | None, today: dt.date) -> list[dict]:
    """Waiting holds that an available copy on the shelf can fill now, the oldest hold
    first, each with its own copy (staff only: names the patron)."""
    holds = list(
        Hold.objects.filter(status=HoldStatus.WAITING, patron__isnull=False)
        .filter(Q(suspended_until__isnull=True) | Q(suspended_until__lt=today))
        .select_related("pickup_branch")
        .order_by("placed_at", "id")[:5000]
    )
    copies: dict[int, list] = defaultdict(list)
    items = (
        Item.objects.filter(record_id__in={h.record_id for h in holds}, status=ItemStatus.AVAILABLE)
        .select_related("record", "branch")
        .defer("record__marc_json")
        .order_by("branch__name", "call_number", "barcode")
    )
    if branch_ids is not None:
        items = items.filter(branch_id__in=branch_ids)
    for item in items:
        copies[item.record_id].append(item)
    people = _patron_bits(h.patron_id for h in holds)
    out = []
    for hold in holds:
        pool = copies.get(hold.record_id) or []
        if hold.item_level:
            pool = [i for i in pool if i.pk == hold.item_id]
        if not pool:
            continue
        item = pool[0]
        copies[hold.record_id].remove(item)
        out.append(
            {
                "branch": item.branch.name,
                "call_number": item.call_number,
                "title": item.record.title,
                "barcode": item.barcode,
                "pickup": hold.pickup_branch.name,
                "patron": people.get(hold.patron_id, {}).get("name", ""),
                "placed": timezone.localtime(hold.placed_at).date(),
            }
        )
    out.sort(key=lambda r: (r["branch"], r["call_number"], r["barcode"]))
    return out
