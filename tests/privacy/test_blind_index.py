"""Blind indexes (issue 4 item 4): exact look-up and name search without clear values."""

from __future__ import annotations

import pytest

from quietshelf.privacy import search
from quietshelf.privacy.fields import blind_index, normalize
from tests.factories import StaffUserFactory


def test_exact_lookup_by_normalised_email_and_barcode_PRV_ENC_1(records):
    row = records.objects.create(
        name="Per Prøve", email="Per.Prove@Example.ORG ", barcode="29-000 123"
    )
    email = records._meta.get_field("email_index")
    barcode = records._meta.get_field("barcode_index")
    assert records.objects.get(email_index=email.digest("per.prove@example.org")) == row
    assert records.objects.get(barcode_index=barcode.digest("29000123")) == row
    assert not records.objects.filter(email_index=email.digest("per.prove@example.com")).exists()
    assert len(row.email_index) == 64 and "per" not in row.email_index


def test_index_follows_a_changed_value(records):
    row = records.objects.create(name="A", email="old@example.org")
    row.email = "new@example.org"
    row.save()
    field = records._meta.get_field("email_index")
    assert records.objects.filter(email_index=field.digest("new@example.org")).count() == 1
    assert not records.objects.filter(email_index=field.digest("old@example.org")).exists()


def test_each_index_has_its_own_key(db):
    a = blind_index("same@example.org", purpose="a.email", kind="email")
    b = blind_index("same@example.org", purpose="b.email", kind="email")
    assert a != b
    assert a == blind_index("SAME@example.org", purpose="a.email", kind="email")


@pytest.mark.parametrize(
    "kind, raw, norm",
    [
        ("email", "  Ola.Nordmann@Example.NO ", "ola.nordmann@example.no"),
        ("barcode", "2900-0012 3456", "290000123456"),
        ("phone", "+47 912 34 567", "+4791234567"),
        ("username", "Ａlice", "alice"),
    ],
)
def test_normalisers(kind, raw, norm):
    assert normalize(raw, kind) == norm


def test_staff_username_lookup_goes_through_the_blind_index(db, client):
    user = StaffUserFactory(username="Marit.Desk")
    from quietshelf.accounts.models import StaffUser

    assert StaffUser.objects.get(username="marit.desk") == user
    assert StaffUser.objects.filter(username__in=["MARIT.DESK"]).count() == 1
    assert StaffUser.objects.get(pk=user.pk).username == "Marit.Desk"
    assert client.login(username="MARIT.desk", password="correct-horse-battery-9")


def test_name_search_by_tokens_and_prefixes(records):
    ada = records.objects.create(name="Ada Lovelace-Byron")
    alan = records.objects.create(name="Alan Turing")
    for row in (ada, alan):
        search.index_name_tokens(subject_id=row.subject_id, scope="t.name", text=row.name)
    assert search.search_name_tokens(scope="t.name", query="ada lov") == [ada.subject_id]
    assert search.search_name_tokens(scope="t.name", query="byron") == [ada.subject_id]
    assert set(search.search_name_tokens(scope="t.name", query="a")) == set()
    assert set(search.search_name_tokens(scope="t.name", query="al")) == {alan.subject_id}
    assert search.search_name_tokens(scope="t.name", query="turing ada") == []
    assert search.search_name_tokens(scope="other.scope", query="ada") == []
