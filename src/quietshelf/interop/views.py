"""HTTP endpoints of /oai and /sru: thin (parse, one call, render).

No session, no cookie, no CSRF token: public like the OPAC (PRV-PUB-1).
The same per-client rate limit as the public search answers 429 with
Retry-After (SEC-DOS-1); each protocol counts in its own window, so a
harvest does not use up a reader's searches.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from quietshelf.catalog.search import ratelimit
from quietshelf.core.errors import RateLimited
from quietshelf.interop.oai import provider
from quietshelf.interop.sru import server

XML_TYPE = "text/xml; charset=utf-8"


def _too_many(exc: RateLimited) -> HttpResponse:
    response = HttpResponse(exc.message, status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(exc.details.get("retry_after", 60))
    return response


def _pairs(request) -> list[tuple[str, str]]:
    data = request.POST if request.method == "POST" else request.GET
    return [(key, value) for key, values in data.lists() for value in values]


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def oai(request):
    try:
        ratelimit.check(request, scope="oai")
    except RateLimited as exc:
        return _too_many(exc)
    base_url = request.build_absolute_uri(request.path)
    return HttpResponse(provider.respond(_pairs(request), base_url=base_url), content_type=XML_TYPE)


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def sru(request):
    try:
        ratelimit.check(request, scope="sru")
    except RateLimited as exc:
        return _too_many(exc)
    base_url = request.build_absolute_uri(request.path)
    answer = server.respond(_pairs(request), base_url=base_url)
    return HttpResponse(answer.body, status=answer.status, content_type=XML_TYPE)
