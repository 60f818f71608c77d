"""The NinjaAPI at /api/v1/: each app's router is mounted here; errors mapped once.

OpenAPI 3 at /api/v1/openapi.json, browsable docs at /api/v1/docs.
"""

from __future__ import annotations

import json

from django.db import connection
from ninja import NinjaAPI, Schema
from ninja.parser import Parser

from quietshelf.api import errors
from quietshelf.catalog.api import router as catalog_router
from quietshelf.core.schemas import ErrorOut


class ObjectParser(Parser):
    """JSON bodies must be objects, as every request schema says: ninja would read a
    list or a number as an empty object and accept it (INT-3)."""

    def parse_body(self, request):
        data = json.loads(request.body)
        if not isinstance(data, dict):
            raise errors.NotAnObject
        return data


api = NinjaAPI(
    parser=ObjectParser(),
    title="Quietshelf API",
    version="1",
    description=(
        "The catalogue of a Quietshelf library. Reads are public; writes need a staff "
        "token: `Authorization: Bearer <token>` (made by `quietshelf create-api-token`). "
        'Every error is `{"error": {"code": "...", "message": "..."}}` with a 4xx status.'
    ),
    urls_namespace="api",
    docs_url="/docs",
)
errors.install(api)


class HealthOut(Schema):
    status: str
    database: str


@api.get("/health", tags=["system"], response={200: HealthOut, 503: ErrorOut})
def health(request):
    """Up, and the database answers; 503 with Retry-After (database_unavailable) when it
    does not."""
    with connection.cursor() as cursor:  # an unreachable database raises: 503
        cursor.execute("SELECT 1")
    return {"status": "ok", "database": "ok"}


api.add_router("/", catalog_router)
api.add_router("/", "quietshelf.portal.api.router")  # /me: the patron's own record
api.add_router("/patrons", "quietshelf.patrons.api.router")  # staff patron API
api.add_router("/circulation/me", "quietshelf.circulation.api.me_router")  # own loans
api.add_router("/circulation", "quietshelf.circulation.api.router")  # desk, self-check
api.add_router("/jobs", "quietshelf.jobs.api.router")  # scheduled jobs (staff)
api.add_router("/reports", "quietshelf.reports.api.router")  # reports (staff)
api.add_router("/statistics", "quietshelf.reports.api.public_router")  # published, anonymous
api.add_router("/privacy-office", "quietshelf.privacyoffice.api.router")  # DSR, canary
