"""The privacy kernel's tables.

Main database: data subjects, name-search tokens, the audit log and its
checkpoints, consent records, policy versions and acknowledgements.
Key store database (alias "keystore", see routers.py): wrapped data keys,
master key check values, wrapped instance secrets. Nothing here holds a
personal value in clear.
"""

from __future__ import annotations

import uuid

from django.db import models

from quietshelf.privacy.inventory import personal


class SubjectKind(models.TextChoices):
    PATRON = "patron", "Patron"
    STAFF = "staff", "Staff member"
    VENDOR_CONTACT = "vendor_contact", "Vendor contact"


class Subject(models.Model):
    """A data subject: the owner of one data key. Its personal data lives elsewhere, encrypted."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=20, choices=SubjectKind.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    forgotten_at = models.DateTimeField(null=True, blank=True)

    class Privacy:
        subject = ("patron", "staff", "vendor_contact")
        fields = {
            "created_at": personal(
                category="account",
                risk="low",
                purpose="knowing since when a person's data is held",
                legal_basis="contract",
                source="system",
                retention="staff_account",
                readers=("privacy_office",),
            ),
        }
        not_personal = {"kind": "one of three fixed kinds"}

    def __str__(self) -> str:
        return f"subject:{self.pk}"


class NameToken(models.Model):
    """A blind-indexed name token or prefix, for name search without names (see search.py)."""

    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=40)  # e.g. "patron.name"
    digest = models.CharField(max_length=32)  # HMAC-SHA256 (truncated, hex) of kind|token

    class Meta:
        indexes = [models.Index(fields=["scope", "digest"], name="privacy_nametoken_lookup")]

    class Privacy:
        subject = ("patron", "staff", "vendor_contact")
        fields = {
            "digest": personal(
                category="identity",
                risk="low",
                purpose="finding a person by name without storing the name",
                legal_basis="contract",
                source="derived from the name",
                retention="staff_account",
                readers=("system",),
            ),
            "subject": personal(
                category="identifier",
                risk="low",
                purpose="linking a search token to its person",
                legal_basis="contract",
                source="system",
                retention="staff_account",
                readers=("system",),
            ),
        }
        not_personal = {"scope": "names which index the token belongs to"}

    def __str__(self) -> str:
        return f"name token {self.pk}"


class ActorType(models.TextChoices):
    STAFF = "staff", "Staff member"
    PATRON = "patron", "Patron (themself)"
    SYSTEM = "system", "System job"
    TERMINAL = "terminal", "SIP2 terminal"
    ANONYMOUS = "anonymous", "Not signed in"


class AuditEntry(models.Model):
    """One audited action, by ids only. Appended, never changed; sealed into a hash chain.

    `seq` orders insertion; the sealer gives each entry its `chain_pos` and
    `prev_hash`/`entry_hash` in commit order (audit.py).
    """

    seq = models.BigAutoField(primary_key=True)
    at = models.DateTimeField()
    actor_type = models.CharField(max_length=12, choices=ActorType.choices)
    actor_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=40)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    chain_pos = models.BigIntegerField(null=True, blank=True, unique=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    entry_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="privacy_audit_object"),
            models.Index(fields=["actor_type", "actor_id"], name="privacy_audit_actor"),
        ]
        verbose_name_plural = "audit entries"

    class Privacy:
        subject = ("staff", "patron")
        fields = {
            "actor_id": personal(
                category="identifier",
                risk="medium",
                purpose="accountability: who looked at, changed or erased personal data",
                legal_basis="legal_obligation",
                source="system",
                retention="audit_log",
                readers=("privacy_office",),
            ),
            "object_id": personal(
                category="identifier",
                risk="medium",
                purpose="accountability: whose data was looked at, changed or erased",
                legal_basis="legal_obligation",
                source="system",
                retention="audit_log",
                readers=("privacy_office",),
            ),
            "reason": personal(
                category="free_text",
                risk="low",
                purpose="why an override or disclosure was made (a code, never a personal value)",
                legal_basis="legal_obligation",
                source="staff member",
                retention="audit_log",
                readers=("privacy_office",),
            ),
            "request_id": personal(
                category="technical",
                risk="low",
                purpose="tying an entry to the request log line",
                legal_basis="legitimate_interest",
                source="system",
                retention="audit_log",
                readers=("privacy_office",),
            ),
        }
        not_personal = {
            "actor_type": "fixed kinds of actor",
            "action": "a fixed verb (viewed, changed…)",
            "object_type": "a model label",
            "prev_hash": "a SHA-256 of the previous entry",
            "entry_hash": "a SHA-256 of this entry",
        }

    def __str__(self) -> str:
        return f"audit:{self.seq}"

    def save(self, *args, **kwargs):
        # Appended, never changed: only the sealer fills the chain columns (with update()).
        if not self._state.adding:
            raise TypeError("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("audit entries are append-only")


class AuditChainHead(models.Model):
    """The one row the sealer locks: the last sealed position and hash."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    chain_pos = models.BigIntegerField(default=0)
    entry_hash = models.CharField(max_length=64, default="0" * 64)

    class Privacy:
        fields: dict = {}
        not_personal = {"entry_hash": "a SHA-256"}

    def __str__(self) -> str:
        return f"audit head at {self.chain_pos}"


