"""Which media types a write may send: exactly those the OpenAPI document declares.

Every POST, PUT, PATCH and DELETE that carries a body must send it as
`application/json`, unless its route declares other types in the OpenAPI
document (MARC records, file uploads: those routes check their own types);
anything else is answered 415 with the standard error shape before the
route runs. ninja itself would parse a
`text/plain` or form body as JSON, so without this check a plain HTML form
on another site could send a write that needs no CORS preflight.
"""

from __future__ import annotations

import functools
import re

from django.http import JsonResponse

from quietshelf.api.errors import json_error

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON = "application/json"
FORM_TYPES = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})


@functools.cache
def _declared() -> list[tuple[re.Pattern, str, frozenset[str]]]:
    """(path pattern, METHOD, media types) for every write in the OpenAPI document."""
    from quietshelf.api.main import api

    routes = []
    for path, operations in api.get_openapi_schema()["paths"].items():
        pattern = re.compile(
            "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path.rstrip("/"))) + "/?$"
        )
        for method, operation in operations.items():
            if method.upper() not in WRITE_METHODS:
                continue
            types = frozenset(operation.get("requestBody", {}).get("content", {})) or {JSON}
            routes.append((pattern, method.upper(), frozenset(types)))
    return routes


def allowed_types(method: str, path: str) -> frozenset[str] | None:
    """The media types the route takes (None: not a declared write)."""
    for pattern, declared_method, types in _declared():
        if declared_method == method and pattern.match(path):
            return types
    return None


def _has_body(request) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length <= 0 and "HTTP_TRANSFER_ENCODING" not in request.META:
        return False
    if request.content_type in FORM_TYPES and request.method == "POST":
        # a form with no fields (what a bare POST from many clients looks like) is no body
        return bool(request.POST) or bool(request.FILES)
    if request.content_type == "application/x-www-form-urlencoded":
        return bool(request.body.strip())  # Django parses forms of POST requests only
    return True


def refuse_unsupported(request) -> JsonResponse | None:
    """A 415 answer if this write's body is of a type its route does not take, else None.

    Routes that declare types besides JSON (MARC records, file uploads) read
    their body themselves and answer 415 for what they cannot take, with a
    message that says where to send it instead (catalog/uploads.py).
    """
    if request.method not in WRITE_METHODS:
        return None
    types = allowed_types(request.method, request.path)
    if types is None or types != {JSON} or request.content_type == JSON:
        return None
    try:
        if not _has_body(request):
            return None
    except Exception:  # noqa: BLE001, S110 - a form too large or malformed to read is a body
        pass
    return json_error(
        415,
        "unsupported_media_type",
        "Send the request body as " + " or ".join(sorted(types)) + ".",
    )
