"""quietshelf serve: the WSGI application under waitress.

In production run it behind a TLS-terminating proxy (nginx, Caddy) that sets
X-Forwarded-Proto; run `quietshelf worker` beside it for scheduled jobs.
"""

from __future__ import annotations

from quietshelf.core.commands import QuietshelfCommand, UsageError


class Command(QuietshelfCommand):
    help = "Serve the staff and public interface over HTTP (behind a TLS proxy in production)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
        parser.add_argument("--port", type=int, default=8000, help="port to listen on")
        parser.add_argument("--threads", type=int, default=8, help="worker threads")

    def handle(self, *args, host: str, port: int, threads: int, **options):
        if not (0 < port < 65536):
            raise UsageError(f"--port must be between 1 and 65535, not {port}")
        if threads < 1:
            raise UsageError("--threads must be at least 1")
        from django.db import DatabaseError

        from quietshelf.privacy.keys import MasterKeyError, startup_check

        try:
            # A missing, exposed or wrong master key stops the server before the
            # first request, not at the first encrypted value.
            startup_check()
        except MasterKeyError as exc:
            raise UsageError(str(exc)) from None
        except DatabaseError:
            raise UsageError(
                "the database is not ready (unreachable or not migrated): run quietshelf migrate"
            ) from None
        serve(host=host, port=port, threads=threads, stdout=self.stdout)


def serve(*, host: str, port: int, threads: int = 8, stdout=None) -> None:
    import waitress

    from quietshelf.config.wsgi import application

    try:
        # Bind first, then say so: the message is true only once we listen.
        server = waitress.create_server(
            application, host=host, port=port, threads=threads, ident="quietshelf"
        )
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UsageError(f"cannot listen on {host}:{port}: {reason}") from None
    if stdout is not None:
        stdout.write(f"Serving Quietshelf on http://{host}:{port}/ (Ctrl-C to stop)\n")
        stdout.flush()
    try:
        server.run()
    except KeyboardInterrupt:
        if stdout is not None:
            stdout.write("stopped\n")
    finally:
        server.close()
