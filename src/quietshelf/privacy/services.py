"""State changes of the privacy kernel: subjects, forgetting, consent, policy versions."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db import transaction
from django.utils import timezone

from quietshelf.core.idlist import IdList
from quietshelf.privacy import audit, consent, keys, tombstones
from quietshelf.privacy.errors import (
    ConsentNotActive,
    PolicyVersionExists,
    SubjectForgotten,
    SubjectNotFound,
    UnknownConsentScope,
)
from quietshelf.privacy.models import (
    ConsentRecord,
    NameToken,
    PolicyAcknowledgement,
    PolicyVersion,
    Subject,
)
from quietshelf.privacy.subjects import subject_create  # noqa: F401  (its name, as before)


def subjects_create_many(*, kind: str, count: int) -> list[uuid.UUID]:
    """Bulk creation for imports and benchmarks."""
    ids = [uuid.uuid4() for _ in range(count)]
    keys.create_data_keys(ids)
    Subject.objects.bulk_create([Subject(id=i, kind=kind) for i in ids], batch_size=2000)
    return ids


_forget_handlers: list = []
_forget_many: dict = {}


def register_forget_handler(handler, *, many=None) -> None:
    """`handler(subject_id)` runs inside forget_subject's transaction, after the key is gone.

    Apps use it to blank blind indexes and delete rows they no longer need
    (e.g. set a patron's card_index to "" so the digest stops matching).
    `many(subject_ids)`, when given, does the same for a batch in set-based SQL
    (forget_subjects, the retention job's purge).
    """
    if handler not in _forget_handlers:
        _forget_handlers.append(handler)
    if many is not None:
        _forget_many[handler] = many


def forget_subjects(*, subject_ids: list[uuid.UUID], record: bool = True) -> int:
    """Crypto-shredding of many subjects at once (the retention job's purge, PRV-RET-1).

    The keys go first, in one statement, committed in the key store at once
    (as in forget_subject); the rest runs in the caller's transaction. The
    caller writes the audit entry (one per retention category).
    """
    if not subject_ids:
        return 0
    keys.delete_data_keys(subject_ids)
    if record:  # a restore of an older backup forgets them again (privacy/tombstones.py)
        tombstones.record_tombstones(subject_ids)
    ids = IdList(subject_ids)  # one parameter on PostgreSQL, not one per id
    NameToken.objects.filter(subject_id__in=ids).delete()
    for handler in list(_forget_handlers):
        many = _forget_many.get(handler)
        if many is not None:
            many(subject_ids)
        else:
            for subject_id in subject_ids:
                handler(subject_id)
    return Subject.objects.filter(pk__in=ids, forgotten_at__isnull=True).update(
        forgotten_at=timezone.now()
    )


def forget_subject(*, subject_id: uuid.UUID, actor=None, reason: str = "") -> Subject:
    """Crypto-shredding (PRV-RET-3): delete the subject's data key.

    Every ciphertext under that key, in this database and in every copy and
    backup of it, reads as "erased" from now on. The key goes first and at
    once (an erasure that is asked for must happen even if what follows
    fails); then the name tokens go and an "erased" audit entry is written.
    The audit chain is untouched: it never held the values.
    """
    subject = _shred(subject_id)
    with transaction.atomic(durable=True):
        _forget_rows(subject, actor=actor, reason=reason)
    return subject


def forget_subject_in_transaction(
    *, subject_id: uuid.UUID, actor=None, reason: str = ""
) -> Subject:
    """forget_subject in the caller's transaction: the privacy office closes an erasure
    case and erases the patron in one transaction (the key still goes first and at once:
    the key store commits its deletion on its own)."""
    subject = _shred(subject_id)
    _forget_rows(subject, actor=actor, reason=reason)
    return subject


def _shred(subject_id) -> Subject:
    """The subject's data key goes, committed in the key store at once."""
    subject = Subject.objects.filter(pk=subject_id).first()
    if subject is None:
        raise SubjectNotFound(f"no data subject {subject_id}")
    keys.delete_data_key(subject.pk)
    tombstones.record_tombstones([subject.pk])  # erased stays erased after a restore (PRV-RET-3)
    return subject


def _forget_rows(subject: Subject, *, actor, reason: str) -> None:
    NameToken.objects.filter(subject_id=subject.pk).delete()
    for handler in list(_forget_handlers):
        handler(subject.pk)
    if subject.forgotten_at is None:
        subject.forgotten_at = timezone.now()
        subject.save(update_fields=["forgotten_at"])
        audit.record(actor=actor, action="erased", obj=subject, reason=reason)


def _live_subject(subject_id) -> Subject:
    subject = Subject.objects.filter(pk=subject_id).first()
    if subject is None:
        raise SubjectNotFound(f"no data subject {subject_id}")
    if subject.forgotten_at is not None:
        raise SubjectForgotten("this person's data has been erased")
    return subject


@transaction.atomic(durable=True)
def give_consent(
    *, subject_id: uuid.UUID, scope: str, actor=None, policy_version: PolicyVersion | None = None
) -> ConsentRecord:
    """Record consent; giving it again while it stands changes nothing (idempotent)."""
    if consent.get_scope(scope) is None:
        raise UnknownConsentScope(f"unknown consent scope {scope!r}")
    subject = _live_subject(subject_id)
    current = (
        ConsentRecord.objects.select_for_update()
        .filter(subject=subject, scope=scope, withdrawn_at__isnull=True)
        .first()
    )
    if current is not None:
        return current
    if policy_version is None:
        policy_version = current_policy()
    record = ConsentRecord.objects.create(
        subject=subject, scope=scope, given_at=timezone.now(), policy_version=policy_version
    )
    audit.record(actor=actor, action="consent_given", obj=record, reason=scope)
    return record


@transaction.atomic(durable=True)
def withdraw_consent(*, subject_id: uuid.UUID, scope: str, actor=None) -> ConsentRecord:
    """Withdraw consent and run the scope's erasure handler in the same transaction.

    Withdrawing consent that is not in force (never given, or withdrawn
    already) is an error (ConsentNotActive), so a double submit is visible.
    """
    registered = consent.get_scope(scope)
    if registered is None:
        raise UnknownConsentScope(f"unknown consent scope {scope!r}")
    current = (
        ConsentRecord.objects.select_for_update()
        .filter(subject_id=subject_id, scope=scope, withdrawn_at__isnull=True)
        .first()
    )
    if current is None:
        raise ConsentNotActive(f"there is no consent in force for {scope!r} to withdraw")
    current.withdrawn_at = timezone.now()
    current.save(update_fields=["withdrawn_at"])
    if registered.on_withdraw is not None:
        registered.on_withdraw(current.subject_id)
    audit.record(actor=actor, action="consent_withdrawn", obj=current, reason=scope)
    return current


def current_policy(*, today: dt.date | None = None) -> PolicyVersion | None:
    today = today or timezone.localdate()
    return (
        PolicyVersion.objects.filter(effective_date__lte=today)
        .order_by("-effective_date", "-id")
        .first()
    )


@transaction.atomic(durable=True)
def policy_version_create(
    *,
    actor,
    version: str,
    effective_date: dt.date,
    text_markdown: str,
    summary_of_changes: str = "",
    material: bool = False,
) -> PolicyVersion:
    version = version.strip()
    if not version or not text_markdown.strip():
        from quietshelf.core.errors import InvalidInput

        raise InvalidInput("a policy version needs a version label and a text")
    if PolicyVersion.objects.filter(version=version).exists():
        raise PolicyVersionExists(f"policy version {version!r} already exists")
    policy = PolicyVersion.objects.create(
        version=version,
        effective_date=effective_date,
        text_markdown=text_markdown,
        summary_of_changes=summary_of_changes,
        material=material,
    )
    audit.record(actor=actor, action="policy_published", obj=policy)
    return policy


def pending_material_policy(*, actor_type: str, actor_id: str) -> PolicyVersion | None:
    """The newest material policy in force that this person has not acknowledged."""
    policy = (
        PolicyVersion.objects.filter(material=True, effective_date__lte=timezone.localdate())
        .order_by("-effective_date", "-id")
        .first()
    )
    if policy is None:
        return None
    done = PolicyAcknowledgement.objects.filter(
        policy=policy, actor_type=actor_type, actor_id=str(actor_id)
    ).exists()
    return None if done else policy


@transaction.atomic(durable=True)
def policy_acknowledge(*, actor, policy_id: int) -> PolicyAcknowledgement:
    return policy_acknowledge_in_transaction(actor=actor, policy_id=policy_id)


def policy_acknowledge_in_transaction(*, actor, policy_id: int) -> PolicyAcknowledgement:
    """policy_acknowledge in the caller's transaction (a self-registration acknowledges the
    policy it was shown together with making the patron)."""
    who = audit.as_actor(actor)
    policy = PolicyVersion.objects.filter(pk=policy_id).first()
    if policy is None:
        from quietshelf.core.errors import NotFound

        raise NotFound("no such policy version")
    ack, created = PolicyAcknowledgement.objects.get_or_create(
        policy=policy,
        actor_type=who.type,
        actor_id=who.id,
        defaults={"acknowledged_at": timezone.now()},
    )
    if created:
        audit.record(actor=who, action="policy_acknowledged", obj=policy)
    return ack
