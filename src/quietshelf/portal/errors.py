"""Domain errors of the patron portal (mapped to form errors and API statuses once)."""

from __future__ import annotations

from quietshelf.core.errors import DomainError, InvalidInput, NotFound, RateLimited


class SignInFailed(DomainError):
    """Unknown identifier or wrong password: one message for both (no account probing)."""

    code = "sign_in_failed"
    status_hint = 401


class SignInLocked(RateLimited):
    code = "sign_in_locked"


class PinNotAccepted(InvalidInput):
    """A short numeric PIN is for self-check and SIP2 only (PRV-AUTH-1)."""

    code = "pin_not_accepted"


class AccountNotActive(DomainError):
    code = "account_not_active"
    status_hint = 403


class PasswordRejected(InvalidInput):
    code = "password_rejected"


class PasswordLinkInvalid(NotFound):
    code = "password_link_invalid"


class NoEmailAddress(InvalidInput):
    code = "no_email_address"


class RegistrationClosed(NotFound):
    code = "registration_closed"


class ReauthenticationFailed(DomainError):
    code = "reauthentication_failed"
    status_hint = 403


class PinRejected(DomainError):
    code = "pin_rejected"
