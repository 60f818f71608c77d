"""Model fields of the privacy kernel.

- SubjectField: the foreign key to the data subject whose key encrypts the row.
- EncryptedTextField / EncryptedDateField / EncryptedJSONField: read and
  written as plain values; stored as AES-256-GCM under the subject's data
  key with "table|column|row id" as associated data. The model needs a UUID
  primary key with a default, so the id exists before the insert.
- BlindIndexField: HMAC-SHA256 of the normalised plain value of another
  field, under a key derived for that index only; exact look-up without the
  value.

A value that cannot be decrypted reads as ERASED (the subject's key was
deleted) or UNREADABLE (altered or truncated ciphertext, moved to another
row, wrong master key). Both are strings that render as "erased" and
"unreadable"; saving the row keeps the stored ciphertext untouched.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
import os
import unicodedata

from cryptography.exceptions import InvalidTag
from django.core import checks, exceptions
from django.db import models
from django.db.models.query_utils import DeferredAttribute

from quietshelf.core.ids import as_uuid
from quietshelf.privacy import keys

log = logging.getLogger("quietshelf.privacy")

FORMAT_V1 = b"\x01"


class Unavailable(str):
    """A personal value that cannot be shown. Falsy-safe: compare with `is`."""

    reason: str = ""

    def __new__(cls, text: str, reason: str):
        obj = super().__new__(cls, text)
        obj.reason = reason
        return obj

    def __repr__(self) -> str:
        return f"<{self.reason}>"


ERASED = Unavailable("erased", "erased")
UNREADABLE = Unavailable("unreadable", "unreadable")


def is_unavailable(value) -> bool:
    return isinstance(value, Unavailable)


class Sealed(bytes):
    """Ciphertext as loaded from the database, not yet decrypted."""

    def __repr__(self) -> str:
        return f"<sealed {len(self)} bytes>"

    def __str__(self) -> str:
        return "sealed"


def associated_data(table: str, column: str, row_id) -> bytes:
    return f"{table}|{column}|{row_id}".encode()


def encrypt_value(key, plaintext: bytes, ad: bytes) -> bytes:
    nonce = os.urandom(12)
    return FORMAT_V1 + nonce + key.encrypt(nonce, plaintext, ad)


def decrypt_value(key, blob: bytes, ad: bytes) -> bytes:
    if len(blob) < 1 + 12 + 16 or blob[:1] != FORMAT_V1:
        raise InvalidTag("truncated or unknown format")
    return key.decrypt(blob[1:13], blob[13:], ad)


def sealed(field: EncryptedField, key, row_id, value) -> bytes:
    """What `field` stores for `value` in row `row_id` under the subject's data `key`:
    the same bytes as saving the model (writers of many rows at once use it)."""
    ad = associated_data(field.model._meta.db_table, field.column, row_id)
    return encrypt_value(key, field.to_bytes(value), ad)


def open_sealed(field: EncryptedField, subject_id, row_id, blob: bytes):
    """The plain value `field` holds in row `row_id` of the subject, as reading the model
    attribute gives it (ERASED or UNREADABLE when it cannot be read); for readers of many
    rows as plain values (values_list) that skip building model instances."""
    where = f"{field.model._meta.label}.{field.name} row {row_id}"
    if subject_id is None:
        log.warning("unreadable value (no subject): %s", where)
        return UNREADABLE
    try:
        key = keys.data_key(as_uuid(subject_id))
    except (InvalidTag, keys.MasterKeyError):
        log.warning("unreadable value (data key does not unwrap): %s", where)
        return UNREADABLE
    if key is None:
        return ERASED
    ad = associated_data(field.model._meta.db_table, field.column, row_id)
    try:
        return field.from_bytes(decrypt_value(key, bytes(blob), ad))
    except (InvalidTag, ValueError, UnicodeDecodeError):
        log.warning("unreadable value (ciphertext altered, truncated or moved): %s", where)
        return UNREADABLE


class _EncryptedAttribute(DeferredAttribute):
    """Decrypts on first read, caches the plain value on the instance."""

    def __get__(self, instance, cls=None):
        if instance is None:
            return self
        value = super().__get__(instance, cls)
        if isinstance(value, Sealed):
            plain = self.field.open(instance, value)
            instance.__dict__[self.field.attname] = plain
            instance.__dict__[self.field.raw_attr] = (value, plain)
            return plain
        return value

    def __set__(self, instance, value):
        # A data descriptor, so reads always come through __get__.
        instance.__dict__[self.field.attname] = value


class SubjectField(models.ForeignKey):
    """A foreign key to privacy.Subject; a subject of `kind` is made when the row has none."""

    def __init__(self, *args, kind: str | None = None, **kwargs):
        self.kind = kind
        kwargs.setdefault("to", "privacy.Subject")
        kwargs.setdefault("on_delete", models.PROTECT)
        kwargs.setdefault("related_name", "+")
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["kind"] = self.kind
        return name, path, args, kwargs

    def ensure(self, instance):
        subject_id = getattr(instance, self.attname)
        if subject_id is None and self.kind:
            from quietshelf.privacy.subjects import subject_create

            subject = subject_create(kind=self.kind)
            setattr(instance, self.name, subject)
            subject_id = subject.pk
        return subject_id

    def pre_save(self, model_instance, add):
        self.ensure(model_instance)
        return super().pre_save(model_instance, add)


class EncryptedField(models.Field):
    """Base class: subclasses turn plain values into bytes and back."""

    # what the inventory reads (privacy.inventory imports no field class: no cycle)
    holds_personal_data = True
    encrypted_at_rest = True
    descriptor_class = _EncryptedAttribute
    empty_strings_allowed = False

    def __init__(self, *args, subject_field: str = "subject", **kwargs):
        self.subject_field = subject_field
        kwargs.pop("unique", None)
        kwargs.pop("db_index", None)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        if self.subject_field != "subject":
            kwargs["subject_field"] = self.subject_field
        return name, path, args, kwargs

    def get_internal_type(self):
        return "BinaryField"

    @property
    def raw_attr(self) -> str:
        return f"_sealed_{self.attname}"

    # -- conversions implemented by subclasses --
    def to_bytes(self, value) -> bytes:
        raise NotImplementedError

    def from_bytes(self, data: bytes):
        raise NotImplementedError

    # -- checks --
    def check(self, **kwargs):
        errors = super().check(**kwargs)
        model = self.model
        pk = model._meta.pk
        if not isinstance(pk, models.UUIDField) or pk.default is models.NOT_PROVIDED:
            errors.append(
                checks.Error(
                    "an encrypted field needs a UUID primary key with a default "
                    "(the row id is part of the associated data)",
                    obj=self,
                    id="privacy.E010",
                )
            )
        try:
            subject = model._meta.get_field(self.subject_field)
        except exceptions.FieldDoesNotExist:
            subject = None
        if not isinstance(subject, SubjectField):
            errors.append(
                checks.Error(
                    f"subject_field {self.subject_field!r} must name a SubjectField on the model",
                    obj=self,
                    id="privacy.E011",
                )
            )
        return errors

    # -- the database side --
    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return Sealed(bytes(value))

    def get_db_prep_value(self, value, connection, prepared=False):
        if value is None:
            return None
        if isinstance(value, bytes | memoryview | bytearray):
            return connection.Database.Binary(bytes(value))
        raise exceptions.FieldError(
            f"{self.model._meta.label}.{self.name} is encrypted: save model instances "
            "(not QuerySet.update) and look values up through a blind index"
        )

    def get_lookup(self, lookup_name):
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        return None

    def pre_save(self, model_instance, add):
        value = model_instance.__dict__.get(self.attname)
        if value is None:
            return None
        if isinstance(value, Sealed):
            return bytes(value)  # never read, never changed
        previous = model_instance.__dict__.get(self.raw_attr)
        if is_unavailable(value):
            if previous is None:
                raise exceptions.FieldError(f"cannot store the {value.reason} marker")
            return bytes(previous[0])
        if previous is not None and previous[1] == value and not is_unavailable(previous[1]):
            return bytes(previous[0])
        subject_field = model_instance._meta.get_field(self.subject_field)
        subject_id = subject_field.ensure(model_instance)
        if subject_id is None:
            raise exceptions.FieldError(
                f"{self.model._meta.label}.{self.name}: the row has no data subject"
            )
        key = keys.data_key(as_uuid(subject_id))
        if key is None:
            raise exceptions.FieldError(
                f"{self.model._meta.label}.{self.name}: the data subject was forgotten"
            )
        blob = sealed(self, key, model_instance.pk, value)
        model_instance.__dict__[self.raw_attr] = (Sealed(blob), value)
        return blob

    def open(self, instance, blob: Sealed):
        # getattr, not __dict__: a deferred subject column is loaded on demand
        subject_id = getattr(instance, instance._meta.get_field(self.subject_field).attname)
        return open_sealed(self, subject_id, instance.pk, blob)

    def formfield(self, **kwargs):
        from django import forms

        defaults = {"form_class": forms.CharField, "max_length": self.max_length}
        defaults.update(kwargs)
        return models.Field.formfield(self, **defaults)

    def value_to_string(self, obj):
        value = self.value_from_object(obj)
        return "" if value is None else str(value)


class EncryptedTextField(EncryptedField):
    description = "Text encrypted under the data subject's key"

    def to_bytes(self, value) -> bytes:
        return str(value).encode("utf-8")

    def from_bytes(self, data: bytes):
        return data.decode("utf-8")


class EncryptedDateField(EncryptedField):
    description = "A date encrypted under the data subject's key"

    def to_bytes(self, value) -> bytes:
        if isinstance(value, str):
            value = dt.date.fromisoformat(value)
        if not isinstance(value, dt.date):
            raise exceptions.ValidationError("not a date")
        return value.isoformat().encode()

    def from_bytes(self, data: bytes):
        return dt.date.fromisoformat(data.decode())

    def formfield(self, **kwargs):
        from django import forms

        return models.Field.formfield(self, form_class=forms.DateField, **kwargs)


class EncryptedJSONField(EncryptedField):
    description = "JSON encrypted under the data subject's key"

    def to_bytes(self, value) -> bytes:
        return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()

    def from_bytes(self, data: bytes):
        return json.loads(data)


# --- blind indexes ------------------------------------------------------------------


def normalize(value: str, kind: str) -> str:
    """The normal form an index is computed on: what counts as "the same" value."""
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if kind in {"email", "username", "text", "name"}:
        text = " ".join(text.casefold().split())
    elif kind in {"barcode", "identifier"}:
        text = text.upper()
        if not text.isalnum():  # most already are: skip the per-character pass
            text = "".join(ch for ch in text if ch.isalnum())
    elif kind == "phone":
        text = "".join(ch for ch in text if ch.isdigit() or ch == "+")
    else:
        raise ValueError(f"unknown normaliser {kind!r}")
    return text


def blind_index(value: str, *, purpose: str, kind: str) -> str:
    """HMAC-SHA256 (hex) of the normalised value under the key for `purpose`."""
    norm = normalize(value, kind)
    # hmac.digest: the same HMAC-SHA256 in one C call (a patron load makes ~10 per row)
    return hmac.digest(keys.index_key(purpose), norm.encode(), "sha256").hex()


class BlindIndexField(models.CharField):
    """Kept in step with `source` (an encrypted field) on every save."""

    holds_personal_data = True  # for the inventory, as on EncryptedField

    def __init__(self, *args, source: str = "", normalizer: str = "text", purpose: str = "", **kw):
        self.source = source
        self.normalizer = normalizer
        self.purpose = purpose
        kw.setdefault("max_length", 64)
        kw.setdefault("editable", False)
        kw.setdefault("blank", True)
        super().__init__(*args, **kw)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.update(source=self.source, normalizer=self.normalizer, purpose=self.purpose)
        if kwargs.get("max_length") == 64:
            kwargs.pop("max_length")
        return name, path, args, kwargs

    def digest(self, value: str) -> str:
        return blind_index(value, purpose=self.index_purpose, kind=self.normalizer)

    @property
    def index_purpose(self) -> str:
        return self.purpose or f"{self.model._meta.label_lower}.{self.source}"

    def pre_save(self, model_instance, add):
        source = self.model._meta.get_field(self.source).attname
        if source not in model_instance.__dict__:  # deferred, so unchanged
            return getattr(model_instance, self.attname)
        value = model_instance.__dict__[source]
        if isinstance(value, Sealed):  # the source was never read: unchanged
            return getattr(model_instance, self.attname)
        if value is None or is_unavailable(value):
            current = getattr(model_instance, self.attname)
            return current if is_unavailable(value) else (None if self.null else "")
        digest = self.digest(value)
        setattr(model_instance, self.attname, digest)
        return digest


class CoarseDateTimeField(models.DateTimeField):
    """A moment kept only to the coarse unit (QUIETSHELF_RETENTION_COARSEN, day by
    default, in UTC) on every write: save(), create(), bulk_create() and update().

    For times that record when something happened to a thing a reader just held
    (an item's last change, a transit's send and arrival): stored exact, they
    equal the second of a reader's check-in and re-link the reader after the
    loan has lost them (PRV-HIST-5). Lookups are not changed.

    The column is an ordinary datetime column: migrations see a DateTimeField
    (deconstruct), so swapping a field to this class needs no table rebuild.
    """

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.DateTimeField", args, kwargs

    @staticmethod
    def _coarse(value):
        if isinstance(value, dt.datetime):
            from quietshelf.privacy.retention import coarsen  # retention imports the models

            return coarsen(value)
        return value

    def pre_save(self, model_instance, add):
        value = self._coarse(super().pre_save(model_instance, add))
        setattr(model_instance, self.attname, value)
        return value

    def get_db_prep_save(self, value, connection):
        return super().get_db_prep_save(self._coarse(value), connection)
