"""Passwords, PINs and terminal passwords are hashed with Argon2id at full cost (PRV-AUTH-1).

The in-process tests hash with small Argon2id costs (tests/hashers.py); this checks that
the product's own settings, which every instance runs with, still name Django's
Argon2PasswordHasher at costs no lower than its defaults, and that a hash made with them
is argon2id with those parameters in it."""

from __future__ import annotations

import importlib

from django.contrib.auth.hashers import Argon2PasswordHasher, make_password
from django.test import override_settings


def test_product_settings_hash_with_full_cost_argon2id_prv_auth_1():
    product = importlib.import_module("quietshelf.config.settings")
    assert product.PASSWORD_HASHERS == ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    hasher = Argon2PasswordHasher()
    assert hasher.time_cost >= 2 and hasher.memory_cost >= 102400 and hasher.parallelism >= 8
    with override_settings(PASSWORD_HASHERS=product.PASSWORD_HASHERS):
        encoded = make_password("quiet-lantern-orchard-7")
    assert encoded.startswith("argon2$argon2id$v=19$m=102400,t=2,p=8$"), encoded


def test_tests_hash_with_argon2id_at_small_cost_only_prv_auth_1(settings):
    """The suite's own hasher is still argon2id (the same encoded form), only cheaper."""
    assert settings.PASSWORD_HASHERS == ["tests.hashers.FastArgon2"]
    assert make_password("x").startswith("argon2$argon2id$v=19$m=1024,t=1,p=1$")
