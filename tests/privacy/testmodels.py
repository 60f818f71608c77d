"""A tests-only model holding every kind of personal value the kernel protects.

Registered under the privacy app label with its own table, created by the
`subject_records` fixture (tests/privacy/conftest.py); never migrated.
"""

from __future__ import annotations

import uuid

from django.db import models

from quietshelf.privacy.fields import (
    BlindIndexField,
    EncryptedDateField,
    EncryptedJSONField,
    EncryptedTextField,
    SubjectField,
)
from quietshelf.privacy.inventory import personal


def _decl(category: str, risk: str = "medium") -> object:
    return personal(
        category=category,
        risk=risk,
        purpose="testing the privacy kernel",
        legal_basis="contract",
        source="test",
        retention="staff_account",
        readers=("test",),
    )


class SubjectRecord(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = SubjectField(kind="patron")
    name = EncryptedTextField()
    email = EncryptedTextField(null=True, blank=True)
    email_index = BlindIndexField(source="email", normalizer="email", db_index=True)
    phone = EncryptedTextField(null=True, blank=True)
    address = EncryptedTextField(null=True, blank=True)
    barcode = EncryptedTextField(null=True, blank=True)
    barcode_index = BlindIndexField(source="barcode", normalizer="barcode", db_index=True)
    birth_date = EncryptedDateField(null=True, blank=True)
    preferences = EncryptedJSONField(null=True, blank=True)

    class Meta:
        app_label = "privacy"
        db_table = "privacy_test_subjectrecord"

    class Privacy:
        listed = False  # checked like any model, never in the statement or report
        subject = "patron"
        fields = {
            "subject": _decl("identifier", "low"),
            "name": _decl("identity"),
            "email": _decl("contact"),
            "email_index": _decl("contact", "low"),
            "phone": _decl("contact"),
            "address": _decl("contact"),
            "barcode": _decl("identifier"),
            "barcode_index": _decl("identifier", "low"),
            "birth_date": _decl("demographic", "high"),
            "preferences": _decl("preference", "low"),
        }
        not_personal: dict = {}

    def __str__(self) -> str:
        return f"record {self.pk}"
