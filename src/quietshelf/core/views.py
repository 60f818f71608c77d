"""Generic error pages: nothing internal ever reaches a browser (SEC-ERR-1)."""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from quietshelf.core.i18n import query_language

_MESSAGES = {
    400: ("bad_request", gettext_noop("The request could not be understood.")),
    403: ("forbidden", gettext_noop("You do not have access to this.")),
    404: ("not_found", gettext_noop("Nothing was found at this address.")),
    500: (
        "server_error",
        gettext_noop("Something went wrong on our side. Please try again later."),
    ),
}


@query_language
def _error(request, status: int):
    code, message = _MESSAGES[status]
    if request.path.startswith("/api/"):
        return JsonResponse({"error": {"code": code, "message": message}}, status=status)
    return render(request, "error.html", {"status": status, "message": _(message)}, status=status)


def bad_request(request, exception=None):
    return _error(request, 400)


def forbidden(request, exception=None):
    return _error(request, 403)


def not_found(request, exception=None):
    return _error(request, 404)


# Seconds a client should wait before trying again while the database is away
# (a PostgreSQL restart or fail-over takes about that long).
RETRY_AFTER_SECONDS = 10
DATABASE_UNAVAILABLE = gettext_noop(
    "The database cannot be reached just now. Please try again in a few seconds."
)


def is_database_unavailable(exc: BaseException | None) -> bool:
    """Is this the database being away (refused, restarting, closed connection)?

    OperationalError and InterfaceError are what the drivers raise when the
    server cannot be reached or drops the connection; a mistake in a query is
    a ProgrammingError or an IntegrityError and stays a 500.
    """
    return isinstance(exc, OperationalError | InterfaceError)


def database_unavailable(request) -> HttpResponse:
    """503 with Retry-After: the JSON error shape under /api/, a plain page elsewhere.

    Built without templates or context processors, which could need the
    database themselves.
    """
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"error": {"code": "database_unavailable", "message": DATABASE_UNAVAILABLE}},
            status=503,
        )
    else:
        message = _(DATABASE_UNAVAILABLE)
        response = HttpResponse(
            '<!doctype html><html><head><meta charset="utf-8"><title>503</title></head>'
            f"<body><h1>503</h1><p>{message}</p></body></html>",
            status=503,
            content_type="text/html; charset=utf-8",
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def server_error(request):
    # Django calls this inside its exception handler, so the exception is at hand.
    if is_database_unavailable(sys.exc_info()[1]):
        return database_unavailable(request)
    return _error(request, 500)
