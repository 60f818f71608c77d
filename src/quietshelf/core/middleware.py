"""Request-wide middleware: request ids, scrubbed request logs, no-store."""

from __future__ import annotations

import logging
import time
import uuid

from quietshelf.core.netutil import client_ip, truncate_ip

request_log = logging.getLogger("quietshelf.request")


class RequestIdMiddleware:
    """Gives each request an id (for audit entries) and logs one scrubbed line.

    The line holds method, path without the query string, status, duration
    and a truncated address: no search terms, names or card numbers (PRV-LOG-1,
    PRV-SEP-1, SEC-URL-1).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = uuid.uuid4().hex
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed_ms = (time.perf_counter() - started) * 1000
        if not request.path.startswith("/static/"):
            request_log.info(
                "%s %s %s %.1fms ip=%s rid=%s",
                request.method,
                _path_shape(request),
                response.status_code,
                elapsed_ms,
                truncate_ip(client_ip(request)),
                request.request_id,
            )
        response["X-Request-Id"] = request.request_id
        return response


def _path_shape(request) -> str:
    """The matched route pattern when there is one, so ids in paths stay out."""
    match = getattr(request, "resolver_match", None)
    if match is not None and match.route:
        return "/" + match.route
    return request.path if len(request.path) < 200 else request.path[:200]


class RetryAfterMiddleware:
    """Every 429 says when to try again (RFC 9110, 10.2.3).

    The views that know their lock set the exact time (search rate limit,
    sign-in and second-factor locks); this is the floor for any other 429.
    """

    DEFAULT_SECONDS = 60

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 429 and not response.has_header("Retry-After"):
            response["Retry-After"] = str(self.DEFAULT_SECONDS)
        return response


class PrivateCacheMiddleware:
    """Signed-in pages and the API never go into any cache (SEC-URL-1)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated) or request.path.startswith(
            ("/api/", "/staff/", "/account/")
        ):
            response["Cache-Control"] = "no-store"
        return response
