"""Reports: run one (staff or publication form), publish one, and write its CSV.

A report request is parsed once (`parse_request`, bad input is
core.errors.InvalidInput), run against the de-identified facts
(selectors.py) within the actor's branch scope for reports.view_reports, and
turned into a policy.Table. The publication form (PRV-AGG-1) goes through
policy.publication_form; `publish` freezes that form in a Publication, which
is all the public statistics page and the anonymous API ever show.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from quietshelf.accounts.authz import branch_scope, has_perm, require
from quietshelf.core import clock
from quietshelf.core.dates import years_before
from quietshelf.core.errors import InvalidInput, NotFound, PermissionDenied
from quietshelf.privacy import audit
from quietshelf.reports import policy, selectors
from quietshelf.reports.models import Publication, SavedReport
from quietshelf.reports.specs import PERIOD_LABELS, REPORTS, ReportSpec

VIEW = "reports.view_reports"


def default_k() -> int:
    return policy.parse_k(getattr(settings, "QUIETSHELF_REPORTS_K", policy.DEFAULT_K))


@dataclass
class ReportRequest:
    slug: str
    start: dt.date | None
    end: dt.date | None
    period: str | None
    groups: list[str]
    publication: bool = False
    k: int = policy.DEFAULT_K
    epsilon: float | None = None

    def params(self) -> dict:
        """What identifies the request, for links, saved reports and publications."""
        out: dict = {"by": list(self.groups), "period": self.period or "none"}
        if self.start:
            out["from"] = self.start.isoformat()
            out["to"] = self.end.isoformat()
        if self.publication:
            out["form"] = "publication"
            out["k"] = self.k
            if self.epsilon is not None:
                out["epsilon"] = self.epsilon
        return out


@dataclass
class ReportResult:
    spec: ReportSpec
    request: ReportRequest
    table: policy.Table
    header: list[str] = field(default_factory=list)

    @property
    def dim_labels(self) -> list[str]:
        return self.header[: len(self.table.dims)]


def require_reader(actor) -> None:
    require(actor, VIEW)


def get_spec(slug: str) -> ReportSpec:
    spec = REPORTS.get(slug)
    if spec is None:
        raise NotFound("No such report.", code="report_not_found")
    return spec


def _one(data, name: str):
    """A single value from a QueryDict, a dict or None."""
    if data is None:
        return None
    getter = getattr(data, "get", None)
    value = getter(name) if getter else None
    if isinstance(value, list):
        value = value[-1] if value else None
    return value


def _many(data, name: str) -> list[str] | None:
    if data is None:
        return None
    if hasattr(data, "getlist"):
        return data.getlist(name) if name in data else None
    value = data.get(name)
    if value is None:
        return None
    return list(value) if isinstance(value, list | tuple) else [value]


def parse_request(slug: str, data, *, today: dt.date | None = None) -> ReportRequest:
    """A report request from query parameters (from, to, period, by, form, k, epsilon)."""
    spec = get_spec(slug)
    today = today or clock.today()
    groups_raw = _many(data, "by")
    groups = policy.parse_groups(
        spec.default_groups if groups_raw is None else groups_raw, allowed=tuple(spec.dims)
    )
    start = end = period = None
    if spec.dated:
        period_raw = _one(data, "period")
        period = policy.parse_period(
            spec.default_period if period_raw is None else period_raw, allowed=spec.periods
        )
        start = policy.parse_date(_one(data, "from"), what="start")
        end = policy.parse_date(_one(data, "to"), what="end")
        d_start, d_end = policy.default_range(today)
        start = start or (d_start if end is None else min(d_start, end))
        end = end or max(today, start)
        policy.validate_range(start, end, period=period)
    elif _one(data, "period") not in (None, "", "none"):
        raise InvalidInput(
            "This report is a picture of today; it has no period.", code="unknown_grouping"
        )
    form = _one(data, "form") or "staff"
    if form not in ("staff", "publication"):
        raise InvalidInput("form is 'staff' or 'publication'.", code="invalid_form")
    publication = form == "publication"
    k_raw, eps_raw = _one(data, "k"), _one(data, "epsilon")
    k = policy.parse_k(k_raw) if k_raw not in (None, "") else default_k()
    epsilon = policy.parse_epsilon(eps_raw) if eps_raw not in (None, "") else None
    if epsilon is not None and not all(m.count for m in spec.measures):
        raise InvalidInput(
            "Noise is added to counts only; this report sums amounts of money.",
            code="invalid_epsilon",
        )
    return ReportRequest(slug, start, end, period, groups, publication, k, epsilon)


def _facts(spec: ReportSpec, req: ReportRequest, branch_ids, today: dt.date):
    if spec.slug == "collection":
        return selectors.collection_facts(branch_ids=branch_ids, today=today, dims=req.groups)
    if spec.slug == "hold-queues":
        return selectors.hold_queue_facts(branch_ids=branch_ids, today=today, dims=req.groups)
    return selectors.FACTS[spec.slug](
        branch_ids=branch_ids, start=req.start, end=req.end, period=req.period, dims=req.groups
    )


def _build(spec: ReportSpec, req: ReportRequest, branch_ids, *, rng=None, today=None):
    today = today or clock.today()
    dims = ([req.period] if req.period else []) + req.groups
    fill = None
    if req.period and not req.groups:
        fill = [
            [
                policy.period_label(p, req.period)
                for p in policy.periods_between(req.start, req.end, req.period)
            ]
        ]
    table = policy.build_table(
        dims, spec.measure_keys(), _facts(spec, req, branch_ids, today), fill=fill
    )
    if req.publication:
        policy.publication_form(
            table,
            k=req.k,
            epsilon=req.epsilon,
            rng=rng,
            noisy=[m.count for m in spec.measures],
        )
    header = [str(PERIOD_LABELS[req.period])] if req.period else []
    header += [str(spec.dims[g]) for g in req.groups]
    header += [str(m.label) for m in spec.measures]
    return ReportResult(spec, req, table, header)


def run_report(*, actor, request: ReportRequest, rng: random.Random | None = None) -> ReportResult:
    """The report within the actor's branch scope (reports.view_reports)."""
    require(actor, VIEW)
    spec = get_spec(request.slug)
    scope = branch_scope(actor, VIEW)
    return _build(spec, request, scope, rng=rng)


