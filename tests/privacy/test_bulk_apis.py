"""The kernel's bulk APIs (#14): many subjects' keys, many keys opened, many audit entries."""

from __future__ import annotations

import os
import uuid

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from quietshelf.privacy import audit, keys, services
from quietshelf.privacy.models import AuditEntry, DataKey
from tests.factories import StaffUserFactory


def test_record_many_writes_the_entries_record_would_and_they_verify_issue_14(db):
    staff = StaffUserFactory()
    a = services.subject_create(kind="patron")
    b = services.subject_create(kind="patron")
    audit.record(actor=staff, action="viewed", obj=a, reason="one")
    token = audit.request_id_var.set("req-14")
    try:
        n = audit.record_many(
            actor=staff,
            entries=[
                ("changed", "patrons.patron", a.pk, "load:email"),
                ("changed", "x.y", b.pk, ""),
            ],
        )
    finally:
        audit.request_id_var.reset(token)
    assert n == 2
    one, two, three = AuditEntry.objects.order_by("seq")
    assert (
        (two.actor_type, two.actor_id) == (one.actor_type, one.actor_id) == ("staff", str(staff.pk))
    )
    assert (two.action, two.object_type, two.object_id, two.reason, two.request_id) == (
        "changed", "patrons.patron", str(a.pk), "load:email", "req-14",
    )  # fmt: skip
    assert (three.object_type, three.object_id, three.reason) == ("x.y", str(b.pk), "")
    assert two.at == three.at and two.at >= one.at
    assert audit.seal() == 3
    result = audit.verify()
    assert result.ok and result.entries == 3, result.message


@pytest.mark.parametrize(
    "entry",
    [
        ("changed", "patrons.patron", "1", "mail ola@example.org"),
        ("Changed", "patrons.patron", "1", ""),
        ("changed", "", "1", ""),
    ],
)
def test_record_many_refuses_what_record_refuses_and_writes_nothing_issue_14(db, entry):
    good = ("changed", "patrons.patron", "2", "load:email")
    with pytest.raises(ValueError):
        audit.record_many(actor=None, entries=[good, entry])
    assert not AuditEntry.objects.exists()
    assert audit.record_many(actor=None, entries=[]) == 0


def test_new_data_keys_are_stored_by_the_caller_and_open_like_any_key_issue_14(db):
    sids = [uuid.uuid4() for _ in range(3)]
    made = keys.new_data_keys(sids)
    assert [k.subject_id for k in made] == sids
    assert not DataKey.objects.using(keys.KEYSTORE_DB).filter(subject_id__in=sids).exists()
    DataKey.objects.using(keys.KEYSTORE_DB).bulk_create(
        [
            DataKey(subject_id=k.subject_id, kek_version=k.kek_version, wrapped=k.wrapped)
            for k in made
        ]
    )
    keys.key_cache.clear()
    nonce = os.urandom(12)
    for k in made:
        sealed = k.key.encrypt(nonce, b"Ingrid", b"ad")
        assert keys.data_key(k.subject_id).decrypt(nonce, sealed, b"ad") == b"Ingrid"
    # each key is the subject's own: one subject's key does not open another's value
    with pytest.raises(Exception):  # noqa: B017, PT011 - cryptography's InvalidTag
        keys.data_key(sids[1]).decrypt(nonce, made[0].key.encrypt(nonce, b"x", b"ad"), b"ad")


def test_open_data_keys_unwraps_many_with_one_key_store_query_issue_14(db):
    sids = [uuid.uuid4() for _ in range(5)]
    keys.create_data_keys(sids)
    keys.key_cache.clear()
    gone = uuid.uuid4()  # no key: skipped, read as erased later
    store = connections[keys.KEYSTORE_DB]
    with CaptureQueriesContext(store) as opened:
        keys.open_data_keys([*sids, gone])
    assert len(opened) == 1
    with CaptureQueriesContext(store) as read:
        assert all(keys.data_key(sid) is not None for sid in sids)
    assert len(read) == 0
    assert keys.data_key(gone) is None
