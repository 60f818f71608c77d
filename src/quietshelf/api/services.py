"""API token use cases: make one (shown once), revoke one, authenticate with one."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.db import transaction

from quietshelf.accounts.models import StaffUser
from quietshelf.api.models import ApiToken
from quietshelf.core import clock
from quietshelf.core.errors import InvalidInput, NotFound

TOKEN_PREFIX = "qs_"  # noqa: S105 (a prefix, not a secret)
MAX_TOKEN_CHARS = 200


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class NewToken:
    token_id: int
    token: str  # the only time the token exists outside the client


@transaction.atomic
def api_token_create(*, actor, username: str, name: str = "") -> NewToken:
    """Make a token for a staff account; returns it once, stores only its hash."""
    owner = StaffUser.objects.filter(username=username).first()
    if owner is None:
        raise NotFound(f"no staff account named {username!r}")
    if not owner.is_active:
        raise InvalidInput(f"the staff account {username!r} is disabled")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        owner=owner, name=name[:100], token_hash=hash_token(raw), created=clock.today()
    )
    return NewToken(token_id=token.pk, token=raw)


@transaction.atomic
def api_token_revoke(*, actor, token_id: int) -> None:
    if not ApiToken.objects.filter(pk=token_id).update(revoked=True):
        raise NotFound(f"no API token {token_id}")


def api_token_authenticate(*, raw_token: str) -> StaffUser | None:
    """The active staff account a presented token belongs to, or None.

    Marks the token used today with at most one small UPDATE a day.
    """
    if not raw_token or len(raw_token) > MAX_TOKEN_CHARS or not raw_token.startswith(TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("owner")
        .filter(token_hash=hash_token(raw_token), revoked=False)
        .first()
    )
    if token is None or not token.owner.is_active:
        return None
    today = clock.today()
    if token.last_used != today:
        ApiToken.objects.filter(pk=token.pk).exclude(last_used=today).update(last_used=today)
    return token.owner