# --- output ------------------------------------------------------------------------------


def cell_texts(result: ReportResult, row: policy.Row) -> list[str]:
    t = result.table
    if not t.published:
        return [str(v) for v in row.values]
    return [policy.cell_text(row, i, k=t.k) for i in range(len(t.measures))]


def display_rows(result: ReportResult) -> tuple[list[dict], list[dict]]:
    """Rows and totals as the pages show them: key labels and cell texts."""
    rows = [{"keys": row.keys, "cells": cell_texts(result, row)} for row in result.table.rows]
    totals = [
        {"keys": total_label(result, row), "cells": cell_texts(result, row)}
        for row in result.table.totals
    ]
    return rows, totals


def total_label(result: ReportResult, row: policy.Row) -> list[str]:
    keys = list(row.keys)
    if row.margin is None:
        return [_("Total")] + [""] * (len(keys) - 1) if keys else []
    return [k if k else _("all") for k in keys]


def csv_rows(result: ReportResult) -> list[list]:
    """Rows then totals, as the CSV writes them (numbers stay numbers)."""
    out: list[list] = []
    for row in result.table.rows:
        out.append([*row.keys, *_csv_cells(result, row)])
    for row in result.table.totals:
        out.append([*total_label(result, row), *_csv_cells(result, row)])
    return out


def _csv_cells(result: ReportResult, row: policy.Row) -> list:
    if not result.table.published:
        return list(row.values)
    return [
        row.values[i] if not row.marks[i] else policy.cell_text(row, i, k=result.table.k)
        for i in range(len(result.table.measures))
    ]


def csv_filename(result: ReportResult) -> str:
    req = result.request
    form = "-publication" if req.publication else ""
    span = f"-{req.start:%Y%m%d}-{req.end:%Y%m%d}" if req.start else ""
    return f"{req.slug}{span}{form}.csv"


