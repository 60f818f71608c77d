"""Domain errors: a stable code and a message for people, no HTTP status.

The API and the pages map these once (api/errors.py, staff and opac views);
services raise them and never know who called.
"""

from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"
    status_hint = 400

    def __init__(self, message: str, *, code: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or {}


class InvalidInput(DomainError):
    code = "invalid_input"


class NotFound(DomainError):
    code = "not_found"
    status_hint = 404


class Conflict(DomainError):
    code = "conflict"
    status_hint = 409


class PermissionDenied(DomainError):
    code = "permission_denied"
    status_hint = 403


class RateLimited(DomainError):
    code = "rate_limited"
    status_hint = 429
