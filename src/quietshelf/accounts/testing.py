"""Helpers for tests in every app: staff with roles, trained, in an MFA-verified session.

    from quietshelf.accounts.testing import make_staff, signed_in_client

    desk = make_staff("desk-1", roles=["circulation-desk"], org_unit=None)  # root: everywhere
    desk.mfa_verified  # True: usable as a service actor
    client = signed_in_client(desk)  # Django test client, session MFA-verified

A role's permissions that reach personal data need acknowledged training and
an MFA-verified session (docs/roles.md); pass trained=False or mfa=False to
test the gates.
"""

from __future__ import annotations

from quietshelf.accounts import mfa as mfa_lib
from quietshelf.accounts import roles as role_lib
from quietshelf.accounts import services, sessions
from quietshelf.accounts.models import OrgUnit, StaffTOTPDevice, StaffUser, TrainingText

TEST_PASSWORD = "correct-horse-battery-9"  # noqa: S105 - the test factories' password


def acknowledge_current_training(user) -> None:
    text = TrainingText.objects.order_by("-version").first()
    if text is None:
        from quietshelf.accounts.builtin import TRAINING_V1_BODY, TRAINING_V1_TITLE

        text = TrainingText.objects.create(
            version=1, title=TRAINING_V1_TITLE, body=TRAINING_V1_BODY
        )
    services.training_acknowledge(actor=user, version=text.version)


def make_staff(
    username: str,
    *,
    roles: list[str] | tuple[str, ...] = (),
    org_unit: OrgUnit | None = None,
    trained: bool = True,
    mfa: bool = True,
    superuser: bool = False,
    password: str = TEST_PASSWORD,
) -> StaffUser:
    """A staff account with `roles` (codes) on `org_unit` (None: the root of the tree)."""
    user = StaffUser.objects.create_user(username, password, is_superuser=superuser)
    for code in roles:
        services.role_grant(
            actor=None, user=user, role=services.role_get(code=code), org_unit=org_unit
        )
    if trained:
        acknowledge_current_training(user)
    user.mfa_verified = mfa
    role_lib.forget(user)
    return user


def add_totp(user) -> str:
    """A confirmed authenticator for `user`; returns its hex secret (mfa.totp_code(key))."""
    key = mfa_lib.new_totp_secret()
    StaffTOTPDevice.objects.create(
        user=user, subject_id=user.subject_id, name="test", key=key, confirmed=True
    )
    return key


def signed_in_client(user, *, mfa: bool = True, client=None):
    """A test client signed in as `user`, its session MFA-verified (or not)."""
    from django.test import Client

    client = client or Client()
    client.force_login(user)
    session = client.session
    now = sessions.now()
    session[sessions.MFA] = mfa
    session[sessions.PASSWORD_AT] = now
    if mfa:
        session[sessions.FACTOR_AT] = now
    session.save()
    return client
