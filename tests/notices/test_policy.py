"""Pure notice rules (CIR-5, PRV-NOT-1)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quietshelf.notices import policy

DAYS = (1, 8, 15)


@pytest.mark.parametrize(
    ("late", "level"), [(-3, 0), (0, 0), (1, 1), (7, 1), (8, 2), (14, 2), (15, 3), (400, 3)]
)
def test_overdue_level_by_days_late_cir5(late, level):
    due = dt.date(2026, 3, 5)
    assert policy.overdue_level(due=due, today=due + dt.timedelta(days=late), days=DAYS) == level


@given(st.integers(min_value=1, max_value=40))
def test_back_off_doubles_and_is_capped_cir5(attempts):
    wait = policy.backoff_seconds(attempts=attempts, base=60, cap=3600)
    assert 60 <= wait <= 3600
    if attempts > 1:
        assert wait == min(
            3600, 2 * policy.backoff_seconds(attempts=attempts - 1, base=60, cap=3600)
        )


@pytest.mark.parametrize(
    "address",
    [
        "ada@example.org\r\nBcc: x@example.org",
        "ada@example.org\nBcc: x@example.org",
        "Ada <ada@example.org>",
        "ada@example.org, eve@example.org",
        " ada@example.org",
        "not-an-address",
        "",
        None,
    ],
)
def test_addresses_that_could_inject_headers_are_not_usable_sec_xss_1(address):
    assert not policy.usable_email(address)


def test_a_plain_address_is_usable_cir5():
    assert policy.usable_email("ada.holm@example.org")


def test_header_values_are_one_line_sec_xss_1():
    assert policy.one_line("Due\r\nBcc: x@example.org\n") == "Due Bcc: x@example.org"


def test_phone_numbers_cir5():
    assert policy.usable_phone("+47 912 34 567") == "+4791234567"
    assert policy.usable_phone("912\n34567") is None
    assert policy.usable_phone("12") is None


def test_channel_order_prefers_the_patrons_choice_and_falls_back_cir5():
    assert policy.channel_order("sms", sms_available=True) == ["sms", "email"]
    assert policy.channel_order("email", sms_available=True) == ["email", "sms"]
    assert policy.channel_order("post", sms_available=False) == ["email"]
    assert policy.channel_order("none", sms_available=True) == []
