"""Consent scopes (PRV-CON-1/2): what a person may opt in to, and what withdrawal erases.

An app registers its scope once, at import time (e.g. in its apps.py ready())::

    consent.register_scope(
        "reading_history",
        description="Keep a list of what I have borrowed",
        on_withdraw=erase_reading_history,   # called with subject_id, in the same transaction
    )

Features ask `has_consent(subject_id=..., scope=...)`; the services
`give_consent` / `withdraw_consent` are in privacy/services.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ConsentScope:
    name: str
    description: str
    on_withdraw: Callable[[uuid.UUID], None] | None


_scopes: dict[str, ConsentScope] = {}


def register_scope(
    name: str, *, description: str, on_withdraw: Callable[[uuid.UUID], None] | None = None
) -> ConsentScope:
    scope = ConsentScope(name=name, description=description, on_withdraw=on_withdraw)
    _scopes[name] = scope
    return scope


def unregister_scope(name: str) -> None:
    _scopes.pop(name, None)


def get_scope(name: str) -> ConsentScope | None:
    return _scopes.get(name)


def scopes() -> list[ConsentScope]:
    return sorted(_scopes.values(), key=lambda s: s.name)


def has_consent(*, subject_id, scope: str) -> bool:
    from quietshelf.privacy.models import ConsentRecord

    return ConsentRecord.objects.filter(
        subject_id=subject_id, scope=scope, withdrawn_at__isnull=True
    ).exists()
