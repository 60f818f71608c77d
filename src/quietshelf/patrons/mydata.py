"""Everything held about a patron, generated from the data inventory (PRV-DSR-1, PRV-DSR-2).

Nothing here lists fields by hand. For every model whose inventory
declaration names the data-subject category "patron", the patron's rows are
found by the model's relations (the patron itself, a foreign key to the
patron, the patron's privacy subject, or a foreign key to a row found that
way), plus a few kernel tables linked by id (the audit log, policy
acknowledgements, this browser's session). Each declared field is shown with
its value and its declaration (purpose, legal basis, retention, readers). A
model added tomorrow with a `class Privacy` appears here without a change.

Secrets are never shown: credentials read "set" or "not set", blind indexes
"a keyed hash for look-ups", the session "this browser's session".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.apps import apps
from django.db import models
from django.db.models import Q
from django.utils import timezone

from quietshelf.privacy import inventory
from quietshelf.privacy.fields import BlindIndexField, is_unavailable
from quietshelf.privacy.models import ActorType
from quietshelf.privacy.selectors import retention_text

PATRON_LABEL = "patrons.Patron"
SUBJECT_LABEL = "privacy.Subject"
MAX_ROWS = 500


@dataclass
class HeldField:
    key: str  # "app.Model.field"
    name: str
    label: str
    category: str
    category_text: str
    purpose: str
    legal_basis: str
    retention: str
    readers: list[str]
    source: str
    encrypted: bool


@dataclass
class HeldModel:
    label: str
    name: str
    fields: list[HeldField]
    rows: list[dict[str, str]] = field(default_factory=list)
    linked: bool = True  # False: held, but not linked to a person in a way we can look up
    truncated: bool = False

    @property
    def records(self) -> list[list[tuple[HeldField, str]]]:
        """Each row held as (field, shown value) pairs, in the declaration's order."""
        return [[(f, row.get(f.name, "")) for f in self.fields] for row in self.rows]


def _patron_fields():
    """The inventory's declared fields for the patron data-subject category, by model."""
    by_model: dict[str, list] = {}
    for item in inventory.items():
        if "patron" in item.subjects:
            by_model.setdefault(item.model_label, []).append(item)
    return by_model


# --- finding the patron's rows ---------------------------------------------------------


def _session_rows(model, patron, ctx):
    key = ctx.get("session_key")
    return model.objects.filter(pk=key) if key else model.objects.none()


def _audit_rows(model, patron, ctx):
    return model.objects.filter(own_audit_filter(patron)).order_by("-seq")


def _ack_rows(model, patron, ctx):
    return model.objects.filter(actor_type=ActorType.PATRON, actor_id=str(patron.pk))


def _subject_rows(model, patron, ctx):
    return model.objects.filter(pk=patron.subject_id)


# Kernel tables linked to a person by id rather than by a foreign key.
SPECIAL: dict[str, Callable] = {
    "sessions.Session": _session_rows,
    "privacy.AuditEntry": _audit_rows,
    "privacy.PolicyAcknowledgement": _ack_rows,
    SUBJECT_LABEL: _subject_rows,
}


def _direct_filter(model, patron) -> Q | None:
    q = None
    for f in model._meta.concrete_fields:
        if not (f.is_relation and f.many_to_one and f.related_model is not None):
            continue
        target = f.related_model._meta.label
        part = None
        if target == PATRON_LABEL:
            part = Q(**{f.attname: patron.pk})
        elif target == SUBJECT_LABEL:
            part = Q(**{f.attname: patron.subject_id})
        if part is not None:
            q = part if q is None else q | part
    return q


def rows_for(model, patron, ctx=None) -> models.QuerySet | None:
    """The patron's rows of `model`, or None when the model is not linked to patrons."""
    ctx = ctx or {}
    label = model._meta.label
    if label in SPECIAL:
        return SPECIAL[label](model, patron, ctx)
    if label == PATRON_LABEL:
        return model.objects.filter(pk=patron.pk)
    q = _direct_filter(model, patron)
    if q is not None:
        return model.objects.filter(q)
    # one step further: a foreign key to a row that is itself the patron's
    for f in model._meta.concrete_fields:
        if f.is_relation and f.many_to_one and f.related_model is not None:
            inner = _direct_filter(f.related_model, patron)
            if inner is not None:
                parents = f.related_model.objects.filter(inner).values("pk")
                q2 = Q(**{f"{f.attname}__in": parents})
                q = q2 if q is None else q | q2
    return model.objects.filter(q) if q is not None else None


# --- showing a value without giving away a secret ------------------------------------------


