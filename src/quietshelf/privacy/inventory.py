"""The data inventory (PRV-INV-1): personal data declared where it is defined.

A model declares its personal fields in an inner class::

    class Patron(models.Model):
        ...
        class Privacy:
            subject = "patron"                   # or a tuple of categories
            fields = {
                "name": personal(category="identity", risk="medium",
                                 purpose="knowing who borrows", legal_basis="contract",
                                 source="the patron", retention="patron_account",
                                 readers=("circulation", "privacy_office")),
            }
            not_personal = {"status": "an enumeration of account states"}

Models from other packages (Django's sessions, auth, contenttypes) are
declared in privacy/declarations.py with `declare_external`.

`problems()` walks every installed model and reports each field that can
hold personal data but is neither declared nor on the reviewed
not-personal list, and every bad declaration. The system check (checks.py)
turns those into errors, so `quietshelf check` fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.db import models

SUBJECT_CATEGORIES = {
    "patron": "Patrons",
    "staff": "Staff members",
    "vendor_contact": "Contacts at vendors",
    "author": "Authors and other people named in catalogue records",
}
# Data categories and what they cover (shown in the statement and report).
DATA_CATEGORIES = {
    "identity": "names",
    "contact": "addresses, e-mail addresses, phone numbers",
    "identifier": "card numbers, user names, internal ids",
    "credential": "password and PIN hashes, second-factor secrets",
    "demographic": "date of birth, age group",
    "account": "account status, dates, groups",
    "circulation": "loans, holds, reading history",
    "financial": "fees and payments",
    "technical": "sessions, request ids, network addresses",
    "preference": "consents and notification choices",
    "free_text": "notes and reasons written by staff",
    "bibliographic": "names of authors and contributors as published",
}
RISK_CLASSES = {
    "high": "harm if disclosed is serious (reading history, date of birth, credentials)",
    "medium": "identifies or contacts a person (name, e-mail, card number)",
    "low": "pseudonymous ids, account metadata, published names",
}
LEGAL_BASES = {
    "contract": "needed to provide the library service (GDPR Art. 6(1)(b))",
    "legal_obligation": "required by law (Art. 6(1)(c))",
    "legitimate_interest": "the library's legitimate interest (Art. 6(1)(f))",
    "consent": "your consent, which you may withdraw (Art. 6(1)(a))",
    "public_task": "a task in the public interest (Art. 6(1)(e))",
}


@dataclass(frozen=True)
class Personal:
    """The declaration of one personal-data field."""

    category: str
    risk: str
    purpose: str
    legal_basis: str
    source: str
    retention: str
    readers: tuple[str, ...] = ()
    subject: str | tuple[str, ...] | None = None  # overrides the model's subject


def personal(
    *,
    category: str,
    risk: str,
    purpose: str,
    legal_basis: str,
    source: str,
    retention: str,
    readers: tuple[str, ...] | list[str] = (),
    subject: str | tuple[str, ...] | None = None,
) -> Personal:
    return Personal(
        category=category,
        risk=risk,
        purpose=purpose,
        legal_basis=legal_basis,
        source=source,
        retention=retention,
        readers=tuple(readers),
        subject=subject,
    )


@dataclass
class ModelDeclaration:
    label: str  # "app_label.ModelName"
    subject: tuple[str, ...]
    fields: dict[str, Personal]
    not_personal: dict[str, str]
    origin: str  # "inner Privacy class" or "privacy/declarations.py"


@dataclass(frozen=True)
class Problem:
    code: str  # "undeclared", "bad_declaration", "unknown_field"
    label: str  # "app.Model.field"
    message: str


@dataclass(frozen=True)
class InventoryItem:
    model_label: str
    model_name: str
    field: str
    field_label: str
    subjects: tuple[str, ...]
    decl: Personal
    encrypted: bool


_external: dict[str, ModelDeclaration] = {}

# Field names that suggest personal data whatever their type.
PERSONAL_NAME = re.compile(
    r"(^|_)(name|names|firstname|lastname|surname|given_name|family_name|email|e_mail|mail|"
    r"phone|mobile|tel|"
    r"birth|dob|born|address|street|postcode|postal|zip|city|ssn|national|passport|"
    r"barcode|card|ip|note|notes|comment|comments|username|login|contact|person|"
    r"patron|borrower|gender|age)($|_)"
)
TEXTUAL = (
    models.CharField,
    models.TextField,
    models.JSONField,
    models.GenericIPAddressField,
    models.BinaryField,
    models.FileField,
)


def declare_external(
    label: str,
    *,
    subject: str | tuple[str, ...] = (),
    fields: dict[str, Personal] | None = None,
    not_personal: dict[str, str] | None = None,
) -> None:
    """Declare a model you do not define (Django's own, a library's)."""
    _external[label] = ModelDeclaration(
        label=label,
        subject=_as_tuple(subject),
        fields=dict(fields or {}),
        not_personal=dict(not_personal or {}),
        origin="privacy/declarations.py",
    )


def _as_tuple(value) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def declaration_for(model) -> ModelDeclaration | None:
    label = model._meta.label
    inner = model.__dict__.get("Privacy")
    if inner is not None:
        return ModelDeclaration(
            label=label,
            subject=_as_tuple(getattr(inner, "subject", ())),
            fields=dict(getattr(inner, "fields", {}) or {}),
            not_personal=_not_personal_dict(getattr(inner, "not_personal", {})),
            origin="inner Privacy class",
        )
    return _external.get(label)


def _not_personal_dict(value) -> dict[str, str]:
    if isinstance(value, dict):
        return dict(value)
    return {name: "reviewed" for name in value}


def person_model_labels() -> set[str]:
    """Models that stand for a person: foreign keys to them are personal data."""
    labels = {settings.AUTH_USER_MODEL, "privacy.Subject"}
    labels.update(getattr(settings, "QUIETSHELF_PERSON_MODELS", ()))
    return labels


def may_hold_personal_data(model_field) -> bool:
    # the marker privacy.fields' encrypted and blind-index fields carry (no import of them)
    if getattr(model_field, "holds_personal_data", False):
        return True
    if getattr(model_field, "primary_key", False) and not model_field.is_relation:
        return False
    if model_field.is_relation and model_field.related_model is not None:
        related = model_field.related_model
        label = related if isinstance(related, str) else related._meta.label
        return label.lower() in {x.lower() for x in person_model_labels()}
    if PERSONAL_NAME.search(model_field.name.lower()):
        return True
    if isinstance(model_field, TEXTUAL):
        # an enumeration is not free text
        return not getattr(model_field, "choices", None)
    return False


def _concrete_fields(model):
    for f in model._meta.get_fields(include_hidden=False):
        if f.auto_created and not f.concrete:
            continue  # reverse relations
        if not (f.concrete or f.many_to_many):
            continue
        if getattr(f, "remote_field", None) is not None and f.auto_created:
            continue
        yield f


def check_declaration(decl: ModelDeclaration, model) -> list[Problem]:
    out: list[Problem] = []
    names = {f.name for f in _concrete_fields(model)}
    retention = getattr(settings, "QUIETSHELF_RETENTION", {})
    for subject in decl.subject:
        if subject not in SUBJECT_CATEGORIES:
            out.append(
                Problem(
                    "bad_declaration",
                    decl.label,
                    f"unknown data-subject category {subject!r} "
                    f"(one of {', '.join(SUBJECT_CATEGORIES)})",
                )
            )
    for name, item in decl.fields.items():
        where = f"{decl.label}.{name}"
        if name not in names:
            out.append(Problem("unknown_field", where, "declared, but the model has no such field"))
        if not isinstance(item, Personal):
            out.append(
                Problem("bad_declaration", where, "declare with privacy.inventory.personal(...)")
            )
            continue
        if item.category not in DATA_CATEGORIES:
            out.append(
                Problem(
                    "bad_declaration",
                    where,
                    f"unknown data category {item.category!r} "
                    f"(one of {', '.join(DATA_CATEGORIES)})",
                )
            )
        if item.risk not in RISK_CLASSES:
            out.append(
                Problem(
                    "bad_declaration",
                    where,
                    f"unknown risk class {item.risk!r} (high, medium or low)",
                )
            )
        if item.legal_basis not in LEGAL_BASES:
            out.append(
                Problem(
                    "bad_declaration",
                    where,
                    f"unknown legal basis {item.legal_basis!r} (one of {', '.join(LEGAL_BASES)})",
                )
            )
        if item.retention not in retention:
            out.append(
                Problem(
                    "bad_declaration",
                    where,
                    f"retention rule {item.retention!r} is not in settings.QUIETSHELF_RETENTION",
                )
            )
        subjects = _as_tuple(item.subject) or decl.subject
        if not subjects:
            out.append(Problem("bad_declaration", where, "no data-subject category"))
        for subject in _as_tuple(item.subject):
            if subject not in SUBJECT_CATEGORIES:
                out.append(
                    Problem("bad_declaration", where, f"unknown data-subject category {subject!r}")
                )
        if not item.purpose.strip() or not item.source.strip():
            out.append(Problem("bad_declaration", where, "purpose and source must be given"))
        if name in decl.not_personal:
            out.append(
                Problem("bad_declaration", where, "both declared personal and listed not personal")
            )
    for name in decl.not_personal:
        if name not in names:
            out.append(
                Problem(
                    "unknown_field",
                    f"{decl.label}.{name}",
                    "listed not personal, but the model has no such field",
                )
            )
    return out


def problems(model_list=None) -> list[Problem]:
    """Every undeclared personal-looking field and every bad declaration."""
    out: list[Problem] = []
    for model in model_list if model_list is not None else apps.get_models():
        decl = declaration_for(model)
        if decl is not None:
            out.extend(check_declaration(decl, model))
        declared = set(decl.fields) if decl else set()
        reviewed = set(decl.not_personal) if decl else set()
        for f in _concrete_fields(model):
            if f.name in declared or f.name in reviewed:
                continue
            if may_hold_personal_data(f):
                out.append(
                    Problem(
                        "undeclared",
                        f"{model._meta.label}.{f.name}",
                        "may hold personal data but is neither declared with personal(...) "
                        "nor listed in not_personal (docs/dev/adding-a-model.md)",
                    )
                )
    return out


def items() -> list[InventoryItem]:
    """Every declared personal field of every installed model."""
    out = []
    for model in apps.get_models():
        decl = declaration_for(model)
        if decl is None or not getattr(model.__dict__.get("Privacy"), "listed", True):
            continue  # `listed = False`: a tests-only model, checked but not processing
        for name, item in decl.fields.items():
            try:
                f = model._meta.get_field(name)
                label = str(getattr(f, "verbose_name", name))
                encrypted = getattr(f, "encrypted_at_rest", False)
            except Exception:  # noqa: BLE001 - a bad declaration is reported by problems()
                label, encrypted = name, False
            out.append(
                InventoryItem(
                    model_label=model._meta.label,
                    model_name=str(model._meta.verbose_name),
                    field=name,
                    field_label=label,
                    subjects=_as_tuple(item.subject) or decl.subject,
                    decl=item,
                    encrypted=encrypted,
                )
            )
    return out