class AuditCheckpoint(models.Model):
    """A signed statement of the chain head at one position (Ed25519)."""

    chain_pos = models.BigIntegerField(unique=True)
    entry_hash = models.CharField(max_length=64)
    signed_at = models.DateTimeField()
    signature = models.CharField(max_length=128)  # hex
    public_key = models.CharField(max_length=64)  # hex, raw Ed25519 public key

    class Meta:
        ordering = ["chain_pos"]

    class Privacy:
        fields: dict = {}
        not_personal = {
            "entry_hash": "a SHA-256",
            "signature": "a signature",
            "public_key": "the instance's audit public key",
        }

    def __str__(self) -> str:
        return f"audit checkpoint at {self.chain_pos}"


class ConsentRecord(models.Model):
    """A person's consent to one optional use of their data (PRV-CON-1)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="consents")
    scope = models.CharField(max_length=60)
    given_at = models.DateTimeField()
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    policy_version = models.ForeignKey(
        "PolicyVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["subject", "scope"], name="privacy_consent_lookup")]
        constraints = [
            models.UniqueConstraint(
                fields=["subject", "scope"],
                condition=models.Q(withdrawn_at__isnull=True),
                name="privacy_one_active_consent",
            )
        ]

    class Privacy:
        subject = ("patron", "staff")
        fields = {
            "subject": personal(
                category="preference",
                risk="low",
                purpose="proving what a person agreed to, and when",
                legal_basis="legal_obligation",
                source="the person",
                retention="consent",
                readers=("privacy_office", "the person"),
            ),
        }
        not_personal = {"scope": "a registered scope name", "given_at": "when consent was given"}

    def __str__(self) -> str:
        return f"consent {self.pk} ({self.scope})"


class PolicyVersion(models.Model):
    """One version of the privacy policy text (PRV-POL-1)."""

    version = models.CharField(max_length=20, unique=True)
    effective_date = models.DateField()
    text_markdown = models.TextField()
    summary_of_changes = models.TextField(blank=True)
    material = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-effective_date", "-id"]
        permissions = [("view_privacy_office", "Can use the privacy office pages")]

    class Privacy:
        fields: dict = {}
        not_personal = {
            "version": "a version label",
            "text_markdown": "the policy text (about people in general, no one in particular)",
            "summary_of_changes": "policy text",
        }

    def __str__(self) -> str:
        return f"policy {self.version}"


class PolicyAcknowledgement(models.Model):
    """Someone acknowledged a policy version (staff now, patrons later)."""

    policy = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="+")
    actor_type = models.CharField(max_length=12, choices=ActorType.choices)
    actor_id = models.CharField(max_length=64)
    acknowledged_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "actor_type", "actor_id"], name="privacy_one_ack_per_person"
            )
        ]

    class Privacy:
        subject = ("staff", "patron")
        fields = {
            "actor_id": personal(
                category="identifier",
                risk="low",
                purpose="proving a person was shown a material policy change",
                legal_basis="legal_obligation",
                source="the person",
                retention="consent",
                readers=("privacy_office",),
            ),
        }
        not_personal: dict = {}

    def __str__(self) -> str:
        return f"policy acknowledgement {self.pk}"


# --- key store (database alias "keystore") ------------------------------------------


class DataKey(models.Model):
    """A subject's data key, wrapped by the master key. Deleting it forgets the subject."""

    subject_id = models.UUIDField(primary_key=True)
    kek_version = models.PositiveIntegerField(db_index=True)
    wrapped = models.BinaryField()  # nonce(12) + AES-256-GCM(32-byte key) + tag(16)

    class Privacy:
        fields: dict = {}
        not_personal = {"wrapped": "key material wrapped by the master key, no personal value"}

    def __str__(self) -> str:
        return f"data key of {self.subject_id}"


