"""quietshelf sip2: the SIP2 server for self-check machines and sorters (docs/sip2.md).

Listens on QUIETSHELF_SIP2_HOST:QUIETSHELF_SIP2_PORT (or --host/--port), with
TLS when QUIETSHELF_SIP2_TLS_CERT/KEY are set (PRV-ENC-2). Plain TCP is
refused in production unless QUIETSHELF_SIP2_PLAIN_OK says the terminals sit
behind a VPN. SIGTERM and Ctrl-C stop accepting, let messages being handled
commit, then stop.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
import sys

from quietshelf.core.commands import QuietshelfCommand, UsageError


def _log_to_console() -> None:
    log = logging.getLogger("quietshelf.sip2")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(logging.INFO)


class Command(QuietshelfCommand):
    help = (
        "Serve SIP2 to self-check machines and sorters (TLS with QUIETSHELF_SIP2_TLS_CERT/KEY; "
        "terminal accounts: quietshelf sip2-terminal)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default=None, help="address to listen on")
        parser.add_argument("--port", type=int, default=None, help="port to listen on")
        parser.add_argument("--charset", default=None, help="utf-8 (default), cp850, latin-1")
        parser.add_argument("--threads", type=int, default=None, help="database threads")

    def handle(self, *args, host=None, port=None, charset=None, threads=None, **options):
        import codecs

        from django.conf import settings
        from django.db import DatabaseError

        from quietshelf.privacy.keys import MasterKeyError, startup_check
        from quietshelf.sip2.server import Config

        config = Config.from_settings(host=host, port=port, charset=charset, threads=threads)
        if not (0 <= config.port < 65536):
            # 0: any free port (the listening line says which)
            raise UsageError(f"--port must be between 0 and 65535, not {config.port}")
        if not (1 <= config.threads <= 64):
            raise UsageError(f"--threads must be between 1 and 64, not {config.threads}")
        try:
            codecs.lookup(config.charset)
        except LookupError:
            raise UsageError(f"unknown character set {config.charset!r}") from None
        if not config.tls_cert and not settings.QUIETSHELF_SIP2_PLAIN_OK:
            raise UsageError(
                "SIP2 needs TLS (QUIETSHELF_SIP2_TLS_CERT and QUIETSHELF_SIP2_TLS_KEY), or "
                "QUIETSHELF_SIP2_PLAIN_OK=true when the terminals reach it only through a VPN"
            )
        try:
            config.ssl_context()
        except (OSError, ssl.SSLError) as exc:
            raise UsageError(f"cannot load the TLS certificate or key: {exc}") from None
        try:
            startup_check()
        except MasterKeyError as exc:
            raise UsageError(str(exc)) from None
        except DatabaseError:
            raise UsageError(
                "the database is not ready (unreachable or not migrated): run quietshelf migrate"
            ) from None
        _log_to_console()
        try:
            asyncio.run(self._serve(config))
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise UsageError(f"cannot listen on {config.host}:{config.port}: {reason}") from None
        except KeyboardInterrupt:
            pass
        self.stdout.write("SIP2 server stopped.\n")

    async def _serve(self, config) -> None:
        from quietshelf.sip2.server import run

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(signum, stop.set)

        def ready(server) -> None:
            mode = "TLS" if config.tls_cert else "plain TCP"
            self.stdout.write(
                f"SIP2 server listening on {config.host}:{server.port} ({mode}, "
                f"{config.charset}; Ctrl-C to stop)\n"
            )
            self.stdout.flush()

        await run(config, ready=ready, stop_event=stop)
