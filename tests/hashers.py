"""Argon2id with small costs for the tests that run in the pytest process (#14 item 8).

Production hashes with Django's Argon2PasswordHasher at its own costs (about 0.2 s and
100 MiB per hash or check on two cores: PRV-AUTH-1 wants it slow). Hundreds of tests
create staff, patrons and terminals with passwords and sign them in, so the suite paid
minutes for costs it does not test. These keep the algorithm (argon2id, the same encoded
form) and lower only the costs; tests/config/test_password_hashing.py checks that the
settings still name the full-cost hasher, and the command-line tests (a subprocess with
the product's settings) still hash at full cost."""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher


class FastArgon2(Argon2PasswordHasher):
    """Argon2id still, with small costs."""

    time_cost = 1
    memory_cost = 1024
    parallelism = 1


FAST_ARGON2 = ["tests.hashers.FastArgon2"]
