"""core.idlist: a batch of ids as one SQL parameter on PostgreSQL (PERF-RET-1, issue 15)."""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import EmptyResultSet, ValidationError
from django.db import connection

from quietshelf.catalog.models import ItemType
from quietshelf.core import bulk
from quietshelf.core.idlist import IdList, in_sql, referencing_pks
from quietshelf.privacy.models import Subject
from quietshelf.privacy.subjects import subject_create


def test_an_id_list_selects_and_updates_what_a_list_does_perf_ret_1(db):
    subjects = [subject_create(kind="patron").pk for _ in range(6)]
    chosen = subjects[:4]
    # the forms ids come in: UUID objects, their text and their hex (SQLite's own)
    given = [chosen[0], str(chosen[1]), chosen[2].hex, chosen[3], None]
    found = set(Subject.objects.filter(pk__in=IdList(given)).values_list("pk", flat=True))
    assert found == set(chosen)
    assert Subject.objects.filter(pk__in=IdList(given)).update(kind="staff") == 4
    assert Subject.objects.filter(kind="staff").count() == 4
    assert Subject.objects.filter(pk__in=IdList([uuid.uuid4()])).count() == 0
    assert set(Subject.objects.filter(kind="patron").values_list("pk", flat=True)) == set(
        subjects[4:]
    )


def test_no_ids_select_nothing_and_change_nothing_perf_ret_1(db):
    subject_create(kind="patron")
    assert Subject.objects.filter(pk__in=IdList([])).count() == 0
    assert Subject.objects.filter(pk__in=IdList([None])).update(kind="staff") == 0
    assert Subject.objects.count() == 1
    assert ItemType.objects.filter(pk__in=IdList([], ItemType._meta.pk)).delete()[0] == 0
    with pytest.raises(EmptyResultSet):
        in_sql([], connection)


def test_integer_ids_delete_and_other_columns_perf_ret_1(db):
    ids = bulk.insert_model_rows(
        ItemType, [{"code": f"IL{i}", "name": "n"} for i in range(5)], returning=True
    )
    assert ItemType.objects.filter(pk__in=IdList(ids[:3], ItemType._meta.pk)).count() == 3
    assert ItemType.objects.filter(pk__in=IdList(ids[3:], ItemType._meta.pk)).delete()[0] == 2
    assert set(ItemType.objects.filter(code__startswith="IL").values_list("pk", flat=True)) == set(
        ids[:3]
    )
    # a text column gets placeholders, never an array literal it would need to escape
    codes = IdList(["IL1", "IL2", "x',}{"], ItemType._meta.get_field("code"))
    assert set(ItemType.objects.filter(code__in=codes).values_list("code", flat=True)) == {
        "IL1",
        "IL2",
    }


def test_the_ids_travel_as_one_parameter_on_postgresql_perf_ret_1(db):
    ids = [uuid.uuid4() for _ in range(5000)]
    sql, params = in_sql(ids, connection)
    if connection.vendor == "postgresql":
        assert sql == "(SELECT unnest(%s::uuid[]))" and len(params) == 1
        assert params[0].count(",") == 4999
    else:  # SQLite: placeholders, as `__in` makes them
        assert sql.count("%s") == 5000 and len(params) == 5000
    with pytest.raises(ValidationError):  # as `__in` refuses it
        in_sql(["not a uuid"], connection)


def test_referencing_rows_are_found_by_their_foreign_key_perf_ret_1(db):
    """PERF-RET-1: the rows that name one of a batch's ids, by primary key (on PostgreSQL
    one index probe per id, never a scan of the whole table)."""
    from quietshelf.privacy.models import NameToken

    subjects = [subject_create(kind="patron").pk for _ in range(3)]
    tokens = {
        NameToken.objects.create(subject_id=s, digest=f"d{n}{k}", scope="test.name").pk: s
        for n, s in enumerate(subjects)
        for k in range(2)
    }
    found = referencing_pks(NameToken, "subject", [subjects[0], str(subjects[2]), uuid.uuid4()])
    assert sorted(found) == sorted(pk for pk, s in tokens.items() if s != subjects[1])
    assert referencing_pks(NameToken, "subject", [uuid.uuid4()]) == []
    assert referencing_pks(NameToken, "subject", []) == []
