"""One mapping from errors to the API's error shape {"error": {"code", "message"}}."""

from __future__ import annotations

from django.http import Http404
from ninja.errors import AuthenticationError, HttpError, ValidationError

from quietshelf.core.errors import DomainError


def install(api) -> None:
    def render(request, status: int, code: str, message: str, details=None):
        body = {"error": {"code": code, "message": message}}
        if details:
            body["error"]["details"] = details
        return api.create_response(request, body, status=status)

    @api.exception_handler(DomainError)
    def domain_error(request, exc: DomainError):
        return render(request, exc.status_hint, exc.code, exc.message, exc.details or None)

    @api.exception_handler(ValidationError)
    def validation_error(request, exc: ValidationError):
        return render(request, 422, "invalid_input", "The request is not valid.", exc.errors)

    @api.exception_handler(AuthenticationError)
    def auth_error(request, exc):
        return render(request, 401, "unauthorized", "Authentication is required.")

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        return render(request, exc.status_code, "http_error", str(exc))

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return render(request, 404, "not_found", "Not found.")

    @api.exception_handler(Exception)
    def unexpected(request, exc):
        import logging

        logging.getLogger("quietshelf.api").exception("unhandled API error")
        return render(request, 500, "server_error", "Something went wrong on our side.")
