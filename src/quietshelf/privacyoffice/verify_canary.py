"""Check a downloaded warrant canary without a Quietshelf instance (PRV-GOV-2).

    python -m quietshelf.privacyoffice.verify_canary canary.txt canary.sig canary.pub

Uses only `cryptography` (no Django, no database): the signature over the
exact bytes of canary.txt, then the "Valid until" date in it against today.
Exit 0 when good and current, 1 when bad or stale, 2 for unusable files.
"""

from __future__ import annotations

import datetime as dt
import re
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

VALID_UNTIL = re.compile(r"^Valid until: (\d{4}-\d{2}-\d{2})$", re.M)


def check(text: bytes, signature: bytes, pem: bytes, *, today: dt.date) -> tuple[int, str]:
    try:
        key = load_pem_public_key(pem)
    except ValueError:
        return 2, "canary.pub is not a PEM public key"
    if not isinstance(key, Ed25519PublicKey):
        return 2, "canary.pub is not an Ed25519 key"
    try:
        key.verify(signature, text)
    except InvalidSignature:
        return 1, "BAD: the signature does not match the statement"
    found = VALID_UNTIL.search(text.decode("utf-8", "replace"))
    if found is None:
        return 2, "the statement has no 'Valid until' line"
    until = dt.date.fromisoformat(found.group(1))
    if today > until:
        return 1, f"STALE: the statement was valid until {until}"
    return 0, f"good signature; valid until {until}"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        sys.stderr.write("usage: python -m quietshelf.privacyoffice.verify_canary TXT SIG PUB\n")
        return 2
    try:
        text, signature, pem = (open(path, "rb").read() for path in args)  # noqa: SIM115
    except OSError as exc:
        sys.stderr.write(f"verify_canary: error: {exc.strerror}: {exc.filename}\n")
        return 2
    code, message = check(text, signature, pem, today=dt.date.today())  # noqa: DTZ011
    (sys.stdout if code == 0 else sys.stderr).write(message + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
