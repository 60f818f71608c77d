"""Fixtures for the API tests: staff tokens, clients, small fictional MARC records."""

from __future__ import annotations

import pytest
from django.test import Client
from pymarc import Field, Indicators, Record, Subfield

from quietshelf.api import services as token_services
from tests.factories import StaffUserFactory


def make_marc(
    title: str = "The quiet lighthouse",
    *,
    control: str = "qs-test-1",
    isbn: str | None = None,
    author: str = "Fjellheim, Ingrid",
    year: str = "2021",
    items: list[dict] | None = None,
) -> Record:
    """A small fictional bibliographic record (pymarc), optionally with Koha 952 items."""
    record = Record(to_unicode=True, force_utf8=True)
    record.leader = "00000nam a2200000 a 4500"
    record.add_field(Field(tag="001", data=control))
    record.add_field(Field(tag="003", data="QS"))
    record.add_field(Field(tag="008", data=f"210101s{year}    no            000 1 nob d"))
    if isbn:
        record.add_field(
            Field(tag="020", indicators=Indicators(" ", " "), subfields=[Subfield("a", isbn)])
        )
    record.add_field(
        Field(tag="100", indicators=Indicators("1", " "), subfields=[Subfield("a", author)])
    )
    record.add_field(
        Field(tag="245", indicators=Indicators("1", "0"), subfields=[Subfield("a", title)])
    )
    record.add_field(
        Field(
            tag="264",
            indicators=Indicators(" ", "1"),
            subfields=[
                Subfield("a", "Oslo :"),
                Subfield("b", "Stille forlag,"),
                Subfield("c", year),
            ],
        )
    )
    for item in items or []:
        record.add_field(
            Field(
                tag="952",
                indicators=Indicators(" ", " "),
                subfields=[
                    Subfield("a", item.get("branch", "MAIN")),
                    Subfield("b", item.get("branch", "MAIN")),
                    Subfield("p", item["barcode"]),
                    Subfield("y", item.get("type", "BOOK")),
                ],
            )
        )
    return record


@pytest.fixture
def marc_record():
    return make_marc


@pytest.fixture
def cataloguer(db):
    return StaffUserFactory(username="cataloguer", is_superuser=True)


@pytest.fixture
def token(cataloguer) -> str:
    return token_services.api_token_create(actor=None, username="cataloguer").token


@pytest.fixture
def api(client, token):
    """A client that sends the cataloguer's bearer token."""
    return Client(headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def plain_staff_token(db) -> str:
    """A staff account without cataloguing permissions."""
    StaffUserFactory(username="deskonly", is_superuser=False)
    return token_services.api_token_create(actor=None, username="deskonly").token


@pytest.fixture
def plain_api(plain_staff_token):
    return Client(headers={"Authorization": f"Bearer {plain_staff_token}"})
