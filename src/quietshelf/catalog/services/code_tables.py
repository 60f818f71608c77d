"""Code tables: branches, item types, shelving locations."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from quietshelf.catalog.models import (
    Branch,
    ItemType,
    ShelvingLocation,
)
from quietshelf.catalog.services.records import _clean_text
from quietshelf.core.errors import Conflict, InvalidInput


def _create_coded(model, *, code: str, name: str, what: str, **extra):
    code = str(code or "").strip()
    if not code or len(code) > 32 or any(c.isspace() for c in code):
        raise InvalidInput(
            f"A {what} code is 1 to 32 characters without spaces.", code="invalid_code"
        )
    name = _clean_text(name, "name", 200) or code
    if model.objects.filter(code=code).exists():
        raise Conflict(
            f"The {what} code {code!r} is already in use.",
            code=f"duplicate_{what.replace(' ', '_')}",
        )
    try:
        with transaction.atomic():
            return model.objects.create(code=code, name=name, **extra)
    except IntegrityError:
        raise Conflict(
            f"The {what} code {code!r} is already in use.",
            code=f"duplicate_{what.replace(' ', '_')}",
        ) from None


@transaction.atomic(durable=True)
def branch_create(*, actor=None, code: str, name: str) -> Branch:
    return _create_coded(Branch, code=code, name=name, what="branch")


@transaction.atomic(durable=True)
def item_type_create(*, actor=None, code: str, name: str, circulates: bool = True) -> ItemType:
    return _create_coded(
        ItemType, code=code, name=name, what="item type", circulates=bool(circulates)
    )


@transaction.atomic(durable=True)
def location_create(*, actor=None, code: str, name: str) -> ShelvingLocation:
    return _create_coded(ShelvingLocation, code=code, name=name, what="location")
