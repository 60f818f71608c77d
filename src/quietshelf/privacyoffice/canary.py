"""The warrant canary's key and signatures (PRV-GOV-2): Ed25519 from `cryptography`.

The private key is a random 32-byte seed kept wrapped by the master key in the
key store (privacy.keys.instance_secret "canary-signing-key"), apart from the
audit log's key. The public key is published in PEM (SubjectPublicKeyInfo),
so `openssl pkeyutl -verify -pubin -inkey canary.pub -rawin -in canary.txt
-sigfile canary.sig` checks a statement without Quietshelf.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from quietshelf.privacy import keys

SECRET_NAME = "canary-signing-key"  # noqa: S105 - the key store name, not a secret


def _private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(keys.instance_secret(SECRET_NAME))


def public_key_hex() -> str:
    return _private_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def public_key_pem(public_hex: str) -> str:
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex))
    return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


def sign(text: str) -> tuple[str, str]:
    """(signature hex, public key hex) over the UTF-8 bytes of `text`."""
    key = _private_key()
    signature = key.sign(text.encode("utf-8"))
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return signature.hex(), raw.hex()


def signature_valid(*, text: str, signature_hex: str, public_hex: str) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex)).verify(
            bytes.fromhex(signature_hex), text.encode("utf-8")
        )
    except (InvalidSignature, ValueError):
        return False
    return True
