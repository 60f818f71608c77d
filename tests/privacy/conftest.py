"""Fixtures for the privacy kernel's tests."""

from __future__ import annotations

import pytest
from django.db import connections

from quietshelf.privacy import keys
from tests.privacy.testmodels import SubjectRecord

__all__ = ["SubjectRecord"]


@pytest.fixture(scope="session")
def _subject_record_table(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        conn = connections["default"]
        if SubjectRecord._meta.db_table not in conn.introspection.table_names():
            with conn.schema_editor() as editor:
                editor.create_model(SubjectRecord)
    yield


@pytest.fixture
def records(_subject_record_table, db):
    return SubjectRecord


@pytest.fixture
def trecords(_subject_record_table, transactional_db):
    return SubjectRecord


@pytest.fixture(autouse=True)
def _fresh_key_caches():
    keys.reset_caches()
    yield
    keys.reset_caches()
