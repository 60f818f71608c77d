"""Role resolution behind authz (docs/roles.md).

A staff member holds a permission on a branch when one of their role grants
names it on that branch's org unit or on an ancestor of it. Grants on the
top of the tree (a unit without parent) hold everywhere (branch scope None).

Gates (PRV-ACC-2, PRV-ACC-3): a permission that reaches personal data is held
only if the staff member has acknowledged the current privacy training text
and the session is MFA-verified; administering permissions need MFA too.
`actor.mfa_verified` is set by accounts.middleware from the session; an actor
without it counts as not verified.

Superusers hold every permission everywhere, but the gates apply to them as
to everyone else.

Everything is worked out once per actor object and cached on it, so a page
asking many times costs one query for the grants (and one for training).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from quietshelf.accounts import permissions

CACHE_ATTR = "_qs_role_cache"

# Permissions that administer the system: usable only in an MFA-verified session.
ADMIN_PERMISSIONS = frozenset(
    {"accounts.manage_staff", "privacy.manage_policy", "privacyoffice.manage_canary"}
)


def needs_mfa(perm: str) -> bool:
    return permissions.reaches_personal_data(perm) or perm in ADMIN_PERMISSIONS


def needs_training(perm: str) -> bool:
    return permissions.reaches_personal_data(perm)


@dataclass
class Resolved:
    everywhere: set[str] = field(default_factory=set)  # perms held at a root
    branches: dict[str, set[int]] = field(default_factory=dict)  # perm -> branch ids
    trained: bool = False


def _tree():
    """(parent_of, branch_of, children_of) for the whole tree: small, one query."""
    from quietshelf.accounts.models import OrgUnit

    parent_of: dict[int, int | None] = {}
    branch_of: dict[int, int | None] = {}
    children: dict[int | None, list[int]] = {}
    for uid, parent_id, branch_id in OrgUnit.objects.values_list("id", "parent_id", "branch_id"):
        parent_of[uid] = parent_id
        branch_of[uid] = branch_id
        children.setdefault(parent_id, []).append(uid)
    return parent_of, branch_of, children


def branch_ids_under(unit_id: int, *, tree=None) -> set[int]:
    """Ids of the catalogue branches at or below an org unit."""
    _parent, branch_of, children = tree or _tree()
    out: set[int] = set()
    stack = [unit_id]
    seen: set[int] = set()
    while stack:
        uid = stack.pop()
        if uid in seen:
            continue
        seen.add(uid)
        if branch_of.get(uid) is not None:
            out.add(branch_of[uid])
        stack.extend(children.get(uid, ()))
    return out


def training_acknowledged(user) -> bool:
    """True if `user` acknowledged the current training text (False if there is none).
    Here, not in selectors, so that the role gates need nothing above them (#14)."""
    from quietshelf.accounts.models import TrainingAcknowledgement, TrainingText

    current = TrainingText.objects.order_by("-version").values_list("version", flat=True).first()
    if current is None:
        return False
    return TrainingAcknowledgement.objects.filter(user_id=user.pk, version=current).exists()


def _resolve(actor) -> Resolved:
    cached = getattr(actor, CACHE_ATTR, None)
    if cached is not None:
        return cached
    from quietshelf.accounts.models import RoleGrant

    grants = RoleGrant.objects.filter(user_id=actor.pk).values_list(
        "role__permissions", "org_unit_id", "org_unit__parent_id"
    )
    return resolve_from(actor, grants, trained=training_acknowledged(actor))


def resolve_from(actor, grants, *, trained: bool) -> Resolved:
    """Work out and cache on `actor` what its grants give, from rows read by the caller:
    (role permissions, org unit id, the unit's parent id) per grant, and whether the
    current training text is acknowledged (api.services reads both with the token)."""
    res = Resolved()
    if getattr(actor, "is_superuser", False):
        res.everywhere = set(permissions.PERMISSIONS)
    tree = None
    for perms, unit_id, parent_id in grants:
        perms = [p for p in (perms or []) if p in permissions.PERMISSIONS]
        if parent_id is None:
            res.everywhere.update(perms)
            continue
        tree = tree or _tree()
        ids = branch_ids_under(unit_id, tree=tree)
        for perm in perms:
            res.branches.setdefault(perm, set()).update(ids)
    res.trained = trained
    try:
        setattr(actor, CACHE_ATTR, res)
    except AttributeError:  # pragma: no cover - an object that takes no attributes
        pass
    return res


def forget(actor) -> None:
    """Drop the cached resolution (after a grant, a revoke or a training acknowledgement)."""
    if actor is not None and hasattr(actor, CACHE_ATTR):
        delattr(actor, CACHE_ATTR)


def gate_failure(actor, perm: str) -> str | None:
    """Why a held permission cannot be used now: 'mfa', 'training' or None."""
    if needs_mfa(perm) and not getattr(actor, "mfa_verified", False):
        return "mfa"
    if needs_training(perm) and not _resolve(actor).trained:
        return "training"
    return None


def _held_scope(actor, perm: str) -> set[int] | None:
    """Where the role grants say `perm` is held, before the gates."""
    token_permissions = getattr(actor, "token_permissions", None)
    if token_permissions is not None and perm not in token_permissions:
        return set()  # an API token uses only the roles it was made for
    res = _resolve(actor)
    if perm in res.everywhere:
        return None
    return set(res.branches.get(perm, ()))


def holds_ignoring_gates(actor, perm: str) -> bool:
    scope = _held_scope(actor, perm)
    return scope is None or bool(scope)


def actor_has_perm(actor, perm: str, *, branch_id: int | None = None) -> bool:
    scope = _held_scope(actor, perm)
    if scope is not None and not scope:
        return False
    if gate_failure(actor, perm):
        return False
    if branch_id is None or scope is None:
        return True
    return branch_id in scope


def actor_branch_scope(actor, perm: str) -> set[int] | None:
    scope = _held_scope(actor, perm)
    if scope is not None and not scope:
        return set()
    if gate_failure(actor, perm):
        return set()
    return scope


def actor_permissions(actor) -> dict[str, set[int] | None]:
    """Every permission usable now, with its branch scope (for pages showing 'what can I do')."""
    out = {}
    for perm in permissions.PERMISSIONS:
        scope = actor_branch_scope(actor, perm)
        if scope is None or scope:
            out[perm] = scope
    return out
