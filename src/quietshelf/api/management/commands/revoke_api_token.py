"""quietshelf revoke-api-token: stop a token from working."""

from __future__ import annotations

from quietshelf.api import services
from quietshelf.core.commands import QuietshelfCommand, UsageError
from quietshelf.core.errors import DomainError


class Command(QuietshelfCommand):
    help = "Revoke an API token by its id (printed when it was created)."

    def add_arguments(self, parser):
        parser.add_argument("--id", type=int, required=True, dest="token_id")

    def handle(self, *args, token_id: int, **options):
        try:
            services.api_token_revoke(actor=None, token_id=token_id)
        except DomainError as exc:
            raise UsageError(exc.message) from None
        self.stdout.write(f"token {token_id} revoked\n")
