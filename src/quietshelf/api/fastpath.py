"""A shorter middleware chain for bearer-token API requests without cookies (PERF-CIRC-2).

A self-check machine or desk client calls /api/ with `Authorization: Bearer …`
and sends no cookie. For such a request the session, CSRF, authentication,
staff-session, patron, messages and axes middlewares find nothing to do: no
session cookie means no session, no signed-in person and no CSRF cookie, and
the API authenticates the token itself (core.api_auth.BearerToken). Running them
still cost time on every request, so `dispatching()` sends exactly these
requests through a second Django handler built without them.

Any request with a Cookie header, without a bearer token or outside /api/
takes the full chain: a cookie-authenticated API write keeps its CSRF check.
Everything that acts on such a request stays: request ids and the request
log, security and CSP headers, locale, CommonMiddleware, the privacy
middleware (the request id for audit entries), X-Frame-Options, no-store.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.utils.module_loading import import_string

# Middlewares that only act on a session, a cookie or a browser form.
SKIPPED = frozenset(
    {
        "whitenoise.middleware.WhiteNoiseMiddleware",  # /static/ only
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "quietshelf.accounts.middleware.StaffSessionMiddleware",
        "quietshelf.patrons.auth.PatronMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "axes.middleware.AxesMiddleware",
    }
)
MARKER = "quietshelf.api.fastpath.BearerRequestMiddleware"


def lean_middleware() -> list[str]:
    """settings.MIDDLEWARE without SKIPPED; the marker takes the session's place."""
    lean = []
    for path in settings.MIDDLEWARE:
        if path == "django.contrib.sessions.middleware.SessionMiddleware":
            lean.append(MARKER)
        elif path not in SKIPPED:
            lean.append(path)
    return lean


class BearerRequestMiddleware:
    """What the skipped middlewares would have set for a request without cookies."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.user = AnonymousUser()  # BearerToken replaces it with the token's owner
        request.patron = None
        return self.get_response(request)


class BearerApiHandler(WSGIHandler):
    """Django's WSGI handler with the lean chain (every middleware here is sync)."""

    def load_middleware(self, is_async=False):
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        handler = convert_exception_to_response(self._get_response)
        for path in reversed(lean_middleware()):
            mw = import_string(path)(handler)
            if hasattr(mw, "process_view"):
                self._view_middleware.insert(0, mw.process_view)
            if hasattr(mw, "process_template_response"):
                self._template_response_middleware.append(mw.process_template_response)
            if hasattr(mw, "process_exception"):
                self._exception_middleware.append(mw.process_exception)
            handler = convert_exception_to_response(mw)
        self._middleware_chain = handler


def takes_fast_path(environ) -> bool:
    return (
        environ.get("PATH_INFO", "").startswith("/api/")
        and environ.get("HTTP_AUTHORIZATION", "")[:7].lower() == "bearer "
        and "HTTP_COOKIE" not in environ
    )


def dispatching(full):
    """The WSGI application: bearer-only API requests to the lean handler."""
    lean = BearerApiHandler()

    def application(environ, start_response):
        handler = lean if takes_fast_path(environ) else full
        return handler(environ, start_response)

    application.full = full
    application.lean = lean
    return application
