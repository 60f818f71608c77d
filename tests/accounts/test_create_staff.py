"""SEC-AUTH-1 / PRV-AUTH-1: no default accounts; generated passwords shown once, hashed."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from quietshelf.accounts.models import StaffUser
from quietshelf.core.commands import UsageError

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    out = io.StringIO()
    call_command("create_staff", *args, stdout=out)
    return out.getvalue()


def test_create_staff_prints_a_generated_password_once_and_stores_only_a_hash():
    """SEC-AUTH-1, PRV-AUTH-1: Argon2id hash, password never stored in clear."""
    text = _run("--username", "desk-anna")
    password = text.split("password: ")[1].split()[0]
    user = StaffUser.objects.get(username="desk-anna")
    assert user.password.startswith("argon2$argon2id$")
    assert password not in user.password
    assert user.check_password(password)


def test_two_instances_never_share_a_password():
    """SEC-AUTH-1: no default password."""
    first = _run("--username", "one-desk").split("password: ")[1].split()[0]
    second = _run("--username", "two-desk").split("password: ")[1].split()[0]
    assert first != second


def test_reset_replaces_the_password():
    first = _run("--username", "desk-bo").split("password: ")[1].split()[0]
    second = _run("--username", "desk-bo", "--reset").split("password: ")[1].split()[0]
    user = StaffUser.objects.get(username="desk-bo")
    assert not user.check_password(first)
    assert user.check_password(second)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--username", "x"], "letters"),
        (["--username", "nobody-here", "--reset"], "no staff account"),
    ],
)
def test_bad_input_is_a_usage_error(args, fragment):
    with pytest.raises(UsageError, match=fragment) as info:
        _run(*args)
    assert info.value.returncode == 2


def test_duplicate_username_is_refused():
    _run("--username", "desk-cy")
    with pytest.raises(UsageError, match="already exists"):
        _run("--username", "desk-cy")
