"""A small asyncio SIP2 client for the tests: real TCP (or TLS) to the server process."""

from __future__ import annotations

import asyncio
import datetime as dt

from quietshelf.sip2.protocol import codec
from quietshelf.sip2.protocol.fields import RESPONSES

NOW = "20260101    120000"


class SipClient:
    def __init__(self, host: str, port: int, *, charset: str = "utf-8", ssl=None):
        self.host, self.port, self.charset, self.ssl = host, port, charset, ssl
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.seq = 0

    async def __aenter__(self) -> SipClient:
        self.reader, self.writer = await asyncio.open_connection(
            self.host, self.port, ssl=self.ssl, limit=1 << 20
        )
        return self

    async def __aexit__(self, *exc) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass

    async def send_raw(self, data: bytes, *, timeout: float = 30) -> bytes:
        """Send bytes, read one reply up to CR (b"" when the server closed)."""
        self.writer.write(data)
        await self.writer.drain()
        return await self.read_reply(timeout=timeout)

    async def read_reply(self, *, timeout: float = 30) -> bytes:
        try:
            return await asyncio.wait_for(self.reader.readuntil(b"\r"), timeout)
        except asyncio.IncompleteReadError as exc:
            return exc.partial

    async def closed(self, *, timeout: float = 10) -> bool:
        """True when the server closes the connection (end of stream) in time."""
        try:
            data = await asyncio.wait_for(self.reader.read(1), timeout)
        except (ConnectionError, OSError):
            return True
        return data == b""

    def build(
        self,
        command: str,
        fixed: list[str] | tuple = (),
        fields: list[tuple[str, str]] | tuple = (),
        *,
        checksum: bool = True,
        terminator: bytes = b"\r",
    ) -> bytes:
        seq = str(self.seq % 10)
        self.seq += 1
        return codec.format_message(
            command,
            list(fixed),
            list(fields),
            sequence=seq if checksum else None,
            error_detection=checksum,
            charset=self.charset,
            terminator=terminator,
        )

    async def call(self, command: str, fixed=(), fields=(), *, checksum: bool = True, **kw):
        """Send one request; return the parsed response (its sequence checked)."""
        raw = self.build(command, fixed, fields, checksum=checksum, **kw)
        reply = await self.send_raw(raw)
        assert reply, f"no reply to {command}: the server closed the connection"
        msg = codec.parse(reply, charset=self.charset, specs=RESPONSES)
        if checksum:
            assert msg.checksummed, reply
            assert msg.sequence == str((self.seq - 1) % 10), reply
        else:
            assert not msg.checksummed, reply
        return msg

    # --- the messages ---------------------------------------------------------------

    async def login(self, name: str, password: str, **kw):
        return await self.call("93", ["0", "0"], [("CN", name), ("CO", password)], **kw)

    async def sc_status(self):
        return await self.call("99", ["0", "080", "2.00"])

    async def patron_status(self, card: str, pin: str | None = None, language: str = "001"):
        fields = [("AO", "QS"), ("AA", card), ("AC", "")]
        if pin is not None:
            fields.append(("AD", pin))
        return await self.call("23", [language, NOW], fields)

    async def patron_information(
        self, card: str, pin: str | None = None, summary: str = " " * 10, start=None, end=None
    ):
        fields = [("AO", "QS"), ("AA", card)]
        if pin is not None:
            fields.append(("AD", pin))
        if start is not None:
            fields += [("BP", str(start)), ("BQ", str(end))]
        return await self.call("63", ["001", NOW, summary.ljust(10)], fields)

    async def checkout(self, card: str, item: str, pin: str | None = None, renew_policy="N"):
        fields = [("AO", "QS"), ("AA", card), ("AB", item), ("AC", "")]
        if pin is not None:
            fields.append(("AD", pin))
        return await self.call("11", [renew_policy, "N", NOW, " " * 18], fields)

    async def checkin(self, item: str, **kw):
        return await self.call(
            "09", ["N", NOW, NOW], [("AP", "sorter"), ("AO", "QS"), ("AB", item), ("AC", "")], **kw
        )

    async def renew(self, card: str, item: str, pin: str | None = None):
        fields = [("AO", "QS"), ("AA", card), ("AB", item)]
        if pin is not None:
            fields.append(("AD", pin))
        return await self.call("29", ["N", "N", NOW, " " * 18], fields)

    async def renew_all(self, card: str, pin: str | None = None):
        fields = [("AO", "QS"), ("AA", card)]
        if pin is not None:
            fields.append(("AD", pin))
        return await self.call("65", [NOW], fields)

    async def item_information(self, item: str):
        return await self.call("17", [NOW], [("AO", "QS"), ("AB", item)])

    async def fee_paid(self, card, amount, *, pin=None, currency="NOK", fee_id=None):
        fields = [("BV", amount), ("AO", "QS"), ("AA", card)]
        if pin is not None:
            fields.append(("AD", pin))
        if fee_id is not None:
            fields.append(("CG", fee_id))
        return await self.call("37", [NOW, "01", "02", currency], fields)

    async def hold(self, card, item, *, mode="+", pin=None, pickup=None, hold_type=None):
        fields = [("AO", "QS"), ("AA", card), ("AB", item)]
        if pin is not None:
            fields.append(("AD", pin))
        if pickup:
            fields.append(("BS", pickup))
        if hold_type:
            fields.append(("BY", hold_type))
        return await self.call("15", [mode, NOW], fields)

    async def end_session(self, card: str):
        return await self.call("35", [NOW], [("AO", "QS"), ("AA", card)])

    async def block_patron(self, card: str, retained: str = "Y"):
        return await self.call(
            "01", [retained, NOW], [("AO", "QS"), ("AL", "card kept"), ("AA", card)]
        )


def run(coro):
    """asyncio.run in a thread of its own: Playwright's sync API (the browser tests) keeps
    an event loop running in the main thread for the rest of the session."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def local_now() -> dt.datetime:
    return dt.datetime.now().astimezone()
