"""Generic error pages: nothing internal ever reaches a browser (SEC-ERR-1)."""

from __future__ import annotations

from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from quietshelf.opac.i18n import query_language

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


def server_error(request):
    return _error(request, 500)
