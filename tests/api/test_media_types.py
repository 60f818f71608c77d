"""SEC-ERR-1: every API write that takes JSON refuses any other body with 415.

ninja would parse a text/plain or form body as JSON, so a plain HTML form on
another site could send a write without a CORS preflight. The walk goes
through every write the OpenAPI document declares.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client

from quietshelf.api.main import api
from quietshelf.api.media import JSON

pytestmark = pytest.mark.django_db

BODIES = [
    ("text/plain", '{"item_barcode": "x", "branch_id": 1}'),
    ("application/x-www-form-urlencoded", "item_barcode=x&branch_id=1"),
    ("application/xml", "<x/>"),
]


def _writes():
    for path, operations in api.get_openapi_schema()["paths"].items():
        for method, operation in operations.items():
            if method in ("post", "put", "patch", "delete"):
                content = operation.get("requestBody", {}).get("content", {})
                if set(content) <= {JSON}:
                    yield method, re.sub(r"\{[^}]+\}", "1", path)


def test_every_json_write_refuses_other_bodies_with_415_sec_err_1():
    client = Client()
    writes = list(_writes())
    assert len(writes) > 25 and ("post", "/api/v1/circulation/checkout") in writes
    for method, path in writes:
        for content_type, body in BODIES:
            r = getattr(client, method)(path, body, content_type=content_type)
            assert r.status_code == 415, (method, path, content_type, r.status_code)
            error = r.json()["error"]
            assert error["code"] == "unsupported_media_type" and JSON in error["message"]


def test_json_and_empty_bodies_still_reach_the_route_sec_err_1():
    client = Client()
    # no credentials: the route itself answers (401), not the media-type check
    r = client.post("/api/v1/circulation/checkout", {"item_barcode": "x"}, content_type=JSON)
    assert r.status_code == 401
    r = client.post("/api/v1/jobs/x/run")  # a bare POST (an empty form) is no body
    assert r.status_code == 401
    r = client.post("/api/v1/circulation/checkout", "", content_type="text/plain")
    assert r.status_code == 401