def table_json(result: ReportResult) -> dict:
    """The table as the API answers and a Publication stores it."""
    t = result.table

    def cells(row: policy.Row) -> list:
        if not t.published:
            return list(row.values)
        return [row.values[i] if not row.marks[i] else None for i in range(len(t.measures))]

    def marks(row: policy.Row) -> list | None:
        if not t.published:
            return None
        return [
            policy.cell_text(row, i, k=t.k) if row.marks[i] else "" for i in range(len(t.measures))
        ]

    def one(row: policy.Row) -> dict:
        out = {"keys": list(row.keys), "values": cells(row)}
        if t.published:
            out["suppressed"] = marks(row)
        return out

    return {
        "report": result.spec.slug,
        "params": result.request.params(),
        "dimensions": list(t.dims),
        "measures": list(t.measures),
        "header": result.header,
        "form": "publication" if t.published else "staff",
        "k": t.k,
        "epsilon": t.epsilon,
        "rows": [one(r) for r in t.rows],
        "totals": [dict(one(r), margin=r.margin) for r in t.totals],
    }


def result_from_json(data: dict) -> ReportResult:
    """A stored publication back as a result the pages and CSV can show."""
    spec = get_spec(data["report"])
    params = data.get("params") or {}
    req = ReportRequest(
        spec.slug,
        policy.parse_date(params.get("from"), what="start"),
        policy.parse_date(params.get("to"), what="end"),
        None if params.get("period") in (None, "none") else params["period"],
        list(params.get("by") or []),
        True,
        int(data.get("k") or policy.DEFAULT_K),
        data.get("epsilon"),
    )
    width = len(data["measures"])

    def row(d: dict) -> policy.Row:
        values = [v if v is not None else 0 for v in d["values"]]
        marks = [
            "" if not s else (policy.MARK_COMPLEMENTARY if s == "x" else policy.MARK_PRIMARY)
            for s in (d.get("suppressed") or [""] * width)
        ]
        return policy.Row(tuple(d["keys"]), values, list(values), marks, d.get("margin"))

    table = policy.Table(
        tuple(data["dimensions"]),
        tuple(data["measures"]),
        [row(r) for r in data["rows"]],
        [row(r) for r in data["totals"]],
        published=True,
        k=req.k,
        epsilon=req.epsilon,
    )
    return ReportResult(spec, req, table, list(data["header"]))


def search_terms(*, actor, request: ReportRequest) -> tuple[list[tuple[str, int]], int]:
    """The commonest search texts that found nothing in the range, each used by at least
    k searches (k of the request, default 5); the rest only as a count (PRV-SEP-1)."""
    require(actor, VIEW)
    return selectors.zero_result_terms(start=request.start, end=request.end, k=request.k)


# --- charts ------------------------------------------------------------------------------


@dataclass
class Charts:
    line: policy.Chart | None = None
    line_title: str = ""
    bars: policy.Chart | None = None
    bars_title: str = ""


def charts(result: ReportResult) -> Charts:
    """A line over time (when grouped by period) and bars by the first grouping,
    of the first measure, from the margins (suppressed values are gaps)."""
    t = result.table
    out = Charts()
    if not t.rows or not t.measures:
        return out
    measure = str(result.spec.measures[0].label)
    has_period = result.request.period is not None
    if has_period:
        out.line = policy.line_chart(policy.series(t, 0, 0))
        out.line_title = _("%(measure)s by %(dim)s") % {
            "measure": measure,
            "dim": result.header[0].lower(),
        }
    first_group = 1 if has_period else 0
    if len(t.dims) > first_group:
        points = policy.series(t, first_group, 0)[:40]
        out.bars = policy.bar_chart(points)
        out.bars_title = _("%(measure)s by %(dim)s") % {
            "measure": measure,
            "dim": result.header[first_group].lower(),
        }
    return out


# --- publications ------------------------------------------------------------------------


