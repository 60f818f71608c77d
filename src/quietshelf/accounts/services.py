"""Staff account use cases (docs/roles.md).

Passwords are generated, shown once, stored as Argon2id. Every change to
roles, grants, second factors, training and account state writes an audit
entry through the privacy kernel (ids and short codes only).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from quietshelf.accounts import authz, mfa, policy, roles, sessions
from quietshelf.accounts.builtin import BUILTIN_ROLES, sync_builtin_roles
from quietshelf.accounts.models import (
    OrgUnit,
    OrgUnitKind,
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
from quietshelf.core import after_response
from quietshelf.core.errors import Conflict, InvalidInput, NotFound, RateLimited
from quietshelf.privacy import audit

log = logging.getLogger(__name__)

_WORDS = (
    "amber birch cedar delta ember fjord glade harbor island juniper kestrel lantern meadow "
    "north orchard pebble quartz river spruce tundra umber valley willow yarrow zephyr"
).split()


def generate_password() -> str:
    """Four random words and a number: long, typeable, never a default."""
    words = [secrets.choice(_WORDS) for _ in range(4)]
    return "-".join(words) + f"-{secrets.randbelow(90) + 10}"


# --- accounts ---------------------------------------------------------------------------


@transaction.atomic(durable=True)
def staff_create(
    *,
    actor,
    username: str,
    administrator: bool = False,
    role_codes: list[str] | tuple[str, ...] = (),
    org_unit: OrgUnit | None = None,
) -> str:
    """Create a staff account (optionally with roles on `org_unit`, default the root);
    return its one-time password."""
    authz.require(actor, "accounts.manage_staff")
    username = (username or "").strip()
    if not username or len(username) > 150:
        raise InvalidInput("a username is 1 to 150 characters", code="bad_username")
    if StaffUser.objects.filter(username=username).exists():
        raise Conflict(f"a staff account named {username!r} already exists", code="duplicate")
    password = generate_password()
    user = StaffUser.objects.create_user(
        username, password, is_superuser=administrator, is_staff=True
    )
    audit.record(actor=actor, action="created", obj=user)
    for code in role_codes:
        _role_grant(actor=actor, user=user, role=role_get(code=code), org_unit=org_unit)
    return password


@transaction.atomic(durable=True)
def staff_reset_password(*, actor, username: str) -> str:
    authz.require(actor, "accounts.manage_staff")
    user = StaffUser.objects.select_for_update().filter(username=username).first()
    if user is None:
        raise NotFound(f"no staff account named {username!r}")
    password = generate_password()
    user.set_password(password)
    user.save(update_fields=["password"])
    sessions.end_all_sessions(user)
    audit.record(actor=actor, action="changed", obj=user, reason="password reset")
    return password


@transaction.atomic(durable=True)
def staff_set_active(*, actor, user: StaffUser, active: bool) -> None:
    """Disable (ending every session of the account) or enable a staff account."""
    authz.require(actor, "accounts.manage_staff")
    if actor is not None and getattr(actor, "pk", None) == user.pk and not active:
        raise InvalidInput("you cannot disable your own account", code="self_disable")
    user.is_active = active
    user.save(update_fields=["is_active"])
    if not active:
        sessions.end_all_sessions(user)
    audit.record(
        actor=actor, action="changed", obj=user, reason="enabled" if active else "disabled"
    )


@transaction.atomic(durable=True)
def password_change(*, actor: StaffUser, new_password: str, keep_session: str | None) -> None:
    """The staff member changes their own password; every other session ends."""
    try:
        validate_password(new_password, actor)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages), code="weak_password") from None
    actor.set_password(new_password)
    actor.save(update_fields=["password"])
    sessions.end_all_sessions(actor, except_key=keep_session)
    audit.record(actor=actor, action="changed", obj=actor, reason="password changed")


# --- organisation tree --------------------------------------------------------------------


@transaction.atomic(durable=True)
def org_unit_create(
    *,
    actor,
    kind: str,
    code: str,
    name: str,
    parent: OrgUnit | None = None,
    branch=None,
) -> OrgUnit:
    authz.require(actor, "accounts.manage_staff")
    if kind not in OrgUnitKind.values:
        raise InvalidInput(f"unknown kind {kind!r}", code="bad_kind")
    if kind == OrgUnitKind.BRANCH and branch is None:
        raise InvalidInput("a branch unit stands for a catalogue branch", code="no_branch")
    if kind != OrgUnitKind.BRANCH and branch is not None:
        raise InvalidInput("only a branch unit stands for a catalogue branch", code="branch")
    if parent is None and OrgUnit.objects.filter(parent__isnull=True).exists():
        raise InvalidInput("the tree already has a root: choose a parent", code="two_roots")
    if parent is not None and parent.kind == OrgUnitKind.BRANCH:
        raise InvalidInput("a branch has no units under it", code="under_branch")
    if OrgUnit.objects.filter(code=code).exists():
        raise Conflict(f"an org unit with code {code!r} exists", code="duplicate")
    if branch is not None and OrgUnit.objects.filter(branch=branch).exists():
        raise Conflict("that branch already has an org unit", code="duplicate_branch")
    unit = OrgUnit.objects.create(kind=kind, code=code, name=name, parent=parent, branch=branch)
    audit.record(actor=actor, action="created", obj=unit)
    return unit


@transaction.atomic(durable=True)
def org_tree_from_branches(
    *, actor, consortium_code: str = "ROOT", consortium_name: str = "All libraries"
) -> OrgUnit:
    """Make sure every catalogue branch has a branch unit under one root (idempotent)."""
    return _org_tree_from_branches(
        actor=actor, consortium_code=consortium_code, consortium_name=consortium_name
    )


def _org_tree_from_branches(
    *, actor, consortium_code: str = "ROOT", consortium_name: str = "All libraries"
) -> OrgUnit:
    from quietshelf.catalog.models import Branch

    authz.require(actor, "accounts.manage_staff")
    root = OrgUnit.objects.filter(parent__isnull=True).first()
    if root is None:
        root = OrgUnit.objects.create(
            kind=OrgUnitKind.CONSORTIUM, code=consortium_code, name=consortium_name
        )
    for branch in Branch.objects.filter(org_unit__isnull=True).order_by("code"):
        code = f"B-{branch.code}"[:32]
        if OrgUnit.objects.filter(code=code).exists():
            code = f"B-{branch.pk}"
        OrgUnit.objects.create(
            kind=OrgUnitKind.BRANCH, code=code, name=branch.name, parent=root, branch=branch
        )
    return root


def root_unit() -> OrgUnit:
    root = OrgUnit.objects.filter(parent__isnull=True).first()
    if root is None:  # in the caller's transaction (a role grant on a fresh database)
        root = _org_tree_from_branches(actor=None)
    return root


# --- roles ---------------------------------------------------------------------------------


def role_get(*, code: str) -> Role:
    role = Role.objects.filter(code=code).first()
    if role is None and code in BUILTIN_ROLES:
        # The data migration made them; a flushed database (tests) gets them back here.
        sync_builtin_roles(Role)
        role = Role.objects.filter(code=code).first()
    if role is None:
        raise NotFound(f"no role {code!r}")
    return role


@transaction.atomic(durable=True)
def role_create(*, actor, name: str, permissions: list[str], description: str = "") -> Role:
    authz.require(actor, "accounts.manage_staff")
    name = (name or "").strip()
    if not name:
        raise InvalidInput("a role needs a name", code="no_name")
    unknown = [p for p in permissions if p not in authz.PERMISSIONS]
    if unknown:
        raise InvalidInput(f"unknown permissions: {', '.join(unknown)}", code="bad_permission")
    if not permissions:
        raise InvalidInput("choose at least one permission", code="no_permission")
    code = slugify(name)[:50] or "role"
    if Role.objects.filter(name__iexact=name).exists() or Role.objects.filter(code=code).exists():
        raise Conflict(f"a role named {name!r} exists", code="duplicate")
    role = Role.objects.create(
        code=code, name=name, description=description, permissions=sorted(set(permissions))
    )
    audit.record(actor=actor, action="created", obj=role)
    return role


@transaction.atomic(durable=True)
def role_grant(*, actor, user: StaffUser, role: Role, org_unit: OrgUnit | None = None):
    """Grant `role` to `user` on `org_unit` (default: the root of the tree)."""
    return _role_grant(actor=actor, user=user, role=role, org_unit=org_unit)


def _role_grant(*, actor, user: StaffUser, role: Role, org_unit: OrgUnit | None = None):
    """role_grant in the caller's transaction (staff_create grants the roles it is given)."""
    authz.require(actor, "accounts.manage_staff")
    org_unit = org_unit or root_unit()
    try:
        with transaction.atomic():
            grant = RoleGrant.objects.create(
                user=user,
                role=role,
                org_unit=org_unit,
                granted_by_id=actor.pk if isinstance(actor, StaffUser) else None,
            )
    except IntegrityError:
        raise Conflict("that role is already granted there", code="duplicate") from None
    roles.forget(user)
    audit.record(actor=actor, action="created", obj=grant, reason=f"role {role.code}")
    return grant


