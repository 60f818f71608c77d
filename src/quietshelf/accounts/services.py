"""Staff account use cases. Passwords are generated, shown once, stored as Argon2id."""

from __future__ import annotations

import secrets

from django.db import transaction

from quietshelf.accounts.models import StaffUser
from quietshelf.core.errors import Conflict, NotFound

_WORDS = (
    "amber birch cedar delta ember fjord glade harbor island juniper kestrel lantern meadow "
    "north orchard pebble quartz river spruce tundra umber valley willow yarrow zephyr"
).split()


def generate_password() -> str:
    """Four random words and a number: long, typeable, never a default."""
    words = [secrets.choice(_WORDS) for _ in range(4)]
    return "-".join(words) + f"-{secrets.randbelow(90) + 10}"


@transaction.atomic
def staff_create(*, actor, username: str, administrator: bool = False) -> str:
    """Create a staff account and return its one-time password."""
    if StaffUser.objects.filter(username=username).exists():
        raise Conflict(f"a staff account named {username!r} already exists", code="duplicate")
    password = generate_password()
    StaffUser.objects.create_user(username, password, is_superuser=administrator, is_staff=True)
    return password


@transaction.atomic
def staff_reset_password(*, actor, username: str) -> str:
    user = StaffUser.objects.select_for_update().filter(username=username).first()
    if user is None:
        raise NotFound(f"no staff account named {username!r}")
    password = generate_password()
    user.set_password(password)
    user.save(update_fields=["password"])
    return password
