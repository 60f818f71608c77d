"""SEC-DOS-1, SEC-AUTH-1: every 429 says when to try again (Retry-After, in seconds).

Covers each source of a 429: the catalogue search limit on the page and in the
API, the staff sign-in lock-out (django-axes), the patron sign-in lock-out,
and the floor the middleware gives any other 429.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.http import HttpResponse
from django.test import Client

from quietshelf.accounts.testing import make_staff
from quietshelf.core.middleware import RetryAfterMiddleware
from quietshelf.patrons import services as patron_services

pytestmark = pytest.mark.django_db


def _seconds(response) -> int:
    assert response.status_code == 429
    value = int(response["Retry-After"])
    assert value > 0
    return value


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


def test_search_limits_answer_retry_after_on_page_and_api_sec_dos_1(
    client, settings, rate_window_start
):
    settings.QUIETSHELF_SEARCH_RATE_PER_MINUTE = 2
    for _ in range(2):
        client.get("/api/v1/search", {"q": "anything"})
    assert _seconds(client.get("/api/v1/search", {"q": "anything"})) <= 60
    assert _seconds(client.get("/", {"q": "anything"})) <= 60


def test_staff_sign_in_lock_out_answers_retry_after_sec_auth_1(settings):
    settings.AXES_FAILURE_LIMIT = 3
    make_staff("retry.after")
    client = Client(REMOTE_ADDR="10.9.0.1")
    for _ in range(4):
        r = client.post("/staff/login/", {"username": "retry.after", "password": "wrong-1"})
    assert b"locked-out" in r.content
    assert _seconds(r) == int(settings.AXES_COOLOFF_TIME * 3600)


def test_patron_sign_in_lock_out_answers_retry_after_sec_auth_1(settings):
    settings.QUIETSHELF_PATRON_LOCKOUT_FAILURES = 3
    patron_services.patron_register(
        actor=None, given_name="Rut", family_name="Vik", barcode="23009999RA01"
    )
    client = Client(REMOTE_ADDR="198.51.100.70")
    for _ in range(4):
        r = client.post("/account/sign-in/", {"identifier": "23009999RA01", "password": "nope-x1"})
    assert _seconds(r) == settings.QUIETSHELF_PATRON_LOCKOUT_MINUTES * 60


def test_any_other_429_gets_a_floor_sec_dos_1(rf):
    middleware = RetryAfterMiddleware(lambda request: HttpResponse(status=429))
    assert middleware(rf.get("/"))["Retry-After"] == "60"
    kept = RetryAfterMiddleware(
        lambda request: HttpResponse(status=429, headers={"Retry-After": "7"})
    )
    assert kept(rf.get("/"))["Retry-After"] == "7"
    assert not RetryAfterMiddleware(lambda request: HttpResponse())(rf.get("/")).has_header(
        "Retry-After"
    )