@transaction.atomic(durable=True)
def role_revoke(*, actor, grant_id: int) -> None:
    authz.require(actor, "accounts.manage_staff")
    grant = RoleGrant.objects.filter(pk=grant_id).select_related("role").first()
    if grant is None:
        raise NotFound("no such role grant")
    audit.record(actor=actor, action="deleted", obj=grant, reason=f"role {grant.role.code}")
    grant.delete()
    roles.forget(grant.user)


# --- privacy training (PRV-ACC-3) ---------------------------------------------------------------


@transaction.atomic(durable=True)
def training_publish(*, actor, title: str, body: str) -> TrainingText:
    """A new version of the training text: everyone must acknowledge it again."""
    authz.require(actor, "privacy.manage_policy")
    if not (title or "").strip() or not (body or "").strip():
        raise InvalidInput("the training needs a title and a text", code="empty")
    last = TrainingText.objects.order_by("-version").values_list("version", flat=True).first()
    text = TrainingText.objects.create(version=(last or 0) + 1, title=title, body=body)
    audit.record(actor=actor, action="created", obj=text, reason=f"version {text.version}")
    return text


@transaction.atomic(durable=True)
def training_acknowledge(*, actor: StaffUser, version: int) -> TrainingAcknowledgement:
    current = TrainingText.objects.order_by("-version").first()
    if current is None or current.version != version:
        raise InvalidInput("that is not the current training text", code="stale_version")
    ack, _ = TrainingAcknowledgement.objects.get_or_create(user_id=actor.pk, version=version)
    roles.forget(actor)
    audit.record(actor=actor, action="acknowledged", obj=ack, reason=f"training {version}")
    return ack


