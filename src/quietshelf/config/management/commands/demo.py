"""quietshelf demo: one command from a fresh checkout to a running library.

Creates (or reuses) the instance folder, migrates the embedded SQLite
database, loads the demo catalogue once, creates a per-instance staff login
with a generated password (printed once, never a default), and serves, with
`quietshelf worker` running beside the server as a child process (fines, hold
expiry, notices; its log goes to <instance>/logs/worker.log, rotated daily and kept
14 days) until Ctrl-C.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import call_command

from quietshelf.core import logfiles
from quietshelf.core.commands import QuietshelfCommand, UsageError

DEMO_USER_FILE = "demo-staff-created"


def _log_days() -> int:
    """The request-log rule's period (PRV-RET-1: 14 days): rotated files kept at most."""
    spec = settings.QUIETSHELF_RETENTION.get("request_log", {})
    return spec.get("days") or logfiles.DEFAULT_DAYS


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _die_with_parent() -> None:
    """Linux: the worker gets SIGTERM if the demo dies without stopping it (kill -9)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Command(QuietshelfCommand):
    help = "Create or reuse a demo instance, load the demo catalogue, print a login and serve."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-serve", action="store_true", help="prepare the instance and stop")
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help="do not start quietshelf worker (scheduled jobs) beside the server",
        )
        parser.add_argument(
            "--marc", type=Path, default=None, help="a MARC file to load instead of the default"
        )
        parser.add_argument(
            "--sip2-port", type=int, default=6001, help="port of the SIP2 server (0: none)"
        )

    def handle(
        self,
        *args,
        host: str,
        port: int,
        no_serve: bool,
        no_worker: bool = False,
        marc: Path | None,
        sip2_port: int = 6001,
        **options,
    ):
        if marc is not None and not marc.is_file():
            raise UsageError(f"no such MARC file: {marc}")
        instance = settings.INSTANCE_DIR
        self.stdout.write(f"Instance folder: {instance}")
        call_command("migrate", interactive=False, verbosity=0)
        self._load_catalogue(marc)
        login = self._demo_login(instance)
        self._demo_patrons()
        url = f"http://{host}:{port}/"
        self.stdout.write("")
        self.stdout.write(f"  Public catalogue: {url}")
        self.stdout.write(f"  Staff interface:  {url}staff/")
        self.stdout.write(login)
        self.stdout.write(self._mail_note())
        if sip2_port:
            self.stdout.write(self._demo_terminal(instance, host=host, port=sip2_port))
        self.stdout.write("")
        if no_serve:
            return
        from quietshelf.config.management.commands.serve import serve

        worker = None if no_worker else self._start_worker(instance, site_url=url.rstrip("/"))
        sip2 = self._start_sip2(instance, host=host, port=sip2_port) if sip2_port else None
        # SIGTERM (systemd, docker stop, kill) and SIGHUP (terminal closed) end the
        # demo like Ctrl-C does, so the worker is stopped too and not left behind.
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, _interrupt)
        try:
            serve(host=host, port=port, stdout=self.stdout)
        except KeyboardInterrupt:
            pass
        finally:
            if worker is not None:
                self._stop_worker(worker)
            if sip2 is not None:
                self._stop_sip2(sip2)

    def _start_worker(self, instance: Path, *, site_url: str) -> subprocess.Popen:
        """`quietshelf worker` as a child with this environment, logging to a file."""
        logs = instance / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / "worker.log"
        env = dict(os.environ, QUIETSHELF_HOME=str(instance))
        # Links in the demo's notices point at this server, whatever --port says.
        env.setdefault("QUIETSHELF_SITE_URL", site_url)
        worker = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "quietshelf", "worker"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,  # runs before the child starts any thread
        )
        # rotated at midnight, kept as long as the request-log rule says, 0600 (PRV-LOG-1)
        logfiles.pump(worker.stdout, log_path, days=_log_days())
        self.stdout.write(
            f"Started the job worker beside the server (pid {worker.pid}; log {log_path}); "
            "Ctrl-C stops both."
        )
        return worker

    def _stop_worker(self, worker: subprocess.Popen) -> None:
        if worker.poll() is None:
            worker.terminate()  # SIGTERM: running jobs finish first
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                # Killed mid-run: the next worker takes the run over (docs/jobs.md).
                worker.kill()
                worker.wait()
        self.stdout.write("Job worker stopped.")

    def _start_sip2(self, instance: Path, *, host: str, port: int) -> subprocess.Popen:
        """`quietshelf sip2` beside the server (docs/sip2.md), logging to a file."""
        logs = instance / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / "sip2.log"
        env = dict(os.environ, QUIETSHELF_HOME=str(instance))
        child = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "quietshelf", "sip2", "--host", host, "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        logfiles.pump(child.stdout, log_path, days=_log_days())
        self.stdout.write(
            f"Started the SIP2 server beside it on {host}:{port} (pid {child.pid}; log {log_path})."
        )
        return child

    def _stop_sip2(self, child: subprocess.Popen) -> None:
        if child.poll() is None:
            child.terminate()  # SIGTERM: messages being handled commit first
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self.stdout.write("SIP2 server stopped.")

    def _demo_terminal(self, instance: Path, *, host: str, port: int) -> str:
        """A self-check terminal account for trying SIP2, its password shown once."""
        from quietshelf.catalog.models import Branch
        from quietshelf.sip2.models import Terminal
        from quietshelf.sip2.services import terminal_create

        if Terminal.objects.filter(name="demo-kiosk").exists():
            return (
                f"  SIP2 ({host}:{port}): terminal demo-kiosk (password printed when this "
                "instance was created; new one: quietshelf sip2-terminal password demo-kiosk)"
            )
        branch = Branch.objects.order_by("pk").first()
        if branch is None:
            return "  SIP2: no branch yet, so no demo terminal"
        _terminal, password = terminal_create(actor=None, name="demo-kiosk", branch=branch)
        return (
            f"  SIP2 ({host}:{port}, plain TCP for the demo): terminal demo-kiosk, "
            f"password {password} (shown only once)\n"
            "  Patrons set their self-check PIN in My account."
        )

    def _load_catalogue(self, marc: Path | None) -> None:
        from quietshelf.catalog.models import BibRecord
        from quietshelf.catalog.sample import write_sample
        from quietshelf.catalog.services import import_marc

        if BibRecord.objects.exists():
            count = BibRecord.objects.count()
            self.stdout.write(f"Catalogue already loaded ({count} records): reusing it.")
            return
        shared = settings.QUIETSHELF_SHARED_DATA / "marc" / "demo_catalogue_utf8.mrc"
        if marc is None and shared.is_file():
            marc = shared
        if marc is None:
            marc = write_sample(settings.INSTANCE_DIR / "sample-catalogue.mrc")
            self.stdout.write("Loading the bundled sample catalogue (../shared/data not found).")
        else:
            self.stdout.write(f"Loading the demo catalogue from {marc} …")
        from quietshelf.catalog.demo import DEMO_HOLDINGS_MAP, create_demo_branches

        branches = create_demo_branches()  # named branches; junk item codes never become one
        self.stdout.write("Branches: " + ", ".join(f"{b.name} ({b.code})" for b in branches))
        with self.progress(unit="rec", desc="import") as bar:
            summary = import_marc(
                actor=None, sources=[marc], progress=bar.update, holdings_map=DEMO_HOLDINGS_MAP
            )
        self.stdout.write(summary.line())
        unknown = sum(1 for w in summary.warnings if "unknown branch code" in w.reason)
        if unknown:
            self.stdout.write(
                f"{unknown} records had item fields with unknown branch codes: "
                "their items are at the main library."
            )

    def _demo_patrons(self) -> None:
        from quietshelf.patrons.demo import create_demo_patrons
        from quietshelf.patrons.models import Patron

        if Patron.objects.exists():
            self.stdout.write(f"Patrons already there ({Patron.objects.count()}): reusing them.")
        else:
            counts = create_demo_patrons(200)
            self.stdout.write(f"Created demo patrons: {counts}")
            from quietshelf.circulation.demo import create_demo_circulation

            self.stdout.write(f"Created demo circulation: {create_demo_circulation()}")
            from quietshelf.config.retention_demo import create_aged_demo_data

            self.stdout.write(f"Created data of every age (retention): {create_aged_demo_data()}")
        self._patrons_to_try()

    def _patrons_to_try(self) -> None:
        """A newcomer needs someone to scan: a few fictional patrons' card numbers."""
        from quietshelf.patrons.demo import demo_patrons_to_try

        self.stdout.write("  Patrons to try at the desk (fictional; card number, name):")
        for card, name, note in demo_patrons_to_try():
            self.stdout.write(f"    {card}  {name}  ({note})")

    def _mail_note(self) -> str:
        """Where the demo's mail goes (password links included): files, not the console."""
        from quietshelf.core.outgoing import FolderEmailBackend, outgoing_dir

        backend = f"{FolderEmailBackend.__module__}.{FolderEmailBackend.__name__}"
        if settings.EMAIL_BACKEND != backend:
            return "  Mail goes to the mail server set by QUIETSHELF_SMTP_HOST."
        return (
            f"  Mail and text messages (no mail server set): one file each in {outgoing_dir()}\n"
            "  (readable only by you; deleted after a day)"
        )

    def _demo_login(self, instance: Path) -> str:
        from quietshelf.accounts.demo import MFA_NOTE, create_demo_staff

        marker = instance / DEMO_USER_FILE
        if marker.exists():
            from quietshelf.accounts.builtin import BUILTIN_ROLES

            names = [f"demo-{code}" for code in BUILTIN_ROLES]
            return (
                "  Staff logins: " + ", ".join(names) + "\n"
                "  (passwords were printed when this instance was created; for a new one:\n"
                "   .venv/bin/quietshelf create-staff --reset --username NAME)"
            )
        accounts = create_demo_staff()
        # Only that the demo staff exist: usernames are staff personal data.
        marker.write_text("created\n")
        width = max(len(username) for username, _, _ in accounts)
        pw_width = max(len(password) for _, _, password in accounts)
        lines = ["  Staff logins, one per role (generated for this instance, shown only once):"]
        lines += [
            f"    {username:<{width}}  {password:<{pw_width}}  {role}"
            for username, role, password in accounts
        ]
        lines.append("  " + MFA_NOTE)
        return "\n".join(lines)