@transaction.atomic(durable=True)
def publish(*, actor, request: ReportRequest, public: bool) -> Publication:
    """Freeze the publication form of a report (PRV-AGG-1); shown on /statistics/ if public.

    A report is published in its publication form only, whatever the request
    said; an earlier public publication of the same report stops being public,
    so the statistics page shows one table per report.
    """
    require(actor, VIEW)
    if branch_scope(actor, VIEW) is not None:
        raise PermissionDenied(
            "Only staff who may read reports for the whole library can publish them.",
            details={"permission": VIEW},
        )
    request.publication = True
    result = _build(get_spec(request.slug), request, None)
    if public:
        Publication.objects.filter(report=request.slug, public=True).update(public=False)
    pub = Publication.objects.create(
        report=request.slug,
        title=str(result.spec.title),
        params=request.params(),
        k=request.k,
        epsilon=request.epsilon,
        table=table_json(result),
        public=public,
        published_at=clock.now(),
    )
    audit.record(actor=actor, action="published", obj=pub, reason=f"report {request.slug}")
    return pub


@transaction.atomic(durable=True)
def unpublish(*, actor, publication_id) -> Publication:
    require(actor, VIEW)
    pub = Publication.objects.filter(pk=_uuid(publication_id)).first()
    if pub is None:
        raise NotFound("No such publication.", code="publication_not_found")
    if pub.public:
        pub.public = False
        pub.save(update_fields=["public"])
        audit.record(actor=actor, action="unpublished", obj=pub, reason=f"report {pub.report}")
    return pub


def _uuid(value):
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError):
        raise NotFound("No such publication.", code="publication_not_found") from None


def public_publications() -> list[Publication]:
    """What the public statistics page lists: one public publication per report."""
    return list(Publication.objects.filter(public=True).defer("table").order_by("report"))


def public_publication(slug: str) -> ReportResult:
    pub = Publication.objects.filter(public=True, report=slug).order_by("-published_at").first()
    if pub is None:
        raise NotFound("This report is not published.", code="report_not_published")
    result = result_from_json(pub.table)
    result.publication = pub  # type: ignore[attr-defined]
    return result


def publications(*, actor) -> list[Publication]:
    require(actor, VIEW)
    return list(Publication.objects.defer("table").order_by("-published_at")[:50])


# --- weeding candidates -----------------------------------------------------------------


def parse_before(data, *, today: dt.date | None = None) -> dt.date:
    """The `before` date of the weeding list (default: three years ago)."""
    today = today or clock.today()
    before = policy.parse_date(_one(data, "before"), what="'not since'")
    if before is None:
        return years_before(today, 3)
    if before > today:
        raise InvalidInput("The date must not be in the future.", code="invalid_date")
    return before


def weeding(*, actor, before: dt.date) -> PersonalReport:
    """Items not circulated since `before` (no personal data: items only)."""
    require(actor, VIEW)
    rows = selectors.weeding_candidates(branch_ids=branch_scope(actor, VIEW), before=before)
    columns = [
        _("Branch"), _("Call number"), _("Title"), _("Item barcode"), _("Item type"),
        _("Last circulated"),
    ]  # fmt: skip
    keys = ["branch", "call_number", "title", "barcode", "item_type", "last_activity"]
    return PersonalReport(
        "weeding",
        _("Weeding candidates"),
        columns,
        [[r[k] if r[k] is not None else "—" for k in keys] for r in rows],
        {"before": before},
    )


# --- saved reports ------------------------------------------------------------------------

MAX_SAVED = 200


@transaction.atomic(durable=True)
def save_report(*, actor, name: str, request: ReportRequest) -> SavedReport:
    """Keep a report with its grouping and range in the actor's own list."""
    require(actor, VIEW)
    name = " ".join((name or "").split())[:100]
    if not name:
        raise InvalidInput("Give the saved report a name.", code="invalid_name")
    if SavedReport.objects.filter(owner_id=actor.pk).count() >= MAX_SAVED:
        raise InvalidInput(f"At most {MAX_SAVED} saved reports each.", code="too_many")
    return SavedReport.objects.create(
        owner_id=actor.pk,
        name=name,
        report=request.slug,
        params=request.params(),
        created_at=clock.now(),
    )


def saved_reports(*, actor) -> list[SavedReport]:
    """The actor's own saved reports (nobody sees another's list)."""
    require(actor, VIEW)
    return list(SavedReport.objects.filter(owner_id=actor.pk).order_by("name"))


