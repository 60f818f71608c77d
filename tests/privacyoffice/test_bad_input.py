"""Bad input never gives a 500: every privacy office page and API route answers garbage with
a readable 4xx (SEC-ERR-1), and API errors have the one shape."""

from __future__ import annotations

import uuid

import pytest

from quietshelf.accounts.testing import make_staff, signed_in_client

pytestmark = pytest.mark.django_db(databases="__all__")
NOBODY = uuid.uuid4()


@pytest.fixture
def boss(lib):
    return signed_in_client(make_staff("po-boss", roles=["privacy-officer", "authorised-officer"]))


PAGES = [
    "/staff/privacy-office/cases/new/",
    f"/staff/privacy-office/cases/{NOBODY}/",
    f"/staff/privacy-office/patrons/{NOBODY}/erase/",
    "/staff/privacy-office/canary/",
    "/staff/privacy-office/government/",
    f"/staff/privacy-office/government/{NOBODY}/",
    "/staff/privacy-office/breaches/",
    f"/staff/privacy-office/breaches/{NOBODY}/",
]


@pytest.mark.parametrize("url", PAGES)
@pytest.mark.parametrize(
    "data",
    [{}, {"action": "release", "valid_days": "-4", "kind": "<script>", "patron_id": "x' OR 1=1"}],
)
def test_pages_answer_garbage_with_4xx_sec_err_1(boss, url, data):
    r = boss.post(url, data)
    assert 300 <= r.status_code < 500, (url, r.status_code)


API_POSTS = [
    "/api/v1/privacy-office/cases",
    f"/api/v1/privacy-office/cases/{NOBODY}/identity",
    f"/api/v1/privacy-office/cases/{NOBODY}/close",
    f"/api/v1/privacy-office/patrons/{NOBODY}/erase",
    f"/api/v1/privacy-office/patrons/{NOBODY}/restriction",
    "/api/v1/privacy-office/canary",
    "/api/v1/privacy-office/government",
    f"/api/v1/privacy-office/government/{NOBODY}/checklist",
    f"/api/v1/privacy-office/government/{NOBODY}/release",
    "/api/v1/privacy-office/breaches",
    f"/api/v1/privacy-office/breaches/{NOBODY}/send",
    "/api/v1/privacy-office/objections",
    "/api/v1/privacy-office/guardian-requests",
]


@pytest.mark.parametrize("url", API_POSTS)
@pytest.mark.parametrize("body", ["{not json", '{"kind": 7, "valid_days": "x", "categories": 3}'])
def test_api_answers_garbage_with_the_error_shape_sec_err_1(boss, url, body):
    r = boss.post(url, body, "application/json")
    assert 400 <= r.status_code < 500, (url, r.status_code)
    assert set(r.json()) == {"error"} and r.json()["error"]["code"]
