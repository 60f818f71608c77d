"""Demo staff: one account per built-in role, each with its own generated password.

The org tree is made from the catalogue's branches (one root "All libraries"
with a branch unit per branch); every demo role is granted at the root. The
accounts have no second factor: at first sign-in each sets one up under My
security (/staff/accounts/security/) and acknowledges the privacy training
(/staff/accounts/training/) before patron data or administration opens.
"""

from __future__ import annotations

from quietshelf.accounts import services
from quietshelf.accounts.builtin import BUILTIN_ROLES
from quietshelf.accounts.models import StaffUser

MFA_NOTE = (
    "At first sign-in, open My security (/staff/accounts/security/), add an authenticator "
    "app (scan the QR code or type the key), store the recovery codes, and acknowledge the "
    "privacy training (/staff/accounts/training/); patron data and administration open "
    "only after that."
)


def create_demo_staff(*, prefix: str = "demo-") -> list[tuple[str, str, str]]:
    """[(username, role name, password)]; an existing demo account gets a new password.

    Each account is made in its own service's (durable) transaction: a run that stops
    half-way is finished by the next one, which resets what is there and adds the rest."""
    root = services.org_tree_from_branches(actor=None)
    out = []
    for code, (name, _description, _perms) in BUILTIN_ROLES.items():
        username = f"{prefix}{code}"
        if StaffUser.objects.filter(username=username).exists():
            password = services.staff_reset_password(actor=None, username=username)
        else:
            password = services.staff_create(
                actor=None, username=username, role_codes=[code], org_unit=root
            )
        out.append((username, name, password))
    return out
