"""quietshelf create-staff: a staff account with a generated password, printed once."""

from __future__ import annotations

import re

from quietshelf.accounts import services as account_services
from quietshelf.core.commands import QuietshelfCommand, UsageError
from quietshelf.core.errors import DomainError

USERNAME = re.compile(r"^[A-Za-z0-9_.@+-]{3,150}$")


class Command(QuietshelfCommand):
    help = (
        "Create a staff account, or reset its password with --reset. The password is "
        "generated and printed once; it is never stored in clear."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True)
        parser.add_argument(
            "--admin", action="store_true", help="give the account every permission"
        )
        parser.add_argument(
            "--reset", action="store_true", help="set a new password on an existing account"
        )

    def handle(self, *args, username: str, admin: bool, reset: bool, **options):
        if not USERNAME.match(username):
            raise UsageError("--username takes 3-150 letters, digits and _.@+- only")
        try:
            if reset:
                password = account_services.staff_reset_password(actor=None, username=username)
            else:
                password = account_services.staff_create(
                    actor=None, username=username, administrator=admin
                )
        except DomainError as exc:
            raise UsageError(exc.message) from None
        self.stdout.write(f"username: {username}\npassword: {password}\n")
        self.stdout.write("The password is shown only this once.\n")
