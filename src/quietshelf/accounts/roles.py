"""Role resolution behind authz. For now: administrators (superusers) hold
every permission everywhere and nobody else holds any. Roles granted on the
organisation tree, MFA and training gates replace this (issue 5)."""

from __future__ import annotations


def actor_has_perm(actor, perm: str, *, branch_id: int | None = None) -> bool:
    return bool(getattr(actor, "is_superuser", False))


def actor_branch_scope(actor, perm: str) -> set[int] | None:
    return None if getattr(actor, "is_superuser", False) else set()
