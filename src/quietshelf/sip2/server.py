"""The SIP2 server: asyncio TCP (optionally TLS), one session per connection.

The event loop only reads, frames and writes. Each message is handled in a
thread pool (Django's ORM is synchronous; each pool thread keeps its own
database connection), one message at a time per connection, and the reply
goes out only after the service's transaction has committed. A message cut
off by a disconnect or a kill is never handled: nothing happens for it.

Robustness (INT-1, docs/sip2.md):
- a message longer than 64 KiB, or bytes without a terminator past that,
  close the connection;
- a checksum that does not match gets "96" (please resend); other malformed
  messages get "96" too, and three bad messages in a row close the
  connection;
- at most QUIETSHELF_SIP2_MAX_CONNECTIONS connections (more are closed at
  once); a connection silent for QUIETSHELF_SIP2_IDLE_SECONDS is closed;
- each terminal account may send QUIETSHELF_SIP2_RATE_PER_SECOND messages a
  second (bursts of twice that): faster ones wait, so one busy or broken
  terminal cannot starve the others;
- an error in one session never reaches another: it is logged by type and
  the terminal gets its message's "no" answer.

Logs hold terminal ids, command codes and error types, never a message's
content (card numbers, PINs).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.db import connections

from quietshelf.sip2 import handlers
from quietshelf.sip2.protocol import codec

log = logging.getLogger("quietshelf.sip2")

MAX_BAD_IN_A_ROW = 3


@dataclass
class Config:
    host: str = "127.0.0.1"
    port: int = 6001
    charset: str = "utf-8"
    max_connections: int = 200
    idle_seconds: float = 600.0
    rate_per_second: float = 20.0
    threads: int = 8
    tls_cert: str = ""
    tls_key: str = ""

    @classmethod
    def from_settings(cls, **overrides) -> Config:
        from django.conf import settings

        values = {
            "host": settings.QUIETSHELF_SIP2_HOST,
            "port": settings.QUIETSHELF_SIP2_PORT,
            "charset": settings.QUIETSHELF_SIP2_CHARSET,
            "max_connections": settings.QUIETSHELF_SIP2_MAX_CONNECTIONS,
            "idle_seconds": settings.QUIETSHELF_SIP2_IDLE_SECONDS,
            "rate_per_second": settings.QUIETSHELF_SIP2_RATE_PER_SECOND,
            "threads": settings.QUIETSHELF_SIP2_THREADS,
            "tls_cert": settings.QUIETSHELF_SIP2_TLS_CERT,
            "tls_key": settings.QUIETSHELF_SIP2_TLS_KEY,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.tls_cert:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.tls_cert, self.tls_key or None)
        return context


def _keep_connections_healthy() -> None:
    """Each pool thread keeps its database connections open between messages (a
    new one per message would cost more than most messages); one that failed and
    is no longer usable is closed here, and the next query opens a fresh one."""
    for conn in connections.all(initialized_only=True):
        if conn.connection is None:
            continue
        if conn.get_autocommit() != conn.settings_dict["AUTOCOMMIT"]:
            conn.close()
        elif conn.errors_occurred:
            if conn.is_usable():
                conn.errors_occurred = False
            else:
                conn.close()


class TokenBucket:
    """Messages a second per terminal account, with bursts of twice that."""

    def __init__(self, rate: float):
        self.rate = max(rate, 0.001)
        self.capacity = 2 * self.rate
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def wait_time(self) -> float:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        wait = (1 - self.tokens) / self.rate
        self.tokens -= 1
        return wait


class Sip2Server:
    def __init__(self, config: Config):
        self.config = config
        self.executor = ThreadPoolExecutor(
            max_workers=max(1, config.threads), thread_name_prefix="sip2"
        )
        self.connections = 0
        self.buckets: dict[int, TokenBucket] = {}
        self.server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    # --- the blocking part, in the pool -------------------------------------------------

    def _handle_blocking(self, session: handlers.Session, msg: codec.Message) -> handlers.Reply:
        _keep_connections_healthy()
        try:
            return handlers.dispatch(session, msg)
        except Exception as exc:  # noqa: BLE001 - one session's error stays in that session
            log.error(
                "sip2 %s failed for terminal %s: %s",
                msg.command,
                session.terminal.pk if session.terminal else "-",
                type(exc).__name__,
            )
            try:
                connections["default"].close()
            except Exception:  # noqa: BLE001, S110 - the next message opens a new one
                pass
            if session.terminal is not None and msg.command in handlers.HANDLERS:
                try:
                    return handlers.refused(session, msg)
                except Exception as again:  # noqa: BLE001
                    log.error("sip2 refusal failed too: %s", type(again).__name__)
            return handlers.Reply("", [], close=True)

    def _close_thread_connections(self) -> None:
        connections.close_all()

    # --- the event loop part ------------------------------------------------------------

    def _encode(self, reply: handlers.Reply, msg: codec.Message | None) -> bytes:
        detect = bool(msg and msg.checksummed)
        return codec.format_message(
            reply.command,
            reply.fixed,
            reply.fields,
            sequence=msg.sequence if msg else None,
            error_detection=detect,
            charset=self.config.charset,
        )

    def _resend_request(self, detect: bool) -> bytes:
        return codec.format_message("96", error_detection=detect, charset=self.config.charset)

    async def _send(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        await asyncio.wait_for(writer.drain(), timeout=30)

    async def handle_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if self.connections >= self.config.max_connections:
            log.warning("sip2 connection refused: %s connections open", self.connections)
            writer.close()
            return
        self.connections += 1
        self._writers.add(writer)
        peer = writer.get_extra_info("peername")
        session = handlers.Session(peer_ip=peer[0] if peer else "")
        loop = asyncio.get_running_loop()
        bad = 0
        try:
            while True:
                try:
                    raw = await asyncio.wait_for(
                        reader.readuntil(b"\r"), timeout=self.config.idle_seconds
                    )
                except (asyncio.LimitOverrunError, ValueError):
                    log.info("sip2 connection closed: message over 64 KiB")
                    break
                except asyncio.IncompleteReadError:
                    break  # end of stream; a partial message is dropped, never handled
                except TimeoutError:
                    log.info("sip2 connection closed after %s s idle", self.config.idle_seconds)
                    break
                if raw.strip(b"\r\n") == b"":
                    continue  # an empty line (a lone CR LF)
                try:
                    msg = codec.parse(raw, charset=self.config.charset)
                except codec.ChecksumError:
                    bad += 1
                    await self._send(writer, self._resend_request(True))
                    if bad >= MAX_BAD_IN_A_ROW:
                        break
                    continue
                except codec.ProtocolError as exc:
                    bad += 1
                    log.info("sip2 bad message (%s)", exc.code)
                    if bad >= MAX_BAD_IN_A_ROW or session.terminal is None:
                        break
                    await self._send(writer, self._resend_request(False))
                    continue
                bad = 0
                if msg.command == "97":
                    if session.last_reply is not None:
                        await self._send(writer, session.last_reply)
                    else:
                        await self._send(writer, self._resend_request(msg.checksummed))
                    continue
                if session.terminal is not None:
                    bucket = self.buckets.setdefault(
                        session.terminal.pk, TokenBucket(self.config.rate_per_second)
                    )
                    delay = bucket.wait_time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                reply = await loop.run_in_executor(
                    self.executor, self._handle_blocking, session, msg
                )
                if reply.command:
                    data = self._encode(reply, msg)
                    session.last_reply = data
                    await self._send(writer, data)
                if reply.close:
                    break
        except (ConnectionError, TimeoutError, ssl.SSLError, OSError):
            pass
        finally:
            self.connections -= 1
            self._writers.discard(writer)
            try:
                writer.close()
                await asyncio.wait_for(writer.wait_closed(), timeout=5)
            except (ConnectionError, TimeoutError, ssl.SSLError, OSError):
                pass

    async def start(self) -> None:
        self.server = await asyncio.start_server(
            self.handle_connection,
            host=self.config.host,
            port=self.config.port,
            ssl=self.config.ssl_context(),
            limit=codec.MAX_MESSAGE_BYTES + 2,
            reuse_address=True,
        )

    @property
    def port(self) -> int:
        return self.server.sockets[0].getsockname()[1] if self.server else self.config.port

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        for writer in list(self._writers):
            writer.close()
        loop = asyncio.get_running_loop()
        # Messages being handled finish (and commit) before the pool goes.
        await loop.run_in_executor(None, lambda: self.executor.shutdown(wait=True))


async def run(config: Config, *, ready=None, stop_event: asyncio.Event | None = None) -> None:
    server = Sip2Server(config)
    await server.start()
    if ready is not None:
        ready(server)
    stop_event = stop_event or asyncio.Event()
    try:
        await stop_event.wait()
    finally:
        await server.stop()
