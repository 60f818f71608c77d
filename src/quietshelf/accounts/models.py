"""Staff accounts.

The user model holds no name or email: a staff member is known to the system
by a username only, and even that is personal data: it is stored encrypted
under the staff member's own data key, and found at sign-in through a blind
index (HMAC of the case-folded username). `StaffUser.objects.filter(username=…)`
still works: the query set turns it into a look-up on the index.

Also here (docs/roles.md): the organisation tree (OrgUnit), roles and their
grants on the tree, privacy training texts and acknowledgements, second
factors (TOTP with an encrypted secret, hashed recovery codes, WebAuthn
credentials) and the list of each staff member's open sessions.
"""

from __future__ import annotations

import hashlib
import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django_otp.models import Device

from quietshelf.privacy.fields import BlindIndexField, EncryptedTextField, SubjectField
from quietshelf.privacy.inventory import personal

_INDEXED_LOOKUPS = {"username": "", "username__exact": "", "username__iexact": ""}


class StaffUserQuerySet(models.QuerySet):
    """Turns username look-ups into blind-index look-ups (the username is encrypted)."""

    def _filter_or_exclude(self, negate, args, kwargs):
        if any(key.startswith("username") for key in kwargs):
            kwargs = dict(kwargs)
            index = self.model._meta.get_field("username_index")
            for key in list(kwargs):
                if key in _INDEXED_LOOKUPS:
                    kwargs["username_index"] = index.digest(kwargs.pop(key))
                elif key == "username__in":
                    kwargs["username_index__in"] = [index.digest(v) for v in kwargs.pop(key)]
                elif key.startswith("username__") or key == "username":
                    raise models.FieldError(
                        "the username is encrypted: only exact (case-insensitive) look-ups work"
                    )
        return super()._filter_or_exclude(negate, args, kwargs)


class StaffUserManager(BaseUserManager.from_queryset(StaffUserQuerySet)):
    def create_user(self, username: str, password: str | None = None, **extra):
        if not username:
            raise ValueError("A staff account needs a username")
        user = self.model(username=username, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, username: str, password: str | None = None, **extra):
        extra.setdefault("is_superuser", True)
        extra.setdefault("is_staff", True)
        return self.create_user(username, password, **extra)