# --- second factors (PRV-ACC-2) -------------------------------------------------------------------


@transaction.atomic(durable=True)
def totp_begin(*, actor: StaffUser) -> StaffTOTPDevice:
    """An unconfirmed authenticator for `actor` (replacing an earlier unconfirmed one)."""
    StaffTOTPDevice.objects.filter(user_id=actor.pk, confirmed=False).delete()
    return StaffTOTPDevice.objects.create(
        user_id=actor.pk,
        subject_id=actor.subject_id,
        name="Authenticator app",
        key=mfa.new_totp_secret(),
        confirmed=False,
    )


@transaction.atomic(durable=True)
def totp_confirm(*, actor: StaffUser, device_id, token: str) -> list[str] | None:
    """Confirm the authenticator with a code from it; returns new recovery codes if the
    account had none."""
    device = (
        StaffTOTPDevice.objects.select_for_update()
        .filter(pk=device_id, user_id=actor.pk, confirmed=False)
        .first()
    )
    if device is None:
        raise NotFound("start again: no authenticator is waiting for a code")
    if not mfa.totp_check(device, token):
        raise InvalidInput("that code is not right; check the clock of your phone", code="bad_code")
    device.confirmed = True
    device.save(update_fields=["confirmed", "last_t"])
    audit.record(actor=actor, action="created", obj=device, reason="mfa totp enrolled")
    if RecoveryCode.objects.filter(user_id=actor.pk, used_at__isnull=True).exists():
        return None
    return _recovery_codes_regenerate(actor=actor)


