"""One mapping from errors to the API's error shape {"error": {"code", "message"}}.

Bad input of any kind is a 4xx with that shape; only a real fault on our side
is a 500, and then with a generic message and no trace (SEC-ERR-1).
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django.http.multipartparser import MultiPartParserError
from ninja.errors import AuthenticationError, HttpError, ValidationError

from quietshelf.core.errors import DomainError
from quietshelf.core.views import database_unavailable

log = logging.getLogger("quietshelf.api")

CODE_FOR_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
}


class NotAnObject(ValueError):
    """A JSON request body that is not an object."""


def error_body(code: str, message: str, details=None) -> dict:
    body = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    return body


def json_error(status: int, code: str, message: str) -> JsonResponse:
    """The same shape outside ninja (unknown paths, methods not allowed)."""
    return JsonResponse(error_body(code, message), status=status)


def retry_after_seconds(details: dict, default: int = 60) -> int:
    """Seconds to wait, from a rate-limit error's details (`retry_after` or `locked_until`)."""
    if isinstance(details.get("retry_after"), int):
        return max(1, details["retry_after"])
    until = details.get("locked_until")
    if isinstance(until, str):
        try:
            left = dt.datetime.fromisoformat(until) - dt.datetime.now(dt.UTC)
        except (ValueError, TypeError):
            return default
        return max(1, int(left.total_seconds()) + 1)
    return default


def _clean_validation_errors(errors) -> list[dict]:
    # Location, message and type only: never echo the caller's input back.
    cleaned = []
    for err in errors[:50]:
        loc = [str(part)[:100] for part in err.get("loc", ())]
        cleaned.append({"loc": loc, "msg": str(err.get("msg", ""))[:300], "type": err.get("type")})
    return cleaned


def install(api) -> None:
    def render(request, status: int, code: str, message: str, details=None):
        return api.create_response(request, error_body(code, message, details), status=status)

    @api.exception_handler(DomainError)
    def domain_error(request, exc: DomainError):
        response = render(request, exc.status_hint, exc.code, exc.message, exc.details or None)
        if exc.status_hint == 429:
            response["Retry-After"] = str(retry_after_seconds(exc.details or {}))
        return response

    @api.exception_handler(ValidationError)
    def validation_error(request, exc: ValidationError):
        return render(
            request,
            422,
            "invalid_input",
            "The request is not valid; see details.errors.",
            # details is an object in every error (the one ErrorOut schema).
            {"errors": _clean_validation_errors(exc.errors)},
        )

    @api.exception_handler(AuthenticationError)
    def auth_error(request, exc):
        # The patron's own routes (/me) take the web session; staff routes a token.
        own = "/me" in request.path
        response = render(
            request,
            401,
            "unauthorized",
            "Sign in first (/account/sign-in/)."
            if own
            else "Authentication is required: send 'Authorization: Bearer <token>'.",
        )
        response["WWW-Authenticate"] = 'Bearer realm="quietshelf"'
        return response

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        status = exc.status_code if 400 <= exc.status_code < 500 else 400
        message = str(exc)
        if message.startswith("Cannot parse request body"):
            message = "The request body is not valid JSON."
            if isinstance(exc.__cause__, NotAnObject):
                message = "The request body must be a JSON object."
        return render(request, status, CODE_FOR_STATUS.get(status, "bad_request"), message)

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return render(request, 404, "not_found", "Not found.")

    @api.exception_handler(RequestDataTooBig)
    def too_big(request, exc):
        return render(request, 413, "too_large", "The request body is too large.")

    @api.exception_handler(MultiPartParserError)
    def bad_multipart(request, exc):
        # e.g. multipart/form-data without a boundary: the caller's mistake, not ours.
        return render(request, 400, "bad_request", "The multipart body could not be read.")

    @api.exception_handler(SuspiciousOperation)
    def suspicious(request, exc):
        return render(request, 400, "bad_request", "The request is not valid.")

    @api.exception_handler(OperationalError)
    @api.exception_handler(InterfaceError)
    def database_away(request, exc):
        # The database is unreachable or restarting: 503 with Retry-After, never a 500.
        log.warning(
            "database unavailable: %s rid=%s",
            type(exc).__name__,
            getattr(request, "request_id", "-"),
        )
        return database_unavailable(request)

    @api.exception_handler(Exception)
    def unexpected(request, exc):
        # Type and place only: an exception's text may hold data from the request.
        frames = traceback.extract_tb(exc.__traceback__)
        where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "-"
        log.error(
            "unhandled API error %s at %s rid=%s",
            type(exc).__name__,
            where,
            getattr(request, "request_id", "-"),
        )
        return render(request, 500, "server_error", "Something went wrong on our side.")
