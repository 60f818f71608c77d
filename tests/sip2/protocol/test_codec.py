"""INT-1: the pure SIP2 codec (no Django, no database)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quietshelf.sip2.protocol import codec
from quietshelf.sip2.protocol.codec import (
    ChecksumError,
    ProtocolError,
    TooLong,
    UnknownCommand,
    checksum,
    format_message,
    parse,
)
from quietshelf.sip2.protocol.fields import REQUESTS, RESPONSES

CHECKIN = b"09N20160419    12200820160419    122008APReading Room 1|AO830|AB830$28170815|AC|AY2AZ"


def test_checksum_matches_published_examples_int_1():
    """Two check-in messages with their checksums as a 3M-compatible client computes them."""
    assert checksum(CHECKIN) == "EB80"
    assert checksum(CHECKIN.replace(b"122008", b"121713")) == "EB7C"


def test_checksum_plus_data_sums_to_zero_int_1():
    data = b"9300CNkiosk|COsecret|AY1AZ"
    total = sum(data) + int(checksum(data), 16)
    assert total & 0xFFFF == 0


def test_parse_checkin_with_error_detection_int_1():
    msg = parse(CHECKIN + b"EB80\r")
    assert msg.command == "09"
    assert msg.fixed["no_block"] == "N"
    assert msg.fixed["transaction_date"] == "20160419    122008"
    assert msg.get("AP") == "Reading Room 1"
    assert msg.get("AB") == "830$28170815"
    assert msg.get("AC") == ""
    assert msg.sequence == "2"
    assert msg.checksummed


def test_parse_rejects_a_wrong_checksum_int_1():
    with pytest.raises(ChecksumError) as exc:
        parse(CHECKIN + b"EB81\r")
    assert exc.value.command == "09"


def test_checksum_without_leading_zeros_is_accepted_int_1():
    """Some clients (the PyPI Sip2 package among them) format the checksum without zero
    padding; the value is what counts."""
    data = b"9900302.00AY1AZ"
    for n in range(200):
        body = data.replace(b"302.00", f"{n:03d}2.00".encode()[-6:])
        value = checksum(body)
        short = value.lstrip("0") or "0"
        assert parse(body + short.encode() + b"\r").checksummed


def test_checksum_is_compared_without_regard_to_case_int_1():
    assert parse(CHECKIN + b"eb80\r").checksummed


def test_parse_without_error_detection_and_with_crlf_int_1():
    msg = parse(b"9300CNkiosk|COpw|CPmain|\r\n")
    assert msg.command == "93"
    assert msg.get("CN") == "kiosk"
    assert msg.get("CO") == "pw"
    assert msg.get("CP") == "main"
    assert msg.sequence is None
    assert not msg.checksummed


def test_parse_sequence_without_checksum_int_1():
    msg = parse(b"9900302.00AY5\r")
    assert msg.sequence == "5"
    assert msg.fixed == {"status_code": "0", "max_print_width": "030", "protocol_version": "2.00"}


def test_parse_repeated_fields_keep_every_value_int_1():
    msg = parse(b"6300120200101    120000  Y       AOlib|AA123|AD1|AD2|\r")
    assert msg.all("AD") == ["1", "2"]
    assert msg.fixed["summary"] == "  Y       "


@pytest.mark.parametrize(
    "raw, error",
    [
        (b"\r", ProtocolError),
        (b"9\r", ProtocolError),
        (b"XX123\r", UnknownCommand),
        (b"42hello\r", UnknownCommand),
        (b"1120200101\r", ProtocolError),  # fixed fields truncated
        (b"2300120200101    120000AO\x00x|\r", ProtocolError),  # NUL inside
        (b"2300120200101    120000AO\xff\xfe|\r", ProtocolError),  # not UTF-8
        (b"2300120200101    120000AOx|aa|\r", ProtocolError),  # field without an id
    ],
)
def test_parse_malformed_messages_raise_protocol_errors_int_1(raw, error):
    with pytest.raises(error):
        parse(raw)


def test_parse_refuses_over_long_messages_int_1():
    with pytest.raises(TooLong):
        parse(b"17" + b"x" * (codec.MAX_MESSAGE_BYTES + 1))


def test_charset_latin1_and_cp850_int_1():
    """Old kiosks speak cp850 or latin-1: the same text decodes from their bytes."""
    for charset in ("cp850", "latin-1"):
        raw = "2300120200101    120000AOBibliotek|AAkort|AEBjørnstjerne Æsøy|\r".encode(charset)
        assert parse(raw, charset=charset).get("AE") == "Bjørnstjerne Æsøy"


def test_format_adds_sequence_and_checksum_int_1():
    out = format_message("94", ["1"], [], sequence="3", error_detection=True)
    assert out.startswith(b"941AY3AZ")
    assert out.endswith(b"\r")
    body = out[:-5]
    assert checksum(body) == out[-5:-1].decode()


def test_format_cleans_values_that_would_break_framing_int_1():
    out = format_message("10", ["1NNN", " " * 18], [("AJ", "Title | with\r\nbreaks")])
    assert out.count(b"|") == 1
    assert b"\r" not in out[:-1]


def test_format_replaces_characters_the_charset_lacks_int_1():
    out = format_message("10", ["1"], [("AF", "Lån ✓")], charset="cp850")
    assert out.decode("cp850") == "101AFLån ?|\r"


def test_format_skips_fields_whose_value_is_none_int_1():
    assert format_message("36", ["Y"], [("AO", "x"), ("AE", None)]) == b"36YAOx|\r"


def test_sip_datetime_is_eighteen_characters_int_1():
    value = codec.sip_datetime(dt.datetime(2026, 1, 2, 3, 4, 5))  # noqa: DTZ001
    assert value == "20260102    030405"
    assert len(codec.sip_datetime(None)) == 18
    assert codec.parse_sip_datetime(value) == dt.datetime(2026, 1, 2, 3, 4, 5)  # noqa: DTZ001
    assert codec.parse_sip_datetime("garbage") is None


def test_money_and_counts_int_1():
    assert codec.money(1250) == "12.50"
    assert codec.money(5) == "0.05"
    assert codec.money(-300) == "-3.00"
    assert codec.money(700, 0) == "700"
    assert codec.count4(3) == "0003"
    assert codec.count4(123456) == "9999"


def test_every_request_names_its_response_int_1():
    for command, spec in REQUESTS.items():
        if spec.response:
            assert spec.response in RESPONSES, command


_values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), min_codepoint=32), max_size=40
)


@given(
    seq=st.one_of(st.none(), st.sampled_from("0123456789")),
    item=_values,
    location=_values,
    crlf=st.booleans(),
)
def test_roundtrip_any_field_values_int_1(seq, item, location, crlf):
    """Whatever the values, format then parse gives them back (cleaned) with a valid checksum."""
    raw = format_message(
        "09",
        ["N", "20260102    030405", "20260102    030405"],
        [("AP", location), ("AO", "lib"), ("AB", item)],
        sequence=seq,
        error_detection=True,
        terminator=b"\r\n" if crlf else b"\r",
    )
    msg = parse(raw)
    assert msg.sequence == seq
    assert msg.checksummed
    assert msg.get("AB") == codec.clean_value(item)
    assert msg.get("AP") == codec.clean_value(location)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise_anything_but_protocol_errors_int_1(raw):
    try:
        parse(raw)
    except ProtocolError:
        pass