@transaction.atomic(durable=True)
def delete_saved(*, actor, saved_id) -> None:
    require(actor, VIEW)
    try:
        pk = uuid.UUID(str(saved_id))
    except (ValueError, TypeError):
        raise NotFound("No such saved report.", code="saved_not_found") from None
    if not SavedReport.objects.filter(pk=pk, owner_id=actor.pk).delete()[0]:
        raise NotFound("No such saved report.", code="saved_not_found")


def saved_url_query(saved: SavedReport) -> str:
    from django.utils.http import urlencode

    # a fixed order (PostgreSQL's jsonb keeps keys in its own order)
    order = ["from", "to", "period", "by", "form", "k", "epsilon"]
    items = [(key, saved.params[key]) for key in order if key in saved.params]
    return urlencode(items, doseq=True)


# --- reports with personal data (PRV-ACC-1) ----------------------------------------------

PERSONAL = "reports.view_personal_reports"
PERSONAL_TYPE = "reports.personal_report"
MAX_LIMIT_MINOR = 10**9


@dataclass
class PersonalReport:
    slug: str
    title: str
    columns: list[str]
    rows: list[list]
    filters: dict


def personal_titles() -> dict[str, str]:
    return {
        "overdue": _("Overdue loans to phone"),
        "fees-above": _("Patrons with fees above a limit"),
        "holds-to-pull": _("Holds to pull from the shelves"),
    }


def _int_param(data, name: str, *, default: int, low: int, high: int, what: str) -> int:
    raw = _one(data, name)
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise InvalidInput(f"{what} must be a whole number.", code="invalid_filter") from None
    if not low <= value <= high:
        raise InvalidInput(f"{what} must be between {low} and {high}.", code="invalid_filter")
    return value


def parse_personal(slug: str, data) -> dict:
    if slug not in personal_titles():
        raise NotFound("No such report.", code="report_not_found")
    if slug == "overdue":
        return {"days": _int_param(data, "days", default=1, low=0, high=3650, what="Days overdue")}
    if slug == "holds-to-pull":
        return {}
    default = int(getattr(settings, "QUIETSHELF_FINE_BLOCK_LIMIT_MINOR", 0) or 10000)
    return {
        "limit": _int_param(
            data, "limit", default=default, low=0, high=MAX_LIMIT_MINOR, what="The limit"
        )
    }


def _filter_reason(slug: str, filters: dict, scope) -> str:
    # ids and numbers only; digits grouped so that no value looks like a card number
    parts = [slug] + [f"{k}={v:_}" for k, v in sorted(filters.items())]
    parts.append("branches=all" if scope is None else f"branches={len(scope)}")
    return " ".join(parts)


def run_personal(*, actor, slug: str, filters: dict, download: bool = False) -> PersonalReport:
    """A list that names patrons: only with reports.view_personal_reports, and every run
    (and every download) is an audit entry with the filter used (PRV-ACC-1). A refusal
    is audited too."""
    if slug not in personal_titles():
        raise NotFound("No such report.", code="report_not_found")
    if not has_perm(actor, PERSONAL):
        with transaction.atomic(durable=True):
            audit.record(
                actor=actor,
                action="denied",
                object_type=PERSONAL_TYPE,
                object_id=slug,
                reason=PERSONAL,
            )
        raise PermissionDenied(
            "You do not have permission for this.", details={"permission": PERSONAL}
        )
    scope = branch_scope(actor, PERSONAL)
    with transaction.atomic(durable=True):
        if slug == "overdue":
            found = selectors.overdue_list(
                branch_ids=scope, now=clock.now(), min_days=filters["days"]
            )
            columns = [
                _("Patron"), _("Phone"), _("Title"), _("Item barcode"), _("Branch"),
                _("Due"), _("Days overdue"),
            ]  # fmt: skip
            keys = ["patron", "phone", "title", "barcode", "branch", "due", "days_overdue"]
        elif slug == "holds-to-pull":
            found = selectors.holds_to_pull(branch_ids=scope, today=clock.today())
            columns = [
                _("Branch"), _("Call number"), _("Title"), _("Item barcode"),
                _("Pickup branch"), _("Patron"), _("Placed"),
            ]  # fmt: skip
            keys = ["branch", "call_number", "title", "barcode", "pickup", "patron", "placed"]
        else:
            found = selectors.fees_above(branch_ids=scope, limit_minor=filters["limit"])
            columns = [_("Patron"), _("Phone"), _("Fees"), _("Balance (minor units)")]
            keys = ["patron", "phone", "fees", "balance_minor"]
        audit.record(
            actor=actor,
            action="exported" if download else "viewed",
            object_type=PERSONAL_TYPE,
            object_id=slug,
            reason=_filter_reason(slug, filters, scope),
        )
    rows = [[row[k] for k in keys] for row in found]
    return PersonalReport(slug, personal_titles()[slug], columns, rows, filters)


