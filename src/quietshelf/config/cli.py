"""The `quietshelf` command: Django management commands with library names.

`quietshelf import-marc FILE` runs the management command import_marc.
Bad arguments anywhere give a one-line error and exit status 2.
"""

from __future__ import annotations

import os
import sys

COMMANDS = {
    "demo": "Create or reuse a demo instance, load the demo catalogue and serve it.",
    "serve": "Serve the staff and public interface (WSGI, waitress).",
    "migrate": "Create or update the database tables.",
    "import-marc": "Import MARC21 records (ISO 2709 or MARCXML).",
    "export-marc": "Export MARC21 records (ISO 2709 UTF-8 or MARCXML).",
    "reindex": "Rebuild the catalogue search index.",
    "create-staff": "Create a staff account (or reset its password) and print its login.",
    "check": "Check the configuration and the privacy inventory.",
    "rotate-keys": "Re-wrap every data key under the newest master key version.",
    "audit-verify": "Verify the audit log's hash chain and signed checkpoints.",
    "privacy-report": "Print the records of processing (GDPR Art. 30), Markdown or JSON.",
    "load-patrons": "Load patrons from a campus or municipal system (CSV or JSON).",
    "create-api-token": "Create an API token for a role (shown once).",
    "revoke-api-token": "Revoke an API token.",
    "worker": "Run scheduled and queued jobs (fines, hold expiry, notices) beside serve.",
    "jobs": "List the scheduled jobs and their last runs.",
    "run-job": "Run one job now: run-job NAME [--date YYYY-MM-DD].",
    "send-notices": "Queue and send the due notices now (what the worker does on schedule).",
    "circulation-daily": "Run the nightly circulation jobs by hand (fines, hold expiry, ...).",
    "sip2": "Serve SIP2 to self-check machines and sorters (docs/sip2.md).",
    "sip2-terminal": "Add, list, change or disable SIP2 terminal accounts.",
    "erase-patron": "Erase a patron account; the exceptions are shown first.",
    "canary": "Sign (canary sign --valid-days N) or verify the warrant canary.",
    "privacy-audit": "Check configuration and data against the privacy requirements (read-only).",
    "retention": "Apply the retention schedule: 'run', or '--dry-run' to count only.",
    "backup": "Write an encrypted backup of the database and key store.",
    "restore": "Restore an encrypted backup into an empty instance (erasures re-applied).",
}


def _one_line_error(self, message):
    # argparse prints the whole usage block; an operator wants the one fact.
    prog = self.prog.replace("python -m quietshelf", "quietshelf")
    sys.stderr.write(f"{prog}: error: {message} (see --help)\n")
    sys.exit(2)


def _usage() -> str:
    width = max(len(name) for name in COMMANDS) + 2
    lines = ["usage: quietshelf COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<{width}}{text}" for name, text in COMMANDS.items()]
    lines += ["", "Run 'quietshelf COMMAND --help' for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quietshelf.config.settings")
    args = argv[1:]
    if not args:
        # No command is a usage error: the help goes to stderr, the status is 2.
        sys.stderr.write(_usage() + "\n")
        sys.exit(2)
    if args[0] in {"-h", "--help", "help"}:
        print(_usage())
        sys.exit(0)
    command = args[0]
    if command.startswith("-"):
        sys.stderr.write(f"quietshelf: error: unknown option {command!r} (see --help)\n")
        sys.exit(2)

    from django.core.exceptions import ImproperlyConfigured

    try:
        import django

        django.setup()
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"quietshelf: configuration error: {exc}\n")
        sys.exit(2)

    from django.core.management import get_commands
    from django.core.management.base import CommandParser

    CommandParser.error = _one_line_error
    name = command.replace("-", "_")
    if command not in COMMANDS and name not in get_commands():
        sys.stderr.write(f"quietshelf: error: unknown command {command!r} (see --help)\n")
        sys.exit(2)

    from django.core.management import load_command_class

    app = get_commands()[name]
    cmd = load_command_class(app, name)
    sys.exit(_run(cmd, command, args[1:]))


def _run(cmd, command: str, argv: list[str]) -> int:
    """Django's run_from_argv, but every error is one line naming the command."""
    from django.core.management.base import CommandError, handle_default_options
    from django.db import connections

    cmd._called_from_command_line = True
    parser = cmd.create_parser("quietshelf", command)
    options = parser.parse_args(argv)
    cmd_options = vars(options)
    positional = cmd_options.pop("args", ())
    handle_default_options(options)
    try:
        cmd.execute(*positional, **cmd_options)
    except CommandError as exc:
        sys.stderr.write(f"quietshelf {command}: error: {exc}\n")
        return exc.returncode
    except KeyboardInterrupt:
        return 130
    finally:
        connections.close_all()
    return 0
