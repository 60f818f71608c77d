"""Test support: every database test also gets the key store database.

tests/conftest.py calls `add_keystore_to_db_tests(items)` from
pytest_collection_modifyitems, so tests of any app that create staff
accounts (and so data subjects and keys) work without naming the
"keystore" alias themselves, and pytest-django creates its test database.
"""

from __future__ import annotations

import pytest

ALIASES = ("default", "keystore")
_DB_FIXTURES = ("db", "transactional_db", "live_server", "django_db_reset_sequences")


def add_keystore_to_db_tests(items) -> None:
    from django.test import TransactionTestCase
    from pytest_django.fixtures import validate_django_db

    for item in items:
        cls = getattr(item, "cls", None)
        if cls is not None and issubclass(cls, TransactionTestCase):
            current = getattr(cls, "databases", None) or {"default"}
            if current != "__all__" and "keystore" not in current:
                cls.databases = set(current) | {"keystore"}
            continue
        marker = item.get_closest_marker("django_db")
        if marker is not None:
            transaction, reset_sequences, databases, serialized, available = validate_django_db(
                marker
            )
            if databases == "__all__":
                continue
            wanted = sorted(set(databases or ("default",)) | {"keystore"})
            item.add_marker(
                pytest.mark.django_db(
                    transaction=transaction,
                    reset_sequences=reset_sequences,
                    databases=wanted,
                    serialized_rollback=serialized,
                    available_apps=available,
                ),
                append=False,
            )
        elif any(name in getattr(item, "fixturenames", ()) for name in _DB_FIXTURES):
            item.add_marker(pytest.mark.django_db(databases=list(ALIASES)), append=False)
