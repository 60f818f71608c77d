"""PRV-ENC-1 / PRV-RET-3: envelope encryption, markers, crypto-shredding, key rotation."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.template import Context, Template

from quietshelf.privacy import keys, services
from quietshelf.privacy.fields import ERASED, UNREADABLE, is_unavailable
from quietshelf.privacy.models import DataKey, MasterKeyCheck

K1 = base64.b64encode(b"1" * 32).decode()
K2 = base64.b64encode(b"2" * 32).decode()


def _make(records, **extra):
    values = dict(
        name="Ingrid Testmann",
        email="Ingrid.Testmann@example.org",
        phone="+47 912 34 567",
        address="Fiktivgata 12, 0123 Oslo",
        barcode="2900-0012-3456",
        birth_date=dt.date(1990, 5, 17),
        preferences={"language": "nb"},
    )
    values.update(extra)
    return records.objects.create(**values)


def _raw(table, column, pk):
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM {table} WHERE id = %s",  # noqa: S608
            [records_pk(pk)],
        )
        return bytes(cursor.fetchone()[0])


def records_pk(pk):
    from tests.privacy.testmodels import SubjectRecord

    return SubjectRecord._meta.pk.get_db_prep_value(pk, connection)


def _write_raw(table, column, pk, value):
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {column} = %s WHERE id = %s",  # noqa: S608
            [value, records_pk(pk)],
        )


def test_encrypted_fields_read_and_write_plain_values_PRV_ENC_1(records):
    row = _make(records)
    fresh = records.objects.get(pk=row.pk)
    assert fresh.name == "Ingrid Testmann"
    assert fresh.birth_date == dt.date(1990, 5, 17)
    assert fresh.preferences == {"language": "nb"}
    stored = _raw("privacy_test_subjectrecord", "name", row.pk)
    assert b"Ingrid" not in stored
    assert stored[:1] == b"\x01" and len(stored) == 1 + 12 + len("Ingrid Testmann") + 16


def test_each_subject_has_its_own_wrapped_data_key_in_the_key_store_PRV_ENC_1(records):
    a, b = _make(records), _make(records)
    assert a.subject_id != b.subject_id
    assert DataKey.objects.using("keystore").filter(subject_id=a.subject_id).exists()
    # the wrapped keys are not in the main database at all
    assert DataKey._meta.db_table not in connection.introspection.table_names()


def test_unchanged_value_is_not_reencrypted_but_a_change_is(records):
    row = _make(records)
    before = _raw("privacy_test_subjectrecord", "name", row.pk)
    fresh = records.objects.get(pk=row.pk)
    fresh.save()
    assert _raw("privacy_test_subjectrecord", "name", row.pk) == before
    fresh.name = "Ingrid Nyttnavn"
    fresh.save()
    assert records.objects.get(pk=row.pk).name == "Ingrid Nyttnavn"


def test_ciphertext_moved_to_another_row_is_unreadable_PRV_ENC_1(records):
    a = _make(records, name="Alpha Person")
    b = records.objects.create(subject=a.subject, name="Beta Person")  # same key, other row
    _write_raw(
        "privacy_test_subjectrecord", "name", b.pk, _raw("privacy_test_subjectrecord", "name", a.pk)
    )
    assert records.objects.get(pk=b.pk).name is UNREADABLE
    assert records.objects.get(pk=a.pk).name == "Alpha Person"


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "format"])
def test_truncated_or_altered_ciphertext_reads_unreadable_never_garbage(records, damage):
    """Bad input: truncated or altered ciphertext (PRV-ENC-1)."""
    row = _make(records)
    blob = bytearray(_raw("privacy_test_subjectrecord", "email", row.pk))
    if damage == "truncate":
        blob = blob[:20]
    elif damage == "flip":
        blob[-3] ^= 0x40
    elif damage == "empty":
        blob = bytearray()
    else:
        blob[0] = 9
    _write_raw("privacy_test_subjectrecord", "email", row.pk, bytes(blob))
    fresh = records.objects.get(pk=row.pk)
    assert fresh.email is UNREADABLE
    assert fresh.name == "Ingrid Testmann"  # other fields unharmed
    html = Template("<p>{{ r.email }}</p>").render(Context({"r": fresh}))
    assert html == "<p>unreadable</p>"
    fresh.save()  # saving keeps the stored bytes, does not encrypt the marker
    assert _raw("privacy_test_subjectrecord", "email", row.pk) == bytes(blob)


def test_forgotten_subject_reads_erased_PRV_RET_3(records):
    row = _make(records)
    services.forget_subject(subject_id=row.subject_id, reason="erasure_request")
    fresh = records.objects.get(pk=row.pk)
    for name in ("name", "email", "phone", "address", "barcode", "birth_date", "preferences"):
        assert getattr(fresh, name) is ERASED, name
    assert is_unavailable(fresh.name) and str(fresh.name) == "erased"
    assert not DataKey.objects.using("keystore").filter(subject_id=row.subject_id).exists()


def test_copy_database_forget_restore_old_copy_reads_erased_PRV_RET_3(trecords, tmp_path):
    """Backups too: a copy of the main database taken before the erasure reads as erased."""
    records = trecords
    row = _make(records)
    keep = _make(records, name="Kari Beholdt")
    pk = row.pk
    if connection.vendor == "sqlite":
        # A copy of the database file (SQLite's online backup: a consistent file copy,
        # safe while other connections have the file open), put back after the erasure.
        import sqlite3

        backup = tmp_path / "backup.sqlite3"
        connection.ensure_connection()
        with sqlite3.connect(backup) as dest:
            connection.connection.backup(dest)
        dest.close()
        assert b"privacy_test_subjectrecord" in backup.read_bytes()
        services.forget_subject(subject_id=row.subject_id)
        source = sqlite3.connect(backup)
        source.backup(connection.connection)
        source.close()
    else:
        # PostgreSQL: a row-level "backup" of the table, written back after the erasure.
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM privacy_test_subjectrecord")
            saved = cursor.fetchall()
            columns = [c.name for c in cursor.description]
        services.forget_subject(subject_id=row.subject_id)
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM privacy_test_subjectrecord")
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(
                f"INSERT INTO privacy_test_subjectrecord ({', '.join(columns)}) "  # noqa: S608
                f"VALUES ({marks})",
                saved,
            )
    keys.reset_caches()
    restored = records.objects.get(pk=pk)
    assert restored.name is ERASED
    assert restored.email is ERASED
    assert records.objects.get(pk=keep.pk).name == "Kari Beholdt"


def test_wrong_master_key_is_refused_and_values_read_unreadable(records, settings):
    """Bad input: wrong KEK (PRV-ENC-1)."""
    settings.QUIETSHELF_MASTER_KEY = f"1:{K1}"
    keys.reset_caches()
    row = _make(records)
    assert MasterKeyCheck.objects.using("keystore").filter(version=1).exists()
    settings.QUIETSHELF_MASTER_KEY = f"1:{K2}"
    keys.reset_caches()
    with pytest.raises(keys.MasterKeyError, match="wrong master key"):
        keys.startup_check()
    keys.reset_caches()
    assert records.objects.get(pk=row.pk).name is UNREADABLE


def test_rotate_keys_rewraps_keys_only_and_old_version_can_go_PRV_ENC_1(records, settings):
    settings.QUIETSHELF_MASTER_KEY = f"1:{K1}"
    keys.reset_caches()
    rows = [_make(records, name=f"Person {i}") for i in range(5)]
    before = [_raw("privacy_test_subjectrecord", "name", r.pk) for r in rows]
    settings.QUIETSHELF_MASTER_KEY = f"2:{K2},1:{K1}"
    keys.reset_caches()
    # during rotation both versions read, new keys go under version 2
    assert records.objects.get(pk=rows[0].pk).name == "Person 0"
    late = _make(records, name="Late Person")
    assert DataKey.objects.using("keystore").get(subject_id=late.subject_id).kek_version == 2
    call_command("rotate_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert set(DataKey.objects.using("keystore").values_list("kek_version", flat=True)) == {2}
    assert [_raw("privacy_test_subjectrecord", "name", r.pk) for r in rows] == before
    settings.QUIETSHELF_MASTER_KEY = f"2:{K2}"
    keys.reset_caches()
    assert [records.objects.get(pk=r.pk).name for r in rows] == [f"Person {i}" for i in range(5)]


def test_data_key_removed_version_is_a_clear_error(records, settings):
    settings.QUIETSHELF_MASTER_KEY = f"1:{K1}"
    keys.reset_caches()
    _make(records)
    settings.QUIETSHELF_MASTER_KEY = f"2:{K2}"
    keys.reset_caches()
    with pytest.raises(keys.MasterKeyError, match="version"):
        keys.startup_check()


def test_unwrapped_keys_are_cached_in_a_small_lru(records, settings):
    settings.QUIETSHELF_KEY_CACHE_SIZE = 2
    rows = [_make(records, name=f"P{i}") for i in range(3)]
    keys.key_cache.clear()
    for r in rows:
        records.objects.get(pk=r.pk).name  # noqa: B018
    assert len(keys.key_cache._items) == 2
    hits = keys.key_cache.hits
    records.objects.get(pk=rows[2].pk).name  # noqa: B018
    assert keys.key_cache.hits == hits + 1


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("1:notbase64!!", "base64"),
        (f"1:{base64.b64encode(b'short').decode()}", "32 bytes"),
        (f"1:{K1},1:{K2}", "repeated"),
        (f"x:{K1}", "version number"),
    ],
)
def test_malformed_master_key_is_refused(text, message):
    with pytest.raises(keys.MasterKeyError, match=message):
        keys.parse_master_key(text, source="QUIETSHELF_MASTER_KEY")


def test_encrypted_field_cannot_be_filtered_or_bulk_updated(records):
    from django.core.exceptions import FieldError

    _make(records)
    with pytest.raises(FieldError):
        list(records.objects.filter(name="Ingrid Testmann"))
    with pytest.raises(FieldError, match="encrypted"):
        records.objects.update(name="x")


def test_keystore_is_a_separate_database():
    main = connections["default"].settings_dict["NAME"]
    store = connections["keystore"].settings_dict["NAME"]
    assert main != store


def test_forget_handlers_run_and_name_tokens_go_PRV_RET_3(records):
    from quietshelf.privacy import search
    from quietshelf.privacy.models import NameToken

    row = _make(records)
    search.index_name_tokens(subject_id=row.subject_id, scope="t.name", text=row.name)
    assert search.search_name_tokens(scope="t.name", query="ingrid test") == [row.subject_id]
    seen = []
    services.register_forget_handler(seen.append)
    try:
        services.forget_subject(subject_id=row.subject_id)
    finally:
        services._forget_handlers.remove(seen.append)
    assert seen == [row.subject_id]
    assert not NameToken.objects.filter(subject_id=row.subject_id).exists()
    assert search.search_name_tokens(scope="t.name", query="ingrid") == []


def test_deferred_encrypted_field_loads_and_decrypts(records):
    row = _make(records)
    partial = records.objects.only("id").get(pk=row.pk)
    assert partial.email == "Ingrid.Testmann@example.org"
    other = records.objects.only("id", "email_index").get(pk=row.pk)
    other.save()
    field = records._meta.get_field("email_index")
    assert records.objects.get(pk=row.pk).email_index == field.digest("ingrid.testmann@example.org")
