"""PRV-ACC-1: append-only, hash-chained audit log with signed checkpoints."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from quietshelf.privacy import audit, services
from quietshelf.privacy.models import AuditCheckpoint, AuditEntry, Subject
from tests.factories import StaffUserFactory


def _entries(n=6, actor=None):
    subject = services.subject_create(kind="patron")
    for i in range(n):
        audit.record(actor=actor, action="viewed", obj=subject, reason=f"case_{i}")
    return subject


def _sql(statement, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def _seq_at(pos):
    return AuditEntry.objects.get(chain_pos=pos).seq


def test_record_holds_ids_only_and_seals_into_a_verifiable_chain_PRV_ACC_1(db):
    staff = StaffUserFactory()
    subject = _entries(3, actor=staff)
    entry = AuditEntry.objects.order_by("seq").first()
    assert entry.actor_type == "staff" and entry.actor_id == str(staff.pk)
    assert entry.object_type == "privacy.subject" and entry.object_id == str(subject.pk)
    assert audit.seal() == 3
    result = audit.verify()
    assert result.ok, result.message
    assert result.entries == 3
    first, second = AuditEntry.objects.order_by("chain_pos")[:2]
    assert first.prev_hash == audit.GENESIS
    assert second.prev_hash == first.entry_hash


def test_entry_is_written_in_the_same_transaction_as_the_action(db):
    subject = services.subject_create(kind="patron")
    with pytest.raises(RuntimeError), transaction.atomic():
        audit.record(actor=None, action="changed", obj=subject)
        raise RuntimeError("the action failed")
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("reason", ["mail ola@example.org", "card 290012345678", "x" * 201])
def test_personal_values_are_refused_in_reasons(db, reason):
    subject = services.subject_create(kind="patron")
    with pytest.raises(ValueError, match="personal|short"):
        audit.record(actor=None, action="viewed", obj=subject, reason=reason)


def test_unknown_action_shape_is_refused(db):
    with pytest.raises(ValueError):
        audit.record(actor=None, action="Viewed It!", object_type="x")


def test_modified_entry_is_named(db):
    """Bad input: a tampered audit row."""
    _entries()
    audit.seal()
    seq = _seq_at(3)
    _sql("UPDATE privacy_auditentry SET reason = 'innocent' WHERE seq = %s", [seq])
    result = audit.verify()
    assert not result.ok and result.problem == "modified" and result.seq == seq
    assert f"seq={seq}" in result.message


def test_modified_entry_with_recomputed_hash_is_named(db):
    _entries()
    audit.seal()
    row = AuditEntry.objects.get(chain_pos=3)
    row.reason = "innocent"
    new_hash = audit.entry_digest(row, row.prev_hash)
    _sql(
        "UPDATE privacy_auditentry SET reason = 'innocent', entry_hash = %s WHERE seq = %s",
        [new_hash, row.seq],
    )
    result = audit.verify()
    assert result.problem == "modified" and result.seq == row.seq


def test_deleted_entry_is_named(db):
    """Bad input: a deleted audit row."""
    _entries()
    audit.seal()
    after = _seq_at(4)
    _sql("DELETE FROM privacy_auditentry WHERE chain_pos = 3")
    result = audit.verify()
    assert result.problem == "deleted" and result.seq == after
    assert "chain position 3" in result.message


def test_deleted_last_entries_are_noticed(db):
    _entries()
    audit.seal()
    _sql("DELETE FROM privacy_auditentry WHERE chain_pos >= 5")
    result = audit.verify()
    assert result.problem == "deleted"


def test_inserted_entry_is_named(db):
    _entries()
    audit.seal()
    # make room at position 3, then insert a well-formed forged entry there
    _sql("UPDATE privacy_auditentry SET chain_pos = -chain_pos WHERE chain_pos >= 3")
    _sql("UPDATE privacy_auditentry SET chain_pos = 1 - chain_pos WHERE chain_pos < 0")
    prev = AuditEntry.objects.get(chain_pos=2)
    forged = AuditEntry(
        seq=999_999,
        at=prev.at,
        actor_type="system",
        actor_id="",
        action="viewed",
        object_type="privacy.subject",
        object_id="forged",
        reason="",
        request_id="",
    )
    forged.prev_hash = prev.entry_hash
    forged.entry_hash = audit.entry_digest(forged, prev.entry_hash)
    forged.chain_pos = 3
    AuditEntry.objects.bulk_create([forged])
    result = audit.verify()
    assert result.problem == "inserted" and result.seq == 999_999


def test_reordered_entries_are_named(db):
    """Bad input: reordered audit rows."""
    _entries()
    audit.seal()
    third, fourth = _seq_at(3), _seq_at(4)
    _sql("UPDATE privacy_auditentry SET chain_pos = -1 WHERE seq = %s", [third])
    _sql("UPDATE privacy_auditentry SET chain_pos = 3 WHERE seq = %s", [fourth])
    _sql("UPDATE privacy_auditentry SET chain_pos = 4 WHERE seq = %s", [third])
    result = audit.verify()
    assert result.problem == "reordered" and result.seq == fourth


def test_signed_checkpoints_catch_a_rewritten_chain(db, settings):
    settings.QUIETSHELF_AUDIT_CHECKPOINT_EVERY = 4
    _entries(6)
    audit.seal()
    assert AuditCheckpoint.objects.filter(chain_pos=6).exists()
    assert audit.verify().checkpoints == 1
    # rewrite the whole chain consistently from position 2: only the signature notices
    rows = list(AuditEntry.objects.order_by("chain_pos"))
    prev = rows[0].entry_hash
    for row in rows[1:]:
        row.reason = "rewritten"
        row.prev_hash = prev
        row.entry_hash = prev = audit.entry_digest(row, prev)
    AuditEntry.objects.bulk_update(rows[1:], ["reason", "prev_hash", "entry_hash"])
    _sql("UPDATE privacy_auditchainhead SET entry_hash = %s", [prev])
    result = audit.verify()
    assert result.problem == "checkpoint" and result.chain_pos == 6


def test_forged_checkpoint_signature_is_caught(db):
    _entries(2)
    audit.seal(checkpoint=True)
    _sql("UPDATE privacy_auditcheckpoint SET signature = %s", ["00" * 64])
    assert audit.verify().problem == "checkpoint"


def test_forgetting_a_subject_leaves_the_chain_verifiable_PRV_RET_3(db):
    subject = _entries(3)
    services.forget_subject(subject_id=subject.pk, reason="erasure_request")
    audit.seal()
    assert Subject.objects.get(pk=subject.pk).forgotten_at is not None
    result = audit.verify()
    assert result.ok and result.entries == 4
    assert AuditEntry.objects.filter(action="erased", object_id=str(subject.pk)).exists()


def test_entries_from_commit_are_sealed_after_commit(transactional_db, settings):
    settings.QUIETSHELF_AUDIT_SEAL_SECONDS = 0
    _entries(2)
    assert not AuditEntry.objects.filter(chain_pos__isnull=True).exists()


def test_audit_verify_command_reports_and_exits_non_zero(db):
    _entries()
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    assert "audit log intact: 6 entries" in out.getvalue()
    _sql("DELETE FROM privacy_auditentry WHERE chain_pos = 2")
    with pytest.raises(CommandError) as caught:
        call_command("audit_verify", stdout=out)
    assert caught.value.returncode == 1
    assert "deleted" in str(caught.value)


def test_audit_entries_cannot_be_changed_through_the_model(db):
    _entries(1)
    entry = AuditEntry.objects.get()
    with pytest.raises(TypeError):
        entry.delete()
    entry.reason = "changed"
    with pytest.raises(TypeError):
        entry.save()
