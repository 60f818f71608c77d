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
