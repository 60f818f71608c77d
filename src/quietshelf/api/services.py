"""API token use cases: make one (shown once), revoke one, authenticate with one."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import uuid
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


@transaction.atomic(durable=True)
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


@transaction.atomic(durable=True)
def api_token_revoke(*, actor, token_id: int) -> None:
    if not ApiToken.objects.filter(pk=token_id).update(revoked=True):
        raise NotFound(f"no API token {token_id}")


def api_token_authenticate(*, raw_token: str) -> StaffUser | None:
    """The active staff account a presented token belongs to, or None.

    One statement reads the token, its owner's flags, the owner's role grants and
    whether the current privacy training is acknowledged (what the role checks
    need), every request: a revoked token, a disabled account or a changed role
    counts from the next request on. The owner comes back with only those columns
    loaded (the rest load if something reads them). Marks the token used today
    with at most one small UPDATE a day.
    """
    if not raw_token or len(raw_token) > MAX_TOKEN_CHARS or not raw_token.startswith(TOKEN_PREFIX):
        return None
    from django.db import connections, router

    from quietshelf.accounts import roles

    alias = router.db_for_read(ApiToken)
    with connections[alias].cursor() as cursor:
        cursor.execute(_authenticate_sql(alias), [hash_token(raw_token), False])
        rows = cursor.fetchall()
    if not rows:
        return None
    token_id, last_used, permissions, personal_data = rows[0][:4]
    owner = dict(zip(_OWNER_FIELDS, rows[0][4:9], strict=True))
    if not owner["is_active"]:
        return None
    owner["id"], owner["subject_id"] = _uuid(owner["id"]), _uuid(owner["subject_id"])
    for flag in ("is_active", "is_staff", "is_superuser"):
        owner[flag] = bool(owner[flag])
    # from_db takes the loaded values in the model's field order
    order = [f.attname for f in StaffUser._meta.concrete_fields if f.attname in owner]
    owner = StaffUser.from_db(alias, order, [owner[name] for name in order])
    today = clock.today()
    if _date(last_used) != today:
        ApiToken.objects.filter(pk=token_id).exclude(last_used=today).update(last_used=today)
    grants = [(_json(r[9]), r[10], r[11]) for r in rows if r[10] is not None]
    roles.resolve_from(owner, grants, trained=bool(rows[0][12]))
    # accounts.roles reads both: the token's own scope within the owner's roles,
    # and whether it stands in for an MFA-verified session.
    owner.token_permissions = frozenset(_json(permissions) or ())
    owner.mfa_verified = bool(personal_data)
    return owner


# The owner's columns read with the token; StaffUser.from_db defers the others.
_OWNER_FIELDS = ["id", "subject_id", "is_active", "is_staff", "is_superuser"]
_sql_by_alias: dict[str, str] = {}


def _authenticate_sql(alias: str) -> str:
    sql = _sql_by_alias.get(alias)
    if sql is not None:
        return sql
    from django.db import connections

    from quietshelf.accounts.models import (
        OrgUnit,
        Role,
        RoleGrant,
        TrainingAcknowledgement,
        TrainingText,
    )

    q = connections[alias].ops.quote_name

    def col(model, name):
        return q(model._meta.get_field(name).column)

    def table(model):
        return q(model._meta.db_table)

    owner = ", ".join(f"u.{col(StaffUser, f.removesuffix('_id'))}" for f in _OWNER_FIELDS)
    # Only quoted table and column names from the models go into the text.
    current = f"(SELECT MAX(x.{col(TrainingText, 'version')}) FROM {table(TrainingText)} x)"  # noqa: S608
    sql = (
        f"SELECT t.{col(ApiToken, 'id')}, t.{col(ApiToken, 'last_used')}, "  # noqa: S608
        f"t.{col(ApiToken, 'permissions')}, t.{col(ApiToken, 'personal_data')}, {owner}, "
        f"r.{col(Role, 'permissions')}, g.{col(RoleGrant, 'org_unit')}, "
        f"o.{col(OrgUnit, 'parent')}, "
        f"EXISTS (SELECT 1 FROM {table(TrainingAcknowledgement)} a "
        f"WHERE a.{col(TrainingAcknowledgement, 'user')} = u.{col(StaffUser, 'id')} "
        f"AND a.{col(TrainingAcknowledgement, 'version')} = {current}) "
        f"FROM {table(ApiToken)} t "
        f"JOIN {table(StaffUser)} u ON u.{col(StaffUser, 'id')} = t.{col(ApiToken, 'owner')} "
        f"LEFT JOIN {table(RoleGrant)} g ON g.{col(RoleGrant, 'user')} = u.{col(StaffUser, 'id')} "
        f"LEFT JOIN {table(Role)} r ON r.{col(Role, 'id')} = g.{col(RoleGrant, 'role')} "
        f"LEFT JOIN {table(OrgUnit)} o ON o.{col(OrgUnit, 'id')} = g.{col(RoleGrant, 'org_unit')} "
        f"WHERE t.{col(ApiToken, 'token_hash')} = %s AND t.{col(ApiToken, 'revoked')} = %s"
    )
    _sql_by_alias[alias] = sql
    return sql


def _uuid(value):
    return value if value is None or isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _date(value):
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def _json(value):
    return json.loads(value) if isinstance(value, str | bytes) else value
