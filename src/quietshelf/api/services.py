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
def api_token_create(
    *,
    actor,
    username: str,
    name: str = "",
    role_codes: list[str] | None = None,
    personal_data: bool = False,
) -> NewToken:
    """Make a token for a staff account; returns it once, stores only its hash.

    The token may use the permissions of `role_codes` (roles the owner holds;
    all of the owner's roles when none are named). Patron data needs
    `personal_data=True`, which only an owner with a second factor enrolled
    can get: the token then counts as an MFA-verified sign-in (PRV-ACC-2).
    """
    from quietshelf.accounts.models import RoleGrant
    from quietshelf.accounts.selectors import has_second_factor

    owner = StaffUser.objects.filter(username=username).first()
    if owner is None:
        raise NotFound(f"no staff account named {username!r}")
    if not owner.is_active:
        raise InvalidInput(f"the staff account {username!r} is disabled")
    held = {
        code: perms or []
        for code, perms in RoleGrant.objects.filter(user_id=owner.pk).values_list(
            "role__code", "role__permissions"
        )
    }
    chosen = list(dict.fromkeys(role_codes or held))
    missing = [code for code in chosen if code not in held]
    if missing:
        raise InvalidInput(
            f"the staff account {username!r} does not hold the role(s) {', '.join(missing)}",
            code="role_not_held",
        )
    permissions = sorted({perm for code in chosen for perm in held[code]})
    if owner.is_superuser and not role_codes:
        from quietshelf.accounts.authz import PERMISSIONS

        permissions = sorted(PERMISSIONS)
    if personal_data and not has_second_factor(owner):
        raise InvalidInput(
            "a token that reaches patron data needs an owner with a second factor enrolled",
            code="mfa_required",
        )
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        owner=owner,
        name=name[:100],
        token_hash=hash_token(raw),
        created=clock.today(),
        permissions=permissions,
        personal_data=personal_data,
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
    owner = token.owner
    # accounts.roles reads both: the token's own scope within the owner's roles,
    # and whether it stands in for an MFA-verified session.
    owner.token_permissions = frozenset(token.permissions)
    owner.mfa_verified = token.personal_data
    return owner