@transaction.atomic(durable=True)
def totp_remove(*, actor: StaffUser, device_id) -> None:
    device = StaffTOTPDevice.objects.filter(pk=device_id, user_id=actor.pk).first()
    if device is None:
        raise NotFound("no such authenticator")
    audit.record(actor=actor, action="deleted", obj=device, reason="mfa totp removed")
    device.delete()


@transaction.atomic(durable=True)
def recovery_codes_regenerate(*, actor: StaffUser) -> list[str]:
    """Ten new single-use codes (shown once); the old ones stop working."""
    return _recovery_codes_regenerate(actor=actor)


def _recovery_codes_regenerate(*, actor: StaffUser) -> list[str]:
    """recovery_codes_regenerate in the caller's transaction (totp_confirm's first codes)."""
    RecoveryCode.objects.filter(user_id=actor.pk).delete()
    codes = mfa.new_recovery_codes()
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user_id=actor.pk, code_hash=RecoveryCode.digest(code)) for code in codes
    )
    audit.record(actor=actor, action="changed", obj=actor, reason="mfa recovery codes made")
    return codes


class SecondFactorLocked(RateLimited):
    """Too many wrong second-factor answers: nothing is checked until `locked_until`."""

    code = "second_factor_locked"


def _guard(user: StaffUser) -> SecondFactorGuard:
    """The account's guard row, locked for this transaction (made on first use)."""
    guard = SecondFactorGuard.objects.select_for_update().filter(user_id=user.pk).first()
    if guard is not None:
        return guard
    try:
        with transaction.atomic():  # a savepoint: another sign-in may make it at the same time
            SecondFactorGuard.objects.create(user_id=user.pk, subject_id=user.subject_id)
    except IntegrityError:
        pass
    return SecondFactorGuard.objects.select_for_update().get(user_id=user.pk)


def _refuse_if_locked(guard: SecondFactorGuard) -> None:
    if guard.locked_until is not None and guard.locked_until > timezone.now():
        raise SecondFactorLocked(
            "Too many wrong codes: two-step sign-in for this account is locked for a while.",
            details={"locked_until": guard.locked_until.isoformat()},
        )


def _second_factor_succeeded(guard: SecondFactorGuard) -> None:
    if guard.failures or guard.locks or guard.locked_until:
        guard.failures = 0
        guard.locks = 0
        guard.locked_until = None
        guard.save(update_fields=["failures", "locks", "locked_until"])


def _second_factor_failed(guard: SecondFactorGuard, user: StaffUser, kind: str) -> None:
    """Count one wrong answer; lock (and tell the account holder) at the limit."""
    now = timezone.now()
    guard.failures += 1
    guard.last_failure_at = now
    if not policy.lock_due(
        failures=guard.failures, max_failures=settings.QUIETSHELF_MFA_MAX_FAILURES
    ):
        guard.save(update_fields=["failures", "last_failure_at"])
        return
    seconds = policy.lock_seconds(
        locks_before=guard.locks,
        base=settings.QUIETSHELF_MFA_LOCK_SECONDS,
        cap=settings.QUIETSHELF_MFA_LOCK_MAX_SECONDS,
    )
    guard.failures = 0
    guard.locks += 1
    guard.locked_until = now + dt.timedelta(seconds=seconds)
    guard.save(update_fields=["failures", "locks", "locked_until", "last_failure_at"])
    audit.record(actor=None, action="locked", obj=user, reason=f"second factor, {kind}")
    _alert_locked(guard, user)


def _alert_locked(guard: SecondFactorGuard, user: StaffUser) -> None:
    """Mail the account holder after commit (never inside the transaction, never logged)."""
    from django.core.mail import send_mail
    from django.template.loader import render_to_string
    from django.utils import translation

    address = guard.alert_email
    if not address or not isinstance(address, str):
        return  # no address given (or unreadable): administrators see the lock on the staff page
    with translation.override(settings.LANGUAGE_CODE):
        context = {
            "locked_until": timezone.localtime(guard.locked_until),
            "site": settings.QUIETSHELF_SITE_URL.rstrip("/"),
        }
        subject = render_to_string("accounts/email/mfa_locked_subject.txt", context).strip()
        body = render_to_string("accounts/email/mfa_locked.txt", context)
    user_id = user.pk

    def deliver() -> None:
        try:
            send_mail(subject, body, None, [address])
        except Exception as exc:  # noqa: BLE001 - the lock holds whether or not mail goes
            # the type only: an SMTP error can quote the address (PRV-LOG-1)
            log.error(
                "second-factor lock alert for staff %s failed: %s", user_id, type(exc).__name__
            )

    transaction.on_commit(lambda: after_response.defer(deliver))


