"""quietshelf canary sign --valid-days N | canary verify: the warrant canary (PRV-GOV-2)."""

from __future__ import annotations

from django.core.management.base import CommandError

from quietshelf.core.commands import QuietshelfCommand, UsageError
from quietshelf.core.errors import DomainError
from quietshelf.privacyoffice import selectors, services


class Command(QuietshelfCommand):
    help = "Sign a new warrant canary, or verify the published one (signature and freshness)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sign = sub.add_parser("sign", help="sign a new dated statement")
        sign.add_argument("--valid-days", type=int, required=True, help="1 to 366 days")
        sub.add_parser("verify", help="check the published statement; exit 1 if bad or stale")
        # subparsers need the one-line error too
        for p in (sign,):
            p.error = parser.error

    def handle(self, *args, action: str, **options):
        if action == "sign":
            try:
                st = services.canary_sign(actor=None, valid_days=options["valid_days"])
            except DomainError as exc:
                raise UsageError(exc.message) from None
            self.stdout.write(
                f"canary signed {st.signed_at:%Y-%m-%d}, valid until {st.valid_until:%Y-%m-%d}; "
                f"public key {st.public_key}"
            )
            return
        view = selectors.canary_current()
        if view.statement is None:
            raise CommandError("no warrant canary has been signed", returncode=1)
        if not view.signature_ok:
            raise CommandError("the canary's signature does NOT match its text", returncode=1)
        if view.stale:
            raise CommandError(
                f"the canary is STALE: it was valid until {view.statement.valid_until:%Y-%m-%d}",
                returncode=1,
            )
        self.stdout.write(
            f"canary valid: signature good, valid until {view.statement.valid_until:%Y-%m-%d}"
        )
