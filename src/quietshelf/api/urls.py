"""/api/v1/: the NinjaAPI, plus JSON errors for unknown paths and methods."""

from __future__ import annotations

import functools

from django.conf import settings
from django.urls import path, re_path

from quietshelf.api import media
from quietshelf.api.errors import json_error
from quietshelf.api.main import api
from quietshelf.catalog import uploads


def _json_405(view):
    # ninja answers a wrong method with a bare 405; give it the error shape.
    # Uploads are capped while they stream in (SEC-UP-1), before ninja reads them.
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        uploads.limit_uploads(request, max_bytes=settings.QUIETSHELF_MAX_UPLOAD_BYTES)
        # A write's body in a type its route does not declare: 415 before it runs.
        response = media.refuse_unsupported(request) or view(request, *args, **kwargs)
        if response.status_code == 405 and "json" not in response.get("Content-Type", ""):
            allowed = response.get("Allow", "")
            response = json_error(405, "method_not_allowed", "This method is not allowed here.")
            response["Allow"] = allowed
        return response

    return wrapper


def _unknown(request, rest=""):
    return json_error(404, "not_found", "There is no such API route.")


def _api_patterns():
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        pattern.callback = _json_405(pattern.callback)
    return patterns, app_name, namespace


urlpatterns = [
    re_path(r"^", _api_patterns()),
    path("<path:rest>", _unknown),
    path("", _unknown),
]