@transaction.atomic(durable=True)
def second_factor_verify(*, user: StaffUser, token: str) -> str | None:
    """Check a TOTP code or a recovery code; returns 'totp', 'recovery' or None.

    Every wrong answer counts against the account in the database (SEC-AUTH-1);
    while the second factor is locked nothing is checked: SecondFactorLocked.
    """
    return second_factor_verify_in_transaction(user=user, token=token)


def second_factor_verify_in_transaction(*, user: StaffUser, token: str) -> str | None:
    """second_factor_verify in the caller's transaction: a release by the privacy office
    checks the officer's fresh second factor and records its decision in one transaction
    (a recovery code is used only if the release is)."""
    guard = _guard(user)
    _refuse_if_locked(guard)
    token = (token or "").strip()
    if mfa.looks_like_recovery_code(token):
        code = (
            RecoveryCode.objects.select_for_update()
            .filter(user=user, code_hash=RecoveryCode.digest(token), used_at__isnull=True)
            .first()
        )
        if code is None:
            _second_factor_failed(guard, user, "recovery code")
            return None
        code.used_at = timezone.now()
        code.save(update_fields=["used_at"])
        audit.record(actor=user, action="changed", obj=user, reason="mfa recovery code used")
        _second_factor_succeeded(guard)
        return "recovery"
    for device in StaffTOTPDevice.objects.select_for_update().filter(user=user, confirmed=True):
        if mfa.totp_verify(device, token):
            _second_factor_succeeded(guard)
            return "totp"
    _second_factor_failed(guard, user, "code")
    return None


@transaction.atomic(durable=True)
def second_factor_assertion(*, user: StaffUser, accepted: bool) -> None:
    """Count a security-key assertion (WebAuthn) like a code: a failure counts, a success
    clears. Raises SecondFactorLocked while locked (checked before the key is asked)."""
    guard = _guard(user)
    _refuse_if_locked(guard)
    if accepted:
        _second_factor_succeeded(guard)
    else:
        _second_factor_failed(guard, user, "security key")


@transaction.atomic(durable=True)
def second_factor_unlock(*, actor, user: StaffUser) -> None:
    """An administrator lifts a lock (after talking to the staff member)."""
    authz.require(actor, "accounts.manage_staff")
    guard = _guard(user)
    guard.failures = 0
    guard.locks = 0
    guard.locked_until = None
    guard.save(update_fields=["failures", "locks", "locked_until"])
    audit.record(actor=actor, action="changed", obj=user, reason="second factor unlocked")


@transaction.atomic(durable=True)
def second_factor_alert_email_set(*, actor: StaffUser, email: str) -> None:
    """The staff member's own address for security alerts (empty: none)."""
    guard = _guard(actor)
    guard.alert_email = (email or "").strip() or None
    guard.save(update_fields=["alert_email"])
    audit.record(actor=actor, action="changed", obj=actor, reason="security alert address")


@transaction.atomic(durable=True)
def webauthn_add(
    *, actor: StaffUser, name: str, credential_id_hex: str, public_key_hex: str, sign_count: int
) -> WebAuthnCredential:
    cred = WebAuthnCredential.objects.create(
        user_id=actor.pk,
        subject_id=actor.subject_id,
        name=(name or "Security key")[:64],
        credential_id=credential_id_hex,
        public_key=public_key_hex,
        sign_count=sign_count,
    )
    audit.record(actor=actor, action="created", obj=cred, reason="mfa security key added")
    return cred


@transaction.atomic(durable=True)
def webauthn_remove(*, actor: StaffUser, credential_id) -> None:
    cred = WebAuthnCredential.objects.filter(pk=credential_id, user_id=actor.pk).first()
    if cred is None:
        raise NotFound("no such security key")
    audit.record(actor=actor, action="deleted", obj=cred, reason="mfa security key removed")
    cred.delete()