class MasterKeyCheck(models.Model):
    """A key check value per master key version: detects a wrong master key."""

    version = models.PositiveIntegerField(primary_key=True)
    check_value = models.CharField(max_length=64)

    class Privacy:
        fields: dict = {}
        not_personal = {"check_value": "an HMAC of a constant under the master key"}

    def __str__(self) -> str:
        return f"master key check v{self.version}"


class WrappedSecret(models.Model):
    """An instance secret (blind-index root key, audit signing key), wrapped by the master key."""

    name = models.CharField(max_length=40, unique=True)
    kek_version = models.PositiveIntegerField()
    wrapped = models.BinaryField()

    class Privacy:
        fields: dict = {}
        not_personal = {"name": "the secret's purpose", "wrapped": "wrapped key material"}

    def __str__(self) -> str:
        return f"secret {self.name}"


KEYSTORE_MODELS = {"datakey", "masterkeycheck", "wrappedsecret"}


# --- retention (PRV-RET-1/2) ---------------------------------------------------------


class LegalHold(models.Model):
    """A legal hold (PRV-RET-2): while it stands, the retention job leaves alone exactly
    what it covers: one person's data (`subject`) or a whole retention category (`rule`)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = models.ForeignKey(
        Subject, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    rule = models.CharField(max_length=40, blank=True)  # a retention rule key, or ""
    case_reference = models.CharField(max_length=100)  # the case number, never a name
    created_by = models.CharField(max_length=64, blank=True)  # staff id
    created_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(subject__isnull=False, rule="")
                    | models.Q(subject__isnull=True) & ~models.Q(rule="")
                ),
                name="privacy_legalhold_one_target",
            )
        ]

    class Privacy:
        subject = ("patron", "staff")
        fields = {
            "subject": personal(
                category="identifier",
                risk="medium",
                purpose="keeping a person's data that a legal claim or order covers",
                legal_basis="legal_obligation",
                source="library staff",
                retention="legal_hold",
                readers=("privacy_office",),
            ),
            "created_by": personal(
                category="identifier",
                risk="low",
                purpose="accountability: who placed the legal hold",
                legal_basis="legal_obligation",
                source="system",
                retention="legal_hold",
                readers=("privacy_office",),
                subject="staff",
            ),
            "released_by": personal(
                category="identifier",
                risk="low",
                purpose="accountability: who released the legal hold",
                legal_basis="legal_obligation",
                source="system",
                retention="legal_hold",
                readers=("privacy_office",),
                subject="staff",
            ),
            "case_reference": personal(
                category="free_text",
                risk="low",
                purpose="which case the hold is for (a reference, never a name)",
                legal_basis="legal_obligation",
                source="library staff",
                retention="legal_hold",
                readers=("privacy_office",),
            ),
        }
        not_personal = {"rule": "a retention rule key"}

    def __str__(self) -> str:
        return f"legal hold {self.pk}"

    @property
    def active(self) -> bool:
        return self.released_at is None


class RetentionSetting(models.Model):
    """A retention period set by the privacy officer on the Retention page (overrides settings)."""

    rule = models.CharField(max_length=40, unique=True)
    days = models.PositiveIntegerField()
    changed_at = models.DateTimeField()

    class Privacy:
        fields: dict = {}
        not_personal = {"rule": "a retention rule key"}

    def __str__(self) -> str:
        return f"{self.rule}: {self.days} days"


class RetentionRun(models.Model):
    """One run (or dry run) of the retention job: when, and what it did per category."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    dry_run = models.BooleanField(default=False)
    status = models.CharField(max_length=12, default="running")  # running, done, failed
    # {category: {"rule", "action", "due", "done", "held", "kept", "why"}}: counts only
    results = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    class Privacy:
        fields: dict = {}
        not_personal = {
            "status": "running, done or failed",
            "results": "counts per retention category, about no one",
            "error": "an exception's class and message from the job (no personal values)",
        }

    def __str__(self) -> str:
        return f"retention run {self.pk}"
