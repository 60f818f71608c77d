"""Fixtures for the staff page tests."""

from __future__ import annotations

import pytest

from tests.api.conftest import FAST_HASHERS


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Argon2id costs ~0.7 s per account; these tests are not about password hashing."""
    settings.PASSWORD_HASHERS = FAST_HASHERS
