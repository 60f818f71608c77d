"""Reads for staff accounts, roles, the organisation tree and training."""

from __future__ import annotations

from django.db.models import Count, F
from django.utils import timezone

from quietshelf.accounts import authz
from quietshelf.accounts.models import (
    OrgUnit,
    RecoveryCode,
    Role,
    RoleGrant,
    SecondFactorGuard,
    StaffTOTPDevice,
    StaffUser,
    TrainingAcknowledgement,
    TrainingText,
    WebAuthnCredential,
)
from quietshelf.accounts.roles import training_acknowledged  # noqa: F401 - pages ask here


def current_training() -> TrainingText | None:
    return TrainingText.objects.order_by("-version").first()


def last_acknowledgement(user) -> TrainingAcknowledgement | None:
    return TrainingAcknowledgement.objects.filter(user_id=user.pk).order_by("-version").first()


def has_second_factor(user) -> bool:
    return (
        StaffTOTPDevice.objects.filter(user_id=user.pk, confirmed=True).exists()
        or WebAuthnCredential.objects.filter(user_id=user.pk).exists()
    )


def totp_devices(user):
    return StaffTOTPDevice.objects.filter(user_id=user.pk, confirmed=True).order_by("created_at")


def webauthn_credentials(user):
    return WebAuthnCredential.objects.filter(user_id=user.pk).order_by("created_at")


def recovery_codes_left(user) -> int:
    return RecoveryCode.objects.filter(user_id=user.pk, used_at__isnull=True).count()


def staff_list(*, actor):
    authz.require(actor, "accounts.manage_staff")
    now = timezone.now()
    rows = list(
        StaffUser.objects.annotate(
            grant_count=Count("role_grants"),
            mfa_locked_until=F("second_factor_guard__locked_until"),
        ).order_by("created_at")
    )
    for row in rows:  # a lock past its time is shown as none
        if row.mfa_locked_until is not None and row.mfa_locked_until <= now:
            row.mfa_locked_until = None
    return rows


def second_factor_lock(user) -> SecondFactorGuard | None:
    """The account's guard while its second factor is locked (SEC-AUTH-1), else None."""
    return SecondFactorGuard.objects.filter(
        user_id=user.pk, locked_until__gt=timezone.now()
    ).first()


def alert_email(user) -> str:
    """The account holder's own address for security alerts ("" if none)."""
    guard = SecondFactorGuard.objects.filter(user_id=user.pk).first()
    value = guard.alert_email if guard is not None else None
    return value if isinstance(value, str) else ""


def second_factor_guard(user) -> SecondFactorGuard | None:
    """Wrong answers and lock of the account's second factor (None: never a wrong one)."""
    return SecondFactorGuard.objects.filter(user_id=user.pk).first()


def staff_get(*, actor, user_id) -> StaffUser:
    from quietshelf.core.errors import NotFound

    authz.require(actor, "accounts.manage_staff")
    user = StaffUser.objects.filter(pk=user_id).first()
    if user is None:
        raise NotFound("no such staff account")
    return user


def grants_for(user):
    return list(
        RoleGrant.objects.filter(user_id=user.pk)
        .select_related("role", "org_unit")
        .order_by("role__name", "org_unit__code")
    )


def roles():
    return list(Role.objects.all())


def org_units():
    return list(OrgUnit.objects.select_related("branch").order_by("code"))


def org_tree() -> list[tuple[int, OrgUnit]]:
    """(depth, unit) in tree order, for display."""
    units = org_units()
    children: dict[int | None, list[OrgUnit]] = {}
    for unit in units:
        children.setdefault(unit.parent_id, []).append(unit)
    out: list[tuple[int, OrgUnit]] = []

    def walk(parent_id, depth):
        for unit in children.get(parent_id, []):
            out.append((depth, unit))
            if depth < 20:
                walk(unit.pk, depth + 1)

    walk(None, 0)
    return out


def branch_ids_under(unit: OrgUnit | int) -> set[int]:
    from quietshelf.accounts import roles

    return roles.branch_ids_under(unit if isinstance(unit, int) else unit.pk)


def own_branch_id(user) -> int | None:
    """The branch of the staff member's first branch-level role grant (their desk's
    default, CIR-2); None for grants on the library or consortium only."""
    if user is None or not getattr(user, "pk", None):
        return None
    return (
        RoleGrant.objects.filter(user=user, org_unit__branch__isnull=False)
        .order_by("pk")
        .values_list("org_unit__branch_id", flat=True)
        .first()
    )
