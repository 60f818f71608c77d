"""quietshelf serve: the WSGI application under waitress.

In production run it behind a TLS-terminating proxy (nginx, Caddy) that sets
X-Forwarded-Proto; run `quietshelf worker` beside it for scheduled jobs.

`--processes N` (POSIX) pre-forks N server processes that share one listening
socket, each running waitress with `--threads` threads: Python runs one
thread at a time per process, so a busy desk and self-check fleet needs more
than one process to use more than one core. The parent only watches them and
starts a new one when one dies.
"""

from __future__ import annotations

import os
import signal
import socket
import time

from quietshelf.core.commands import QuietshelfCommand, UsageError

# A child that dies this soon after it started, this many times in a row,
# means something is wrong with every child (not one bad request): give up.
QUICK_DEATH_SECONDS = 2.0
QUICK_DEATHS_ALLOWED = 5


class Command(QuietshelfCommand):
    help = (
        "Serve the staff and public interface over HTTP (behind a TLS proxy in production); "
        "run quietshelf worker beside it for scheduled jobs (docs/jobs.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
        parser.add_argument("--port", type=int, default=8000, help="port to listen on")
        parser.add_argument("--threads", type=int, default=8, help="worker threads per process")
        parser.add_argument(
            "--processes",
            type=int,
            default=1,
            help="server processes sharing the port (POSIX; default 1: no forking)",
        )

    def handle(self, *args, host: str, port: int, threads: int, processes: int = 1, **options):
        if not (0 < port < 65536):
            raise UsageError(f"--port must be between 1 and 65535, not {port}")
        _check_host(host, port)
        if threads < 1:
            raise UsageError("--threads must be at least 1")
        if not (1 <= processes <= 64):
            raise UsageError(f"--processes must be between 1 and 64, not {processes}")
        if processes > 1 and not hasattr(os, "fork"):
            raise UsageError("--processes above 1 needs a POSIX system (fork)")
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
        if processes > 1:
            serve_forked(
                host=host, port=port, threads=threads, processes=processes, stdout=self.stdout
            )
        else:
            serve(host=host, port=port, threads=threads, stdout=self.stdout)


def _check_host(host: str, port: int) -> None:
    """Refuse an address that cannot be one before any name look-up.

    "999.1.1.1" is not an IPv4 address, so the resolver would take it for a
    host name and wait for DNS to answer (tens of seconds on a closed network)
    before the operator hears that it is impossible.
    """
    import ipaddress
    import re

    if re.fullmatch(r"[0-9.]+", host) or ":" in host:
        try:
            ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            raise UsageError(f"cannot listen on {host}:{port}: not an IP address") from None


def _application():
    """The WSGI application, believing X-Forwarded-Proto only from a trusted proxy.

    Waitress would drop every X-Forwarded-* header (it trusts no proxy unless
    given one address); then behind the TLS proxy production needs, every
    request looked like plain HTTP and was redirected to HTTPS again, and
    X-Forwarded-For never reached the rate limits. So waitress passes them on
    and this wrapper keeps X-Forwarded-Proto only from QUIETSHELF_TRUSTED_PROXIES
    (loopback when none are set); core.netutil.client_ip judges X-Forwarded-For.
    """
    import ipaddress

    from django.conf import settings

    from quietshelf.config.wsgi import application

    networks = [
        ipaddress.ip_network(cidr, strict=False)
        for cidr in (getattr(settings, "QUIETSHELF_TRUSTED_PROXIES", None) or ())
    ] or [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]

    def trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in networks)

    def guarded(environ, start_response):
        if "HTTP_X_FORWARDED_PROTO" in environ and not trusted(environ.get("REMOTE_ADDR", "")):
            del environ["HTTP_X_FORWARDED_PROTO"]
        return application(environ, start_response)

    return guarded


WAITRESS_OPTIONS = {"ident": "quietshelf", "clear_untrusted_proxy_headers": False}


def serve(*, host: str, port: int, threads: int = 8, stdout=None) -> None:
    import waitress

    application = _application()
    try:
        # Bind first, then say so: the message is true only once we listen.
        server = waitress.create_server(
            application, host=host, port=port, threads=threads, **WAITRESS_OPTIONS
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


def _listen(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _name, address = infos[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(1024)
        except OSError:
            sock.close()
            raise
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UsageError(f"cannot listen on {host}:{port}: {reason}") from None
    return sock


def _child(sock: socket.socket, threads: int) -> None:
    """One server process: waitress on the shared socket until told to stop."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    code = 0
    try:
        import waitress

        server = waitress.create_server(
            _application(), sockets=[sock], threads=threads, **WAITRESS_OPTIONS
        )
        server.run()
    except BaseException:  # noqa: BLE001 - a child reports and exits; the parent restarts it
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        os._exit(code)


def serve_forked(*, host: str, port: int, threads: int, processes: int, stdout=None) -> None:
    from django.db import connections

    from quietshelf.config import wsgi  # noqa: F401 - load the application once, before forking

    sock = _listen(host, port)
    # No database connection may cross a fork: each child opens its own.
    connections.close_all()
    children: dict[int, float] = {}
    stopping = False

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:
            _child(sock, threads)
        children[pid] = time.monotonic()

    def stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    quick_deaths = 0
    try:
        for _ in range(processes):
            spawn()
        if stdout is not None:
            stdout.write(
                f"Serving Quietshelf on http://{host}:{port}/ with {processes} processes "
                f"of {threads} threads (Ctrl-C to stop)\n"
            )
            stdout.flush()
        while children:
            try:
                pid, _status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            started = children.pop(pid, None)
            if started is None or stopping:
                continue
            quick = time.monotonic() - started < QUICK_DEATH_SECONDS
            quick_deaths = quick_deaths + 1 if quick else 0
            if quick_deaths >= QUICK_DEATHS_ALLOWED:
                stop(signal.SIGTERM, None)
                for pid in list(children):
                    os.waitpid(pid, 0)
                raise UsageError("server processes keep dying at start; see the errors above")
            spawn()
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        sock.close()
    if stdout is not None:
        stdout.write("stopped\n")