# --- scheduled report mail (RPT-1, PRV-AGG-1) --------------------------------------------

MAX_SCHEDULES = 50
MAX_RECIPIENTS = 20


def _own_saved(actor, saved_id) -> SavedReport:
    try:
        pk = uuid.UUID(str(saved_id))
    except (ValueError, TypeError):
        raise NotFound("No such saved report.", code="saved_not_found") from None
    saved = SavedReport.objects.filter(pk=pk, owner_id=actor.pk).first()
    if saved is None:
        raise NotFound("No such saved report.", code="saved_not_found")
    return saved


def _refuse_personal(actor, slug: str) -> None:
    """A list that names patrons never leaves the staff pages by mail (PRV-ACC-1): the
    attempt is refused and audited, whoever asks."""
    with transaction.atomic():
        audit.record(
            actor=actor,
            action="denied",
            object_type=PERSONAL_TYPE,
            object_id=slug,
            reason="scheduled mail of a report with personal data",
        )
    raise PermissionDenied(
        "Reports with personal data are never sent by e-mail.",
        details={"permission": PERSONAL},
    )


def _recipients(actor, usernames: list[str], include_me: bool) -> list:
    from quietshelf.accounts.models import StaffUser

    found = [actor] if include_me else []
    for raw in usernames:
        name = " ".join(str(raw).split())
        if not name:
            continue
        user = StaffUser.objects.filter(username=name, is_active=True).first()
        if user is None or not has_perm(user, VIEW):
            raise InvalidInput(
                f"No staff account called {name[:60]!r} may read reports.",
                code="invalid_recipient",
            )
        if all(u.pk != user.pk for u in found):
            found.append(user)
    if not found:
        raise InvalidInput("Choose at least one recipient.", code="invalid_recipient")
    if len(found) > MAX_RECIPIENTS:
        raise InvalidInput(f"At most {MAX_RECIPIENTS} recipients.", code="invalid_recipient")
    return found


def schedule_create(
    *,
    actor,
    saved_id,
    frequency: str,
    window: str,
    recipients: list[str] | None = None,
    include_me: bool = True,
    language: str = "en",
    today: dt.date | None = None,
):
    """Mail one of the actor's saved reports in its publication form, daily, weekly or
    monthly, to the actor and/or colleagues who may read reports (usernames)."""
    require(actor, VIEW)
    saved = _own_saved(actor, saved_id)
    if saved.report in personal_titles():
        _refuse_personal(actor, saved.report)  # audited in its own transaction
    return _schedule_create(
        actor=actor,
        saved=saved,
        frequency=frequency,
        window=window,
        recipients=recipients,
        include_me=include_me,
        language=language,
        today=today,
    )