class StaffUser(AbstractBaseUser, PermissionsMixin):
    """A person who signs in to the staff interface."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = SubjectField(kind="staff")
    username = EncryptedTextField(max_length=150)
    username_index = BlindIndexField(source="username", normalizer="username", unique=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    USERNAME_FIELD = "username"
    REQUIRED_FIELDS: list[str] = []

    objects = StaffUserManager()

    class Privacy:
        subject = "staff"
        fields = {
            "username": personal(
                category="identifier",
                risk="medium",
                purpose="signing in to the staff interface",
                legal_basis="contract",
                source="chosen by an administrator",
                retention="staff_account",
                readers=("administrator", "privacy_office"),
            ),
            "username_index": personal(
                category="identifier",
                risk="low",
                purpose="finding the account at sign-in without storing the username in clear",
                legal_basis="contract",
                source="derived from the username",
                retention="staff_account",
                readers=("system",),
            ),
            "password": personal(
                category="credential",
                risk="high",
                purpose="signing in (an Argon2id hash, never the password)",
                legal_basis="contract",
                source="the staff member",
                retention="staff_account",
                readers=("system",),
            ),
            "last_login": personal(
                category="account",
                risk="low",
                purpose="spotting unused accounts",
                legal_basis="legitimate_interest",
                source="system",
                retention="staff_account",
                readers=("administrator", "privacy_office"),
            ),
            "subject": personal(
                category="identifier",
                risk="low",
                purpose="the key that encrypts this staff member's data",
                legal_basis="contract",
                source="system",
                retention="staff_account",
                readers=("system",),
            ),
        }
        not_personal: dict = {}

    def __str__(self) -> str:
        return f"staff:{self.pk}"


# --- organisation tree (DESIGN.md, Tenancy) -------------------------------------------


class OrgUnitKind(models.TextChoices):
    CONSORTIUM = "consortium", "Consortium"
    LIBRARY = "library", "Library"
    BRANCH = "branch", "Branch"


class OrgUnit(models.Model):
    """A node of the organisation tree; a branch-level unit stands for one catalog.Branch."""

    kind = models.CharField(max_length=12, choices=OrgUnitKind.choices)
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    branch = models.OneToOneField(
        "catalog.Branch",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="org_unit",
    )

    class Meta:
        ordering = ["code"]

    class Privacy:  # reviewed: no personal data
        not_personal = {"code": "unit code", "name": "name of a library or branch"}

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


# --- roles ------------------------------------------------------------------------------


class Role(models.Model):
    """A named set of permissions (names from authz.PERMISSIONS)."""

    code = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    builtin = models.BooleanField(default=False)
    permissions = models.JSONField(default=list)

    class Meta:
        ordering = ["-builtin", "name"]

    class Privacy:  # reviewed: no personal data
        not_personal = {
            "code": "role code",
            "name": "role name",
            "description": "what the role is for",
            "permissions": "permission names",
        }

    def __str__(self) -> str:
        return self.name


class RoleGrant(models.Model):
    """`role` held by `user` on `org_unit` and everything under it."""

    user = models.ForeignKey(StaffUser, on_delete=models.CASCADE, related_name="role_grants")
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="grants")
    org_unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="grants")
    granted_at = models.DateTimeField(auto_now_add=True)
    granted_by = models.ForeignKey(
        StaffUser, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "role", "org_unit"], name="accounts_grant_once")
        ]

    class Privacy:
        subject = "staff"
        fields = {
            "user": personal(
                category="account",
                risk="low",
                purpose="knowing what a staff member may do and where",
                legal_basis="contract",
                source="an administrator",
                retention="staff_account",
                readers=("administrator", "privacy_office"),
            ),
            "granted_by": personal(
                category="account",
                risk="low",
                purpose="knowing who granted a role",
                legal_basis="legitimate_interest",
                source="system",
                retention="staff_account",
                readers=("administrator", "privacy_office"),
            ),
        }
        not_personal: dict = {}

    def __str__(self) -> str:
        return f"grant:{self.pk}"


# --- privacy training (PRV-ACC-3) -----------------------------------------------------------


class TrainingText(models.Model):
    """A version of the privacy training text; the highest version is the current one."""

    version = models.PositiveIntegerField(unique=True)
    title = models.CharField(max_length=200)
    body = models.TextField()
    published_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]

    class Privacy:  # reviewed: no personal data
        not_personal = {"title": "title of the training", "body": "the training text"}

    def __str__(self) -> str:
        return f"training v{self.version}"


class TrainingAcknowledgement(models.Model):
    user = models.ForeignKey(
        StaffUser, on_delete=models.CASCADE, related_name="training_acknowledgements"
    )
    version = models.PositiveIntegerField()
    acknowledged_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "version"], name="accounts_ack_once")
        ]

    class Privacy:
        subject = "staff"
        fields = {
            "user": personal(
                category="account",
                risk="low",
                purpose="showing that a staff member took the privacy training (PRV-ACC-3)",
                legal_basis="legal_obligation",
                source="the staff member",
                retention="staff_account",
                readers=("administrator", "privacy_office"),
            ),
        }
        not_personal: dict = {}

    def __str__(self) -> str:
        return f"acknowledgement:{self.pk}"


# --- second factors (PRV-ACC-2) ------------------------------------------------------------

_DEVICE_USER = personal(
    category="account",
    risk="low",
    purpose="knowing whose second factor this is",
    legal_basis="contract",
    source="the staff member",
    retention="staff_account",
    readers=("system",),
)
_DEVICE_SUBJECT = personal(
    category="identifier",
    risk="low",
    purpose="the key that encrypts the second factor",
    legal_basis="contract",
    source="system",
    retention="staff_account",
    readers=("system",),
)


class StaffTOTPDevice(Device):
    """An authenticator app (RFC 6238). The shared secret is encrypted under the
    staff member's data key; codes are checked by django_otp.oath.TOTP."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = SubjectField(kind="staff")
    key = EncryptedTextField(max_length=80)  # hex secret
    step = models.PositiveSmallIntegerField(default=30)
    digits = models.PositiveSmallIntegerField(default=6)
    tolerance = models.PositiveSmallIntegerField(default=1)
    last_t = models.BigIntegerField(default=-1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Privacy:
        subject = "staff"
        fields = {
            "user": _DEVICE_USER,
            "subject": _DEVICE_SUBJECT,
            "key": personal(
                category="credential",
                risk="high",
                purpose="checking the codes of the staff member's authenticator app",
                legal_basis="contract",
                source="generated at enrolment",
                retention="staff_account",
                readers=("system",),
            ),
        }
        not_personal = {"name": "a label chosen by the staff member"}

    def verify_token(self, token) -> bool:
        from quietshelf.accounts import mfa

        return mfa.totp_verify(self, token)


class RecoveryCode(models.Model):
    """One single-use recovery code, stored as SHA-256 of a 50-bit random code."""

    user = models.ForeignKey(StaffUser, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Privacy:
        subject = "staff"
        fields = {
            "user": _DEVICE_USER,
            "code_hash": personal(
                category="credential",
                risk="medium",
                purpose="signing in when the authenticator is lost (a hash, never the code)",
                legal_basis="contract",
                source="generated for the staff member",
                retention="staff_account",
                readers=("system",),
            ),
        }
        not_personal: dict = {}

    def __str__(self) -> str:
        return f"recovery-code:{self.pk}"

    @staticmethod
    def digest(code: str) -> str:
        norm = "".join(ch for ch in code.upper() if ch.isalnum())
        return hashlib.sha256(norm.encode()).hexdigest()


class WebAuthnCredential(models.Model):
    """A security key or passkey (WebAuthn). The credential id and public key are
    encrypted; a blind index finds the credential at sign-in."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(StaffUser, on_delete=models.CASCADE, related_name="webauthn_keys")
    subject = SubjectField(kind="staff")
    name = models.CharField(max_length=64)
    credential_id = EncryptedTextField()  # hex (the blind index case-folds)
    credential_index = BlindIndexField(source="credential_id", normalizer="text", unique=True)
    public_key = EncryptedTextField()  # base64url COSE key
    sign_count = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Privacy:
        subject = "staff"
        fields = {
            "user": _DEVICE_USER,
            "subject": _DEVICE_SUBJECT,
            "credential_id": personal(
                category="credential",
                risk="medium",
                purpose="recognising the staff member's security key",
                legal_basis="contract",
                source="the staff member's security key",
                retention="staff_account",
                readers=("system",),
            ),
            "credential_index": personal(
                category="credential",
                risk="low",
                purpose="finding the security key at sign-in without storing its id in clear",
                legal_basis="contract",
                source="derived from the credential id",
                retention="staff_account",
                readers=("system",),
            ),
            "public_key": personal(
                category="credential",
                risk="medium",
                purpose="checking the security key's signature",
                legal_basis="contract",
                source="the staff member's security key",
                retention="staff_account",
                readers=("system",),
            ),
        }
        not_personal = {"name": "a label chosen by the staff member"}

    def __str__(self) -> str:
        return f"security-key:{self.pk}"


class SecondFactorGuard(models.Model):
    """Wrong second-factor answers for one staff account and the lock they lead to (SEC-AUTH-1).

    Kept in the database, one row per account, so the count holds across
    sign-ins, sessions and devices: TOTP codes, recovery codes and security-key
    assertions all count. After `QUIETSHELF_MFA_MAX_FAILURES` wrong answers the
    second factor is locked; each lock in a row lasts twice the one before
    (accounts.policy.lock_seconds). The row also holds the address the account
    holder gave for security alerts (encrypted under their key).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.OneToOneField(
        StaffUser, on_delete=models.CASCADE, related_name="second_factor_guard"
    )
    subject = SubjectField(kind="staff")
    failures = models.PositiveIntegerField(default=0)  # wrong answers since the last success/lock
    locks = models.PositiveIntegerField(default=0)  # locks in a row: the back-off doubles
    locked_until = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    alert_email = EncryptedTextField(null=True, blank=True)

    class Privacy:
        subject = "staff"
        fields = {
            "user": _DEVICE_USER,
            "subject": _DEVICE_SUBJECT,
            "failures": personal(
                category="technical",
                risk="low",
                purpose="locking a second factor someone is guessing",
                legal_basis="legitimate_interest",
                source="counted at sign-in",
                retention="staff_account",
                readers=("administrator",),
            ),
            "locks": personal(
                category="technical",
                risk="low",
                purpose="making each lock of a guessed second factor longer",
                legal_basis="legitimate_interest",
                source="counted at sign-in",
                retention="staff_account",
                readers=("administrator",),
            ),
            "locked_until": personal(
                category="technical",
                risk="low",
                purpose="showing administrators a locked second factor",
                legal_basis="legitimate_interest",
                source="set at sign-in",
                retention="staff_account",
                readers=("administrator",),
            ),
            "last_failure_at": personal(
                category="technical",
                risk="low",
                purpose="showing administrators when a wrong code was last given",
                legal_basis="legitimate_interest",
                source="set at sign-in",
                retention="staff_account",
                readers=("administrator",),
            ),
            "alert_email": personal(
                category="contact",
                risk="medium",
                purpose="telling the staff member that their second factor was locked",
                legal_basis="legitimate_interest",
                source="the staff member",
                retention="staff_account",
                readers=("system",),
            ),
        }
        not_personal: dict = {}

    def __str__(self) -> str:
        return f"second-factor-guard:{self.pk}"


# --- sessions (SEC-SES-1) ------------------------------------------------------------------------


class StaffSession(models.Model):
    """Which sessions belong to whom, so sign-out and disabling end them all."""

    user = models.ForeignKey(StaffUser, on_delete=models.CASCADE, related_name="sessions")
    session_key = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Privacy:
        subject = "staff"
        fields = {
            "user": _DEVICE_USER,
            "session_key": personal(
                category="technical",
                risk="medium",
                purpose="ending every session of a staff member at sign-out or when disabled",
                legal_basis="contract",
                source="generated when the staff member signs in",
                retention="session",
                readers=("system",),
            ),
        }
        not_personal: dict = {}

    def __str__(self) -> str:
        return f"session:{self.pk}"