def display(obj, model_field, decl, patron) -> str:
    label = obj._meta.label
    if label == "sessions.Session":
        return "this browser's session (kept secret, not shown)"
    if isinstance(model_field, BlindIndexField) or model_field.name.endswith(
        ("_index", "_digest", "digest")
    ):
        return (
            "a keyed hash used for look-ups (not reversible)"
            if getattr(obj, model_field.attname)
            else "—"
        )
    value = getattr(obj, model_field.attname)
    if label == "privacy.AuditEntry" and model_field.name == "actor_id":
        if obj.actor_type == ActorType.PATRON and value == str(patron.pk):
            return "you"
        return f"{obj.get_actor_type_display()} (id not shown)"
    if decl.category == "credential":
        return "set" if value else "not set"
    if is_unavailable(value):
        return str(value)
    if value is None or value == "":
        return "—"
    if model_field.is_relation and model_field.related_model is not None:
        target = model_field.related_model._meta.label
        if target == PATRON_LABEL and str(value) == str(patron.pk):
            return "you"
        if target == SUBJECT_LABEL and str(value) == str(patron.subject_id):
            return "your key (internal id)"
        related = getattr(obj, model_field.name, None)
        return str(related) if related is not None else str(value)
    if model_field.choices:
        return str(getattr(obj, f"get_{model_field.name}_display")())
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    return text if len(text) <= 1000 else text[:1000] + "…"


def _existing_tables() -> set[str]:
    """Tables of the databases the models route to (a declared model may be unmigrated)."""
    from django.db import connections, router

    names: set[str] = set()
    for alias in {router.db_for_read(m) or "default" for m in apps.get_models()}:
        names.update(connections[alias].introspection.table_names())
    return names


def everything_held(*, patron, session_key: str | None = None) -> list[HeldModel]:
    """One HeldModel per model holding patron data, each with every declared field."""
    ctx = {"session_key": session_key}
    tables = _existing_tables()
    out = []
    for label, items in sorted(_patron_fields().items()):
        model = apps.get_model(label)
        held_fields = [
            HeldField(
                key=f"{label}.{item.field}",
                name=item.field,
                label=item.field_label,
                category=item.decl.category,
                category_text=inventory.DATA_CATEGORIES.get(item.decl.category, ""),
                purpose=item.decl.purpose,
                legal_basis=inventory.LEGAL_BASES.get(item.decl.legal_basis, item.decl.legal_basis),
                retention=retention_text(item.decl.retention),
                readers=list(item.decl.readers),
                source=item.decl.source,
                encrypted=item.encrypted,
            )
            for item in items
        ]
        held = HeldModel(label=label, name=str(model._meta.verbose_name), fields=held_fields)
        qs = rows_for(model, patron, ctx) if model._meta.db_table in tables else None
        if qs is None:
            held.linked = False
        else:
            related = [
                f.name
                for f in (model._meta.get_field(hf.name) for hf in held_fields)
                if f.is_relation
                and f.many_to_one
                and f.related_model is not None
                and f.related_model._meta.label not in (PATRON_LABEL, SUBJECT_LABEL)
            ]
            if related:
                qs = qs.select_related(*related)  # one query per table, not one per row
            rows = list(qs[: MAX_ROWS + 1])
            held.truncated = len(rows) > MAX_ROWS
            decls = {item.field: item.decl for item in items}
            for obj in rows[:MAX_ROWS]:
                values = {}
                for hf in held_fields:
                    mf = model._meta.get_field(hf.name)
                    values[hf.name] = display(obj, mf, decls[hf.name], patron)
                held.rows.append(values)
        out.append(held)
    return out


def as_json(*, patron, held: list[HeldModel]) -> dict:
    return {
        "generated_at": timezone.now().isoformat(timespec="seconds"),
        "about": "Everything this library holds about you, generated from its data inventory.",
        "tables": [
            {
                "table": h.label,
                "name": h.name,
                "linked": h.linked,
                "truncated": h.truncated,
                "fields": [
                    {
                        "field": f.name,
                        "label": f.label,
                        "category": f.category,
                        "purpose": f.purpose,
                        "legal_basis": f.legal_basis,
                        "retention": f.retention,
                        "who_sees": f.readers,
                        "source": f.source,
                        "encrypted": f.encrypted,
                    }
                    for f in h.fields
                ],
                "rows": h.rows,
            }
            for h in held
        ],
    }


def as_csv_rows(held: list[HeldModel]):
    """Rows for `core.csvfile` (which neutralises formulas, SEC-CSV-1); the header first."""
    yield ["table", "row", "field", "value", "purpose", "legal_basis", "retention", "who_sees"]
    for h in held:
        if not h.rows:
            for f in h.fields:
                yield [
                    h.label,
                    "",
                    f.name,
                    "",
                    f.purpose,
                    f.legal_basis,
                    f.retention,
                    " ".join(f.readers),
                ]
            continue
        for i, row in enumerate(h.rows, start=1):
            for f in h.fields:
                yield [
                    h.label,
                    str(i),
                    f.name,
                    row.get(f.name, ""),
                    f.purpose,
                    f.legal_basis,
                    f.retention,
                    " ".join(f.readers),
                ]


def own_audit_filter(patron) -> Q:
    """The audit entries that are about this patron or made by them."""
    return Q(actor_type=ActorType.PATRON, actor_id=str(patron.pk)) | Q(
        object_type__startswith="patrons.", object_id=str(patron.pk)
    )
