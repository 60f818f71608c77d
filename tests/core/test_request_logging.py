"""PRV-LOG-1 / PRV-SEP-1: request logs hold no search terms and a truncated address."""

from __future__ import annotations

import logging

import pytest

from quietshelf.core.netutil import truncate_ip


def test_truncate_ip_keeps_only_the_network():
    assert truncate_ip("192.0.2.187") == "192.0.2.0"
    assert truncate_ip("2001:db8:1234:5678::1") == "2001:db8:1234::"
    assert truncate_ip("not an address") == "-"


@pytest.mark.django_db
def test_request_log_has_no_query_string_and_truncated_ip(client, caplog):
    with caplog.at_level(logging.INFO, logger="quietshelf.request"):
        client.get("/?q=secretword+mortality", REMOTE_ADDR="198.51.100.77")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "secretword" not in text
    assert "198.51.100.77" not in text
    assert "198.51.100.0" in text


def test_api_error_shape_for_unknown_route(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404


def _request(remote, forwarded=None):
    from django.test import RequestFactory

    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_forwarded_for_is_ignored_without_a_trusted_proxy(settings):
    """SEC-DOS-1: a client cannot pick its own address for rate limits and lock-outs."""
    from quietshelf.core.netutil import client_ip

    settings.QUIETSHELF_TRUSTED_PROXIES = []
    assert client_ip(_request("203.0.113.9", "198.51.100.1")) == "203.0.113.9"


def test_forwarded_for_is_read_from_the_right_behind_a_trusted_proxy(settings):
    from quietshelf.core.netutil import client_ip

    settings.QUIETSHELF_TRUSTED_PROXIES = ["10.0.0.0/8"]
    # the client sent a forged hop first; the proxy appended the real address
    assert client_ip(_request("10.0.0.2", "1.2.3.4, 198.51.100.7")) == "198.51.100.7"
    assert client_ip(_request("10.0.0.2", "198.51.100.7, 10.0.0.5")) == "198.51.100.7"
    assert client_ip(_request("10.0.0.2", "not-an-ip")) == "10.0.0.2"
    # a request that does not come through the proxy is taken as it is
    assert client_ip(_request("203.0.113.9", "198.51.100.7")) == "203.0.113.9"


def test_shared_cache_on_redis_holds_rate_limit_counts(tmp_path):
    """SEC-DOS-1: with QUIETSHELF_CACHE_URL the limits are shared by all server processes."""
    import os
    import subprocess
    import sys
    import uuid

    # a key of this run's own: the SQLite and PostgreSQL suites may run at the same time
    key = f"qs-test-shared-{uuid.uuid4().hex[:12]}"
    code = (
        "import django; django.setup();"
        "from django.core.cache import cache;"
        "from django.core.cache import caches;"
        f"print(type(caches['default']).__name__, cache.incr('{key}', 1))"
    )
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {
        "QUIETSHELF_HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "quietshelf.config.settings",
        "QUIETSHELF_CACHE_URL": "redis://127.0.0.1:6379/14",
    }
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, db=14)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    client.set(f":1:{key}", 0)
    outs = [
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        for _ in range(2)
    ]
    client.delete(f":1:{key}")
    assert [o.stdout.split() for o in outs] == [["RedisCache", "1"], ["RedisCache", "2"]]


@pytest.mark.django_db
def test_error_page_in_norwegian_with_lang_parameter(client):
    """PRV-PUB-1 / issue 3 item 9: the public 404 page speaks nb too, with no cookie."""
    response = client.get("/record/99999999/", {"lang": "nb"})
    assert response.status_code == 404
    text = response.content.decode()
    assert "Det finnes ingenting på denne adressen." in text
    assert "Tilbake til katalogen" in text
    assert not response.cookies