@transaction.atomic(durable=True)
def _schedule_create(*, actor, saved, frequency, window, recipients, include_me, language, today):
    from quietshelf.reports.models import ReportSchedule, ReportScheduleRecipient

    parse_request(saved.report, saved.params)  # the saved parameters still make a report
    frequency = policy.parse_frequency(frequency)
    window = policy.parse_window(window)
    people = _recipients(actor, list(recipients or []), include_me)
    if ReportSchedule.objects.filter(owner_id=actor.pk).count() >= MAX_SCHEDULES:
        raise InvalidInput(f"At most {MAX_SCHEDULES} schedules each.", code="too_many")
    today = today or clock.today()
    schedule = ReportSchedule.objects.create(
        owner_id=actor.pk,
        saved=saved,
        frequency=frequency,
        window=window,
        language=language if language in ("en", "nb") else "en",
        next_run_on=policy.next_run_after(frequency, today),
        created_at=clock.now(),
    )
    ReportScheduleRecipient.objects.bulk_create(
        [ReportScheduleRecipient(schedule=schedule, staff_id=u.pk) for u in people]
    )
    audit.record(
        actor=actor,
        action="created",
        obj=schedule,
        reason=f"report mail {saved.report} {frequency} to {len(people)} staff",
    )
    return schedule


@dataclass
class ScheduleRow:
    schedule: object
    recipients: list[str]  # usernames
    without_address: int  # recipients who gave no address for staff mail


def schedules(*, actor) -> list[ScheduleRow]:
    """The actor's own schedules with their recipients' usernames."""
    from quietshelf.notices.services import staff_with_mail_address
    from quietshelf.reports.models import ReportSchedule

    require(actor, VIEW)
    rows = list(
        ReportSchedule.objects.filter(owner_id=actor.pk)
        .select_related("saved")
        .prefetch_related("recipients__staff")
    )
    ids = {r.staff_id for s in rows for r in s.recipients.all()}
    with_address = staff_with_mail_address(ids) if ids else set()
    return [
        ScheduleRow(
            s,
            sorted(str(r.staff.username) for r in s.recipients.all()),
            sum(1 for r in s.recipients.all() if r.staff_id not in with_address),
        )
        for s in rows
    ]


def schedules_to_me(*, actor) -> list:
    """Schedules of colleagues that mail the actor (so they can stop them)."""
    from quietshelf.reports.models import ReportSchedule

    require(actor, VIEW)
    return list(
        ReportSchedule.objects.filter(recipients__staff_id=actor.pk)
        .exclude(owner_id=actor.pk)
        .select_related("saved")
    )


def _schedule_uuid(value):
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError):
        raise NotFound("No such schedule.", code="schedule_not_found") from None


@transaction.atomic(durable=True)
def schedule_delete(*, actor, schedule_id) -> None:
    from quietshelf.reports.models import ReportSchedule

    require(actor, VIEW)
    schedule = ReportSchedule.objects.filter(
        pk=_schedule_uuid(schedule_id), owner_id=actor.pk
    ).first()
    if schedule is None:
        raise NotFound("No such schedule.", code="schedule_not_found")
    audit.record(actor=actor, action="deleted", obj=schedule, reason="report mail schedule")
    schedule.delete()


@transaction.atomic(durable=True)
def schedule_leave(*, actor, schedule_id) -> None:
    """A recipient stops a colleague's schedule from mailing them."""
    from quietshelf.reports.models import ReportScheduleRecipient

    require(actor, VIEW)
    gone = ReportScheduleRecipient.objects.filter(
        schedule_id=_schedule_uuid(schedule_id), staff_id=actor.pk
    ).delete()[0]
    if not gone:
        raise NotFound("No such schedule.", code="schedule_not_found")


def _noise_rng(schedule, req: ReportRequest) -> random.Random:
    """The same noise for the same schedule and range: a range mailed again (saved dates,
    every day) cannot be averaged over many mails to take the noise away."""
    import hashlib
    import hmac

    from quietshelf.privacy import keys

    seed = hmac.new(
        keys.derived_key("reports-mail-noise"),
        f"{schedule.pk}|{req.start}|{req.end}|{req.k}|{req.epsilon}".encode(),
        hashlib.sha256,
    ).digest()
    return random.Random(seed)  # noqa: S311 - seeded on purpose (reproducible noise)


