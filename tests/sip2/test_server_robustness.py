"""INT-1 robustness: bad input, limits, TLS, character sets, kills; all over real sockets."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import ssl
import time

import pytest

from quietshelf.sip2.protocol import codec
from quietshelf.sip2.protocol.fields import RESPONSES
from tests.sip2.client import SipClient, run
from tests.sip2.conftest import PIN, TERMINAL_PASSWORD, ServerProcess


def client(port, **kw) -> SipClient:
    return SipClient("127.0.0.1", port, **kw)


def test_wrong_terminal_password_then_lockout_int_1(world, settings):
    async def go():
        replies = []
        for _ in range(settings.QUIETSHELF_SIP2_LOGIN_FAILURES):
            async with client(world.server.port) as c:
                replies.append(await c.login("kiosk1", "not-the-password"))
        async with client(world.server.port) as c:
            right = await c.login("kiosk1", TERMINAL_PASSWORD)
            closed = await c.closed()
        return replies, right, closed

    replies, right, closed = run(go())
    assert all(r.command == "94" and r.fixed["ok"] == "0" for r in replies)
    assert right.fixed["ok"] == "0"  # locked from this network, even with the right one
    assert closed


def test_unknown_terminal_and_disabled_terminal_int_1(world):
    with world.db():
        world.nopin.active = False
        world.nopin.save()

    async def go():
        async with client(world.server.port) as c:
            unknown = await c.login("nobody", TERMINAL_PASSWORD)
        async with client(world.server.port) as c:
            disabled = await c.login("staffed1", TERMINAL_PASSWORD)
        return unknown, disabled

    unknown, disabled = run(go())
    assert unknown.fixed["ok"] == "0" and disabled.fixed["ok"] == "0"


def test_messages_before_login_close_the_connection_sec_acc_1(world):
    async def go():
        async with client(world.server.port) as c:
            reply = await c.send_raw(c.build("23", ["001", "20260101    120000"], [("AA", "x")]))
            return reply, await c.closed()

    reply, closed = run(go())
    assert reply == b""
    assert closed


def test_crlf_and_no_error_detection_int_1(world):
    async def go():
        async with client(world.server.port) as c:
            login = await c.login("sorter1", TERMINAL_PASSWORD, checksum=False, terminator=b"\r\n")
            raw = await c.send_raw(c.build("99", ["0", "080", "2.00"], checksum=False) + b"\n")
            status = await c.call("99", ["0", "080", "2.00"], checksum=False, terminator=b"\r\n")
            return login, raw, status

    login, raw, status = run(go())
    assert login.fixed["ok"] == "1"
    assert b"AZ" not in raw and raw.startswith(b"98")
    assert status.command == "98"


def test_bad_checksum_gets_96_and_the_session_goes_on_int_1(world):
    async def go():
        async with client(world.server.port) as c:
            await c.login("sorter1", TERMINAL_PASSWORD)
            good = c.build("17", ["20260101    120000"], [("AO", "x"), ("AB", "1")])
            bad = good[:-5] + (b"0000" if good[-5:-1] != b"0000" else b"0001") + b"\r"
            resend = await c.send_raw(bad)
            after = await c.item_information("1")
            return resend, after

    resend, after = run(go())
    assert resend.startswith(b"96")
    assert codec.parse(resend, specs={"96": RESPONSES["96"]}).checksummed
    assert after.command == "18"


def test_malformed_messages_never_affect_other_sessions_int_1(world):
    """Garbage, truncated fixed fields, NULs and binary: a 96 or a clean close, never a
    traceback; a session beside it keeps working throughout."""
    garbage = [
        b"hello there\r",
        b"11N\r",
        b"23\x00\x01\x02\r",
        bytes(range(256)).replace(b"\r", b"") + b"\r",
    ]

    async def go():
        async with client(world.server.port) as steady:
            await steady.login("sorter1", TERMINAL_PASSWORD)
            outcomes = []
            for raw in garbage:
                async with client(world.server.port) as c:
                    await c.login("sorter1", TERMINAL_PASSWORD)
                    reply = await c.send_raw(raw)
                    outcomes.append(reply)
                    assert (await steady.item_information("x")).command == "18"
            async with client(world.server.port) as c:
                await c.login("sorter1", TERMINAL_PASSWORD)
                for raw in garbage[:3]:
                    await c.send_raw(raw)
                closed = await c.closed()
            return outcomes, closed, await steady.item_information("x")

    outcomes, closed, last = run(go())
    assert all(o.startswith(b"96") or o == b"" for o in outcomes)
    assert closed  # three bad messages in a row
    assert last.command == "18"
    assert "Traceback" not in world.server.output()


def test_over_long_message_closes_only_that_connection_int_1(world):
    async def go():
        async with client(world.server.port) as steady:
            await steady.login("sorter1", TERMINAL_PASSWORD)
            async with client(world.server.port) as c:
                await c.login("sorter1", TERMINAL_PASSWORD)
                c.writer.write(b"17" + b"A" * (codec.MAX_MESSAGE_BYTES + 10))
                await c.writer.drain()
                closed = await c.closed()
            return closed, await steady.item_information("x")

    closed, last = run(go())
    assert closed
    assert last.command == "18"


def test_half_message_then_kill_does_nothing_and_commits_survive_int_1(world):
    """A checkout answered before SIGKILL stays; one cut off mid-message never happens."""
    patron = world.patron()
    done, half = world.item(), world.item()

    async def go():
        async with client(world.server.port) as c:
            await c.login("kiosk1", TERMINAL_PASSWORD)
            out = await c.checkout(patron.card, done.barcode, PIN)
            raw = c.build("11", ["N", "N", "20260101    120000", " " * 18],
                          [("AO", "x"), ("AA", patron.card), ("AB", half.barcode)])  # fmt: skip
            c.writer.write(raw[:-8])  # no checksum, no terminator yet
            await c.writer.drain()
            await asyncio.sleep(0.3)
            world.server.proc.send_signal(signal.SIGKILL)
            world.server.proc.wait(timeout=10)
            return out

    out = run(go())
    assert out.fixed["ok"] == "1"
    with world.db():
        from quietshelf.catalog.models import Item
        from quietshelf.circulation.models import Loan

        assert Loan.objects.filter(item_id=done.pk, returned_at__isnull=True).exists()
        assert not Loan.objects.filter(item_id=half.pk).exists()
        assert Item.objects.get(pk=half.pk).status == "available"
    world.server.start()  # the next test gets a server again


@pytest.fixture
def limited(world, sip2_home):
    """A second server with tight limits: 2 s idle, 2 connections, 5 messages a second."""
    env = dict(
        world.server.env,
        QUIETSHELF_SIP2_IDLE_SECONDS="2",
        QUIETSHELF_SIP2_MAX_CONNECTIONS="2",
        QUIETSHELF_SIP2_RATE_PER_SECOND="5",
    )
    server = ServerProcess(env).start()
    yield server
    server.stop()


def test_idle_timeout_connection_limit_and_rate_limit_int_1(world, limited):
    async def go():
        async with client(limited.port) as idle:
            t0 = time.monotonic()
            idle_closed = await idle.closed(timeout=15)
            idle_after = time.monotonic() - t0
        async with client(limited.port), client(limited.port):  # two open: the limit
            async with client(limited.port) as third:
                third_closed = await third.closed(timeout=5)
        async with client(limited.port) as c:
            await c.login("sorter1", TERMINAL_PASSWORD)
            t0 = time.monotonic()
            for _ in range(25):
                await c.item_information("x")
            burst = time.monotonic() - t0
        return idle_closed, idle_after, third_closed, burst

    idle_closed, idle_after, third_closed, burst = run(go())
    assert idle_closed and 1.5 < idle_after < 10
    assert third_closed
    # 25 messages at 5 a second with a burst of 10: at least ~3 s
    assert burst >= 2.5


def _self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "sip2.crt", tmp_path / "sip2.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls_prv_enc_2(world, tmp_path):
    cert, key = _self_signed(tmp_path)
    env = dict(
        world.server.env, QUIETSHELF_SIP2_TLS_CERT=str(cert), QUIETSHELF_SIP2_TLS_KEY=str(key)
    )
    server = ServerProcess(env).start()
    try:
        assert "(TLS," in server.output()
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False

        async def go():
            async with SipClient("127.0.0.1", server.port, ssl=context) as c:
                login = await c.login("sorter1", TERMINAL_PASSWORD)
                info = await c.item_information("x")
            async with client(server.port) as plain:  # plain TCP to a TLS port gets nothing
                plain.writer.write(c.build("93", ["0", "0"], [("CN", "sorter1")]))
                await plain.writer.drain()
                nothing = await plain.read_reply(timeout=5)
            return login, info, nothing

        login, info, nothing = run(go())
        assert login.fixed["ok"] == "1"
        assert info.command == "18"
        assert not nothing.startswith(b"94")
    finally:
        server.stop()


def test_cp850_charset_for_old_kiosks_int_1(world):
    patron = world.patron(given_name="Bjørg", family_name="Ærø")
    env = dict(world.server.env, QUIETSHELF_SIP2_CHARSET="cp850")
    server = ServerProcess(env).start()
    try:

        async def go():
            async with SipClient("127.0.0.1", server.port, charset="cp850") as c:
                await c.login("kiosk-full", TERMINAL_PASSWORD)
                raw = await c.send_raw(
                    c.build("23", ["001", "20260101    120000"], [("AA", patron.card), ("AD", PIN)])
                )
                return raw

        raw = run(go())
        assert "AEBjørg Ærø|".encode("cp850") in raw
        assert codec.parse(raw, charset="cp850", specs=RESPONSES).checksummed
    finally:
        server.stop()
