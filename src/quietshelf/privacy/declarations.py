"""Reviewed declarations for models Quietshelf uses but does not define.

Django's sessions hold who is signed in (personal data: declared); auth's
permissions and groups and contenttypes are labels (reviewed: not personal).
"""

from __future__ import annotations

from quietshelf.privacy.inventory import declare_external, personal

declare_external(
    "sessions.Session",
    subject=("staff", "patron"),
    fields={
        "session_key": personal(
            category="technical",
            risk="medium",
            purpose="keeping you signed in",
            legal_basis="contract",
            source="generated when you sign in",
            retention="session",
            readers=("system",),
        ),
        "session_data": personal(
            category="technical",
            risk="medium",
            purpose="keeping you signed in (your account id and sign-in state)",
            legal_basis="contract",
            source="generated when you sign in",
            retention="session",
            readers=("system",),
        ),
    },
)
declare_external(
    "auth.Permission",
    not_personal={"name": "permission label", "codename": "permission code"},
)
declare_external("auth.Group", not_personal={"name": "role name"})
declare_external(
    "contenttypes.ContentType",
    not_personal={"app_label": "application label", "model": "model name"},
)
