"""WebAuthn security keys and passkeys for staff, through py_webauthn (no crypto of our own).

Registration (My security, after re-authentication) and sign-in (the second
step) each take two requests: options (the challenge is kept in the
session) and the browser's answer, checked by py_webauthn against the
challenge, our origin and relying-party id (the host name).
"""

from __future__ import annotations

import base64
import json

import webauthn
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from quietshelf.accounts.models import WebAuthnCredential
from quietshelf.core.errors import InvalidInput

REGISTER = "qs_webauthn_register"
LOGIN = "qs_webauthn_login"


def rp_id(request) -> str:
    return getattr(settings, "QUIETSHELF_WEBAUTHN_RP_ID", "") or request.get_host().split(":")[0]


def origin(request) -> str:
    return f"{request.scheme}://{request.get_host()}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def registration_options(request, user) -> str:
    existing = [
        PublicKeyCredentialDescriptor(id=bytes.fromhex(c.credential_id))
        for c in WebAuthnCredential.objects.filter(user=user)
    ]
    options = webauthn.generate_registration_options(
        rp_id=rp_id(request),
        rp_name=settings.OTP_TOTP_ISSUER,
        user_id=user.pk.bytes,
        user_name=str(user.username),
        exclude_credentials=existing,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.DISCOURAGED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
    )
    request.session[REGISTER] = _b64(options.challenge)
    return webauthn.options_to_json(options)


def register(request, user, body: dict, *, name: str) -> WebAuthnCredential:
    from quietshelf.accounts import services

    challenge = request.session.pop(REGISTER, None)
    if not challenge:
        raise InvalidInput("start again: no registration is waiting", code="no_challenge")
    try:
        verified = webauthn.verify_registration_response(
            credential=body,
            expected_challenge=_unb64(challenge),
            expected_rp_id=rp_id(request),
            expected_origin=origin(request),
        )
    except Exception as exc:  # noqa: BLE001 - any malformed or wrong answer is bad input
        raise InvalidInput("the security key's answer was not accepted", code="bad_key") from exc
    return services.webauthn_add(
        actor=user,
        name=name,
        credential_id_hex=verified.credential_id.hex(),
        public_key_hex=verified.credential_public_key.hex(),
        sign_count=verified.sign_count,
    )


def authentication_options(request, user) -> str:
    allowed = [
        PublicKeyCredentialDescriptor(id=bytes.fromhex(c.credential_id))
        for c in WebAuthnCredential.objects.filter(user=user)
    ]
    options = webauthn.generate_authentication_options(
        rp_id=rp_id(request),
        allow_credentials=allowed,
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    request.session[LOGIN] = _b64(options.challenge)
    return webauthn.options_to_json(options)


def _find(raw_id_b64: str):
    try:
        raw = _unb64(str(raw_id_b64))
    except (ValueError, TypeError):
        return None
    digest = WebAuthnCredential._meta.get_field("credential_index").digest(raw.hex())
    return WebAuthnCredential.objects.filter(credential_index=digest).first()


@transaction.atomic
def authenticate(request, user, body: dict) -> bool:
    """True if `body` is a valid assertion by one of `user`'s keys for the stored challenge."""
    challenge = request.session.pop(LOGIN, None)
    if not challenge or not isinstance(body, dict):
        return False
    cred = _find(body.get("rawId") or body.get("id") or "")
    if cred is None or cred.user_id != user.pk:
        return False
    try:
        verified = webauthn.verify_authentication_response(
            credential=body,
            expected_challenge=_unb64(challenge),
            expected_rp_id=rp_id(request),
            expected_origin=origin(request),
            credential_public_key=bytes.fromhex(cred.public_key),
            credential_current_sign_count=cred.sign_count,
        )
    except Exception:  # noqa: BLE001 - a wrong or malformed assertion fails the check
        return False
    cred.sign_count = verified.new_sign_count
    cred.last_used_at = timezone.now()
    cred.save(update_fields=["sign_count", "last_used_at"])
    return True


def parse_body(request) -> dict:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("not JSON", code="bad_json") from None
    if not isinstance(body, dict):
        raise InvalidInput("not a JSON object", code="bad_json")
    return body