def mail_text(result: ReportResult) -> str:
    """The publication-form table as plain text (rows past policy.MAIL_TEXT_ROWS are
    in the CSV only)."""
    rows, totals = display_rows(result)
    width = len(result.table.dims)
    shown = rows[: policy.MAIL_TEXT_ROWS]
    lines = [[*r["keys"], *r["cells"]] for r in shown] + [[*r["keys"], *r["cells"]] for r in totals]
    text = policy.text_table(result.header, lines, key_width=width)
    if len(rows) > len(shown):
        text += "\n" + _("… and %(n)s more rows in the CSV file.") % {"n": len(rows) - len(shown)}
    return text


def _mail_data(schedule, result: ReportResult) -> dict:
    """What the mail says (the caller has the schedule's language active)."""
    req = result.request
    return {
        "language": schedule.language,
        "name": schedule.saved.name,
        "title": str(result.spec.title),
        "range": f"{req.start:%Y-%m-%d} – {req.end:%Y-%m-%d}" if req.start else "",
        "k": req.k,
        "table": mail_text(result),
        "csv": _csv_text(result),
        "filename": csv_filename(result),
        "url": f"{settings.QUIETSHELF_SITE_URL.rstrip('/')}/staff/reports/schedules/",
    }


def _csv_text(result: ReportResult) -> str:
    from quietshelf.core.csvfile import csv_text

    return csv_text(result.header, csv_rows(result))


def _run_schedule(schedule, today: dt.date) -> int:
    """Queue this schedule's mail for each recipient who may still read reports, each
    in their own branch scope, in the publication form. Returns how many were queued."""
    from dataclasses import replace

    from django.utils import translation

    from quietshelf.notices.services import queue_staff_report

    saved = schedule.saved
    if saved.report in personal_titles():
        raise PermissionDenied("Reports with personal data are never sent by e-mail.")
    spec = get_spec(saved.report)
    base = parse_request(saved.report, saved.params, today=today)
    queued = 0
    for link in schedule.recipients.select_related("staff"):
        staff = link.staff
        if not staff.is_active or not has_perm(staff, VIEW):
            continue  # left, or lost the permission: nothing goes to them
        req = replace(base, groups=list(base.groups), publication=True)
        if spec.dated:
            req.start, req.end = policy.mail_range(
                window=schedule.window,
                frequency=schedule.frequency,
                run_day=today,
                saved_start=base.start,
                saved_end=base.end,
            )
            policy.validate_range(req.start, req.end, period=req.period)
        scope = branch_scope(staff, VIEW)
        with translation.override(schedule.language):
            # titles, headers and "Total" in the language of the schedule
            result = _build(spec, req, scope, rng=_noise_rng(schedule, req), today=today)
            data = _mail_data(schedule, result)
        key = f"report:{schedule.pk}:{today.isoformat()}:{staff.pk}"
        queued += queue_staff_report(staff=staff, dedupe_key=key, data=data)
    return queued


def queue_scheduled_reports(*, today: dt.date | None = None) -> int:
    """The `report-mail` job: every schedule due today queues its mail (one transaction
    per schedule) and moves on to its next day; returns how many mails were queued.

    A schedule whose report fails (the saved grouping is no longer allowed, too many
    rows) keeps the error to show its owner and tries again at its next day."""
    from quietshelf.reports.models import ReportSchedule

    today = today or clock.today()
    queued = 0
    due = list(ReportSchedule.objects.filter(next_run_on__lte=today).values_list("pk", flat=True))
    for pk in due:
        with transaction.atomic(durable=True):
            schedule = (
                ReportSchedule.objects.select_for_update(of=("self",))
                .select_related("saved")
                .filter(pk=pk, next_run_on__lte=today)
                .first()
            )
            if schedule is None:
                continue  # deleted, or another run took it
            try:
                with transaction.atomic():
                    n = _run_schedule(schedule, today)
                error = ""
            except (InvalidInput, NotFound, PermissionDenied) as exc:
                n, error = 0, str(exc.message)[:200]
            schedule.last_run_on = today
            schedule.last_error = error
            schedule.next_run_on = policy.next_run_after(schedule.frequency, today)
            schedule.save(update_fields=["last_run_on", "last_error", "next_run_on"])
            audit.record(
                actor=None,
                action="exported",
                obj=schedule,
                reason=f"report mail {schedule.saved.report} to {n} staff",
            )
            queued += n
    return queued
