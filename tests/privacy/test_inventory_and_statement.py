"""PRV-INV-1/2/3, PRV-3P-1: the inventory, its check, the generated statement and report."""

from __future__ import annotations

import copy
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import models
from django.test.utils import isolate_apps

from quietshelf.privacy import inventory
from quietshelf.privacy.inventory import declare_external, personal


def _decl(**over):
    values = dict(
        category="contact",
        risk="medium",
        purpose="reaching the patron",
        legal_basis="contract",
        source="the patron",
        retention="staff_account",
        readers=("desk",),
    )
    values.update(over)
    return personal(**values)


def test_every_installed_model_is_declared_PRV_INV_1():
    assert [f"{p.label}: {p.message}" for p in inventory.problems()] == []


def test_django_sessions_are_declared_personal():
    labels = {(i.model_label, i.field) for i in inventory.items()}
    assert ("sessions.Session", "session_data") in labels
    assert ("accounts.StaffUser", "username") in labels
    assert ("catalog.BibRecord", "contributors") in labels


@isolate_apps("quietshelf.privacy")
def test_undeclared_personal_looking_fields_are_found_PRV_INV_1():
    class Borrower(models.Model):  # noqa: DJ008
        first_name = models.CharField(max_length=50)
        notes = models.TextField()
        last_ip = models.GenericIPAddressField()
        extra = models.JSONField()
        date_of_birth = models.DateField()
        staff = models.ForeignKey("accounts.StaffUser", on_delete=models.CASCADE)
        visits = models.IntegerField()
        kind = models.CharField(max_length=5, choices=[("a", "A")])

        class Meta:
            app_label = "privacy"

    found = {p.label.split(".")[-1] for p in inventory.problems([Borrower])}
    assert found == {"first_name", "notes", "last_ip", "extra", "date_of_birth", "staff"}


@isolate_apps("quietshelf.privacy")
@pytest.mark.parametrize(
    "bad, message",
    [
        ({"category": "shoe_size"}, "unknown data category"),
        ({"risk": "extreme"}, "unknown risk class"),
        ({"legal_basis": "because"}, "unknown legal basis"),
        ({"retention": "forever_and_ever"}, "not in settings.QUIETSHELF_RETENTION"),
        ({"subject": "alien"}, "unknown data-subject category"),
    ],
)
def test_bad_declaration_is_reported_PRV_INV_3(bad, message):
    """Bad input: an inventory declaration with an unknown category or risk class."""

    class Contact(models.Model):  # noqa: DJ008
        email = models.CharField(max_length=50)

        class Meta:
            app_label = "privacy"

        class Privacy:
            subject = "patron"
            fields = {"email": _decl(**bad)}

    problems = inventory.problems([Contact])
    assert any(message in p.message for p in problems), problems


@isolate_apps("quietshelf.privacy")
def test_declared_field_that_does_not_exist_is_reported():
    class Thing(models.Model):  # noqa: DJ008
        class Meta:
            app_label = "privacy"

        class Privacy:
            subject = "patron"
            fields = {"ghost": _decl()}
            not_personal = {"phantom": "x"}

    labels = {p.label for p in inventory.problems([Thing])}
    assert labels == {"privacy.Thing.ghost", "privacy.Thing.phantom"}


def test_quietshelf_check_fails_on_a_bad_declaration_PRV_INV_1():
    saved = copy.copy(inventory._external["auth.Group"])
    declare_external("auth.Group", subject="martian", not_personal={"name": "role"})
    try:
        with pytest.raises(SystemCheckError, match="privacy.E002"):
            call_command("check", stdout=io.StringIO(), stderr=io.StringIO())
        declare_external("auth.Group")  # "name" undeclared now
        with pytest.raises(SystemCheckError, match="privacy.E001"):
            call_command("check", stdout=io.StringIO(), stderr=io.StringIO())
    finally:
        inventory._external["auth.Group"] = saved
    call_command("check", stdout=io.StringIO())


def test_statement_is_generated_and_follows_live_retention_settings_PRV_INV_2(client, settings, db):
    page = client.get("/privacy/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Staff members" in text and "signing in to the staff interface" in text
    assert "90 days after the staff account is closed" in text
    assert "encrypted with a key of your own" in text
    rules = copy.deepcopy(settings.QUIETSHELF_RETENTION)
    rules["staff_account"]["days"] = 123
    settings.QUIETSHELF_RETENTION = rules
    text = client.get("/privacy/").content.decode()
    assert "123 days after the staff account is closed" in text
    assert "90 days after the staff account is closed" not in text


def test_statement_lists_processors_and_policy_version_PRV_3P_1(client, settings, db):
    import datetime as dt

    from quietshelf.privacy import services

    settings.QUIETSHELF_PROCESSORS = [
        {"name": "Example Mail AS", "purpose": "sending notices by e-mail", "location": "Norway"}
    ]
    services.policy_version_create(
        actor=None,
        version="3.1",
        effective_date=dt.date(2026, 1, 15),
        text_markdown="# Policy",
        summary_of_changes="Added the mail processor",
    )
    text = client.get("/privacy/").content.decode()
    assert "Example Mail AS" in text and "sending notices by e-mail" in text
    assert "3.1" in text and "2026-01-15" in text and "Added the mail processor" in text
    assert client.get("/privacy/policy/3.1/").status_code == 200
    assert client.get("/privacy/policy/9.9/").status_code == 404


def test_statement_without_processors_says_so(client, settings, db):
    settings.QUIETSHELF_PROCESSORS = []
    assert "None: your data is processed only" in client.get("/privacy/").content.decode()


def test_privacy_report_markdown_and_json_PRV_INV_2(db, settings):
    out = io.StringIO()
    call_command("privacy_report", stdout=out)
    text = out.getvalue()
    assert text.startswith("# Records of processing activities (GDPR Art. 30)")
    assert "signing in to the staff interface" in text
    out = io.StringIO()
    call_command("privacy_report", "--format", "json", stdout=out)
    data = json.loads(out.getvalue())
    purposes = {a["purpose"]: a for a in data["activities"]}
    assert "staff" in purposes["signing in to the staff interface"]["data_subjects"]
    assert data["security_measures"]
