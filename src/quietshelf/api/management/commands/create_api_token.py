"""quietshelf create-api-token: a bearer token for the REST API, printed once."""

from __future__ import annotations

from quietshelf.api import services
from quietshelf.core.commands import QuietshelfCommand, UsageError
from quietshelf.core.errors import DomainError


class Command(QuietshelfCommand):
    help = (
        "Create an API token for a staff account. The token is printed once; only its "
        "SHA-256 hash is stored, so it cannot be shown again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True, help="the staff account it acts as")
        parser.add_argument("--name", default="", help="a label to tell tokens apart")
        parser.add_argument(
            "--role",
            action="append",
            dest="roles",
            default=[],
            help="a role (code) of the owner the token may use; repeat for more (default: all)",
        )
        parser.add_argument(
            "--personal-data",
            action="store_true",
            help="let the token reach patron data (the owner needs a second factor enrolled)",
        )

    def handle(self, *args, username: str, name: str, roles, personal_data, **options):
        if len(name) > 100:
            raise UsageError("--name takes at most 100 characters")
        try:
            new = services.api_token_create(
                actor=None,
                username=username,
                name=name,
                role_codes=roles or None,
                personal_data=personal_data,
            )
        except DomainError as exc:
            raise UsageError(exc.message) from None
        self.stdout.write(f"token id: {new.token_id}\ntoken: {new.token}\n")
        self.stdout.write(
            "The token is shown only this once. Send it as 'Authorization: Bearer <token>'.\n"
        )
