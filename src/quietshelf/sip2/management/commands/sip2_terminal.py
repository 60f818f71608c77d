"""quietshelf sip2-terminal: SIP2 terminal accounts (docs/sip2.md).

sip2-terminal add NAME --branch CODE [--messages 11,09,17] [--patron-name first]
              [--titles] [--no-pin] [--institution AO]
sip2-terminal list
sip2-terminal password NAME          a new generated password, printed once
sip2-terminal set NAME [--branch ...] [--messages ...] [--patron-name ...]
              [--titles | --no-titles] [--pin | --no-pin]
sip2-terminal disable NAME | enable NAME
"""

from __future__ import annotations

from quietshelf.core.commands import QuietshelfCommand, UsageError
from quietshelf.core.errors import DomainError

ACTIONS = ("add", "list", "password", "set", "disable", "enable")


class Command(QuietshelfCommand):
    help = "Add, list, change, disable SIP2 terminal accounts; passwords are printed once."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=ACTIONS)
        parser.add_argument("name", nargs="?", default="")
        parser.add_argument("--branch", help="branch code the terminal stands in")
        parser.add_argument("--messages", help="allowed message codes, comma-separated")
        parser.add_argument("--patron-name", choices=("full", "first", "none"))
        parser.add_argument("--institution", help="institution id (AO); default the branch code")
        titles = parser.add_mutually_exclusive_group()
        titles.add_argument("--titles", dest="titles", action="store_true", default=None)
        titles.add_argument("--no-titles", dest="titles", action="store_false")
        pin = parser.add_mutually_exclusive_group()
        pin.add_argument("--pin", dest="pin", action="store_true", default=None)
        pin.add_argument("--no-pin", dest="pin", action="store_false")

    def handle(self, *args, action: str, name: str, **opts):
        from quietshelf.sip2 import services
        from quietshelf.sip2.models import Terminal

        if action != "list" and not name:
            raise UsageError(f"{action} needs a terminal NAME")
        try:
            if action == "add":
                if not opts.get("branch"):
                    raise UsageError("add needs --branch CODE")
                terminal, password = services.terminal_create(
                    actor=None,
                    name=name,
                    branch=opts["branch"],
                    allowed_messages=opts["messages"] or services.GRANTABLE,
                    patron_name=opts["patron_name"] or "first",
                    send_titles=bool(opts["titles"]),
                    require_pin=opts["pin"] is not False,
                    institution_id=opts["institution"] or "",
                )
                self._print_one(terminal)
                self.stdout.write(f"password: {password}\n(shown only this once)\n")
                return
            if action == "list":
                for terminal in services.terminal_list(actor=None):
                    self._print_one(terminal)
                return
            terminal = Terminal.objects.filter(name=name).first()
            if terminal is None:
                raise UsageError(f"no terminal named {name}")
            if action == "password":
                password = services.terminal_set_password(actor=None, terminal_id=terminal.pk)
                self.stdout.write(f"name: {name}\npassword: {password}\n(shown only this once)\n")
                return
            changes: dict = {}
            if action in ("disable", "enable"):
                changes["active"] = action == "enable"
            else:
                mapping = {
                    "branch": "branch",
                    "messages": "allowed_messages",
                    "patron_name": "patron_name",
                    "institution": "institution_id",
                    "titles": "send_titles",
                    "pin": "require_pin",
                }
                changes = {
                    target: opts[source]
                    for source, target in mapping.items()
                    if opts.get(source) is not None
                }
                if not changes:
                    raise UsageError("set needs at least one option to change")
            terminal = services.terminal_update(actor=None, terminal_id=terminal.pk, **changes)
            self._print_one(terminal)
        except DomainError as exc:
            raise UsageError(exc.message) from None

    def _print_one(self, terminal) -> None:
        self.stdout.write(
            f"{terminal.name}: branch {terminal.branch.code}, "
            f"messages {terminal.allowed_messages}, "
            f"name {terminal.patron_name}, titles {'yes' if terminal.send_titles else 'no'}, "
            f"PIN {'required' if terminal.require_pin else 'not required'}"
            f"{'' if terminal.active else ', DISABLED'}\n"
        )
