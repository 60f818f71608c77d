"""The reports API: /api/v1/reports (staff) and /api/v1/statistics (anonymous).

Staff token or staff session with reports.view_reports (checked in the
services) for the live reports, as JSON or CSV; the anonymous routes answer
only the stored publication forms (PRV-AGG-1) and never run a query over the
facts. Mounted in api/main.py.
"""

from __future__ import annotations

import datetime as dt

from ninja import Field, Query, Router, Schema

from quietshelf.core.api_auth import staff_auth
from quietshelf.core.csvfile import csv_response
from quietshelf.core.schemas import ErrorOut
from quietshelf.reports import services
from quietshelf.reports.specs import REPORTS


class ReportInfo(Schema):
    slug: str
    title: str
    description: str
    groupings: list[str]
    periods: list[str]
    measures: list[str]


class RowOut(Schema):
    keys: list[str]
    values: list[int | None]
    suppressed: list[str] | None = None
    margin: int | None = None


class TableOut(Schema):
    report: str
    params: dict
    dimensions: list[str]
    measures: list[str]
    header: list[str]
    form: str
    k: int | None
    epsilon: float | None
    rows: list[RowOut]
    totals: list[RowOut]


class PublicationInfo(Schema):
    report: str
    title: str
    published_at: dt.datetime


class ReportParams(Schema):
    """Documented here; parsed by services.parse_request (one set of rules for all faces)."""

    from_: str | None = Field(None, alias="from")
    to: str | None = None
    period: str | None = None
    by: list[str] | None = None
    form: str | None = None
    k: str | None = None
    epsilon: str | None = None


ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


def _info(spec) -> dict:
    return {
        "slug": spec.slug,
        "title": str(spec.title),
        "description": str(spec.description),
        "groupings": list(spec.dims),
        "periods": list(spec.periods),
        "measures": list(spec.measure_keys()),
    }


def build_router() -> Router:
    router = Router(tags=["reports"], auth=staff_auth)

    @router.get("", response={200: list[ReportInfo], **ERRORS}, summary="The reports there are")
    def reports(request):
        services.require_reader(request.auth)
        return [_info(spec) for spec in REPORTS.values()]

    @router.get("/{slug}", response={200: TableOut, **ERRORS}, summary="Run a report")
    def report(request, slug: str, params: Query[ReportParams]):
        req = services.parse_request(slug, request.GET)
        return services.table_json(services.run_report(actor=request.auth, request=req))

    @router.get("/{slug}/csv", response={200: None, **ERRORS}, summary="A report as CSV")
    def report_csv(request, slug: str, params: Query[ReportParams]):
        req = services.parse_request(slug, request.GET)
        result = services.run_report(actor=request.auth, request=req)
        return csv_response(result.header, services.csv_rows(result), services.csv_filename(result))

    return router


def build_public_router() -> Router:
    router = Router(tags=["statistics"], auth=None)

    @router.get("", response={200: list[PublicationInfo]}, summary="Published statistics")
    def publications(request):
        return [
            {"report": p.report, "title": p.title, "published_at": p.published_at}
            for p in services.public_publications()
        ]

    @router.get("/{slug}", response={200: TableOut, 404: ErrorOut}, summary="One published report")
    def publication(request, slug: str):
        return services.public_publication(slug).publication.table

    return router


router = build_router()
public_router = build_public_router()
