"""SMTP PIPELINING (RFC 2920) when the server offers it (CIR-5): a refused recipient fails
only its own notice, and every message arrives whole, dot-stuffed and with its Message-ID.

A small threaded SMTP server on loopback that advertises PIPELINING, answers commands in
order however many arrive in one read, and records what arrived in each write.
"""

from __future__ import annotations

import datetime as dt
import email
import socket
import threading

import pytest

from quietshelf.notices import channels, services
from quietshelf.notices.models import Notice
from tests.notices.conftest import TODAY, point_django_at


class PipeliningServer:
    def __init__(self, refuse: str = ""):
        self.refuse = refuse  # RCPT of this address gets 550
        self.refuse_data = ""  # the text of a message to this address gets 550 after the dot
        self.chunks: list = []  # every read, as it arrived
        self.messages: list = []  # (rcpt, bytes)
        self.groups: list = []  # commands that arrived in one read, while not in DATA
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._session_or_drop, args=(conn,), daemon=True).start()

    def _session_or_drop(self, conn):
        try:
            self._session(conn)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client dropped the connection (what a dropped envelope does)

    def _session(self, conn):  # noqa: C901 - a whole SMTP server session
        conn.sendall(b"220 test ESMTP\r\n")
        buf, in_data, data, rcpt = b"", False, b"", None
        with conn:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
                self.chunks.append(chunk)
                if not in_data:
                    self.groups.append(buf.count(b"\r\n"))
                while True:
                    if in_data:
                        end = buf.find(b"\r\n.\r\n")
                        if end < 0:
                            break
                        data, buf, in_data = buf[2 : end + 2], buf[end + 5 :], False
                        if rcpt == self.refuse_data:
                            conn.sendall(b"550 5.7.1 Message rejected\r\n")
                            continue
                        self.messages.append((rcpt, data))
                        conn.sendall(b"250 OK queued\r\n")
                        continue
                    line, sep, rest = buf.partition(b"\r\n")
                    if not sep:
                        break
                    buf = rest
                    verb = line[:4].upper()
                    if verb == b"EHLO":
                        conn.sendall(b"250-test\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
                    elif verb == b"MAIL":
                        rcpt = None
                        conn.sendall(b"250 OK\r\n")
                    elif verb == b"RCPT":
                        address = line.split(b"<", 1)[1].rstrip(b">").decode()
                        if address == self.refuse:
                            conn.sendall(b"550 5.1.1 No such user\r\n")
                        else:
                            rcpt = address
                            conn.sendall(b"250 OK\r\n")
                    elif verb == b"DATA":
                        if rcpt is None:
                            conn.sendall(b"554 5.5.1 No valid recipients\r\n")
                        else:
                            in_data = True
                            buf = b"\r\n" + buf
                            conn.sendall(b"354 go ahead\r\n")
                    elif verb == b"QUIT":
                        conn.sendall(b"221 bye\r\n")
                        return
                    else:
                        conn.sendall(b"250 OK\r\n")

    def close(self):
        self.sock.close()


@pytest.fixture
def pipelining_server(settings):
    server = PipeliningServer()
    point_django_at(settings, server.port)
    try:
        yield server
    finally:
        server.close()


def test_pipelined_delivery_refused_recipient_fails_only_its_notice_cir5(
    pipelining_server, reader, loan
):
    """CIR-5: with PIPELINING a 550 to one RCPT fails that notice; the others are sent."""
    readers = [reader() for _ in range(4)]
    for r in readers:
        loan(r, TODAY + dt.timedelta(days=2))
    refused = readers[1].contacts.get(kind="email").value
    pipelining_server.refuse = refused
    assert services.queue_due_soon_notices(today=TODAY) == 4
    assert services.deliver_queued_notices() == 3
    states = dict(Notice.objects.values_list("patron_id", "state"))
    assert states[readers[1].pk] == "failed"
    assert [s for pk, s in states.items() if pk != readers[1].pk] == ["sent"] * 3
    failed = Notice.objects.get(patron=readers[1])
    assert failed.last_error == "SMTP 550: recipient refused"
    assert refused not in {to for to, _m in pipelining_server.messages}
    assert len(pipelining_server.messages) == 3
    # MAIL, RCPT and DATA arrived in one write (the server read them together)
    assert 3 in pipelining_server.groups
    for to, raw in pipelining_server.messages:
        message = email.message_from_bytes(raw)
        assert message["To"] == to
        assert message["Message-ID"].startswith("<notice-")
        assert message["Content-Type"].startswith("text/plain")


def test_smtp_transaction_dot_stuffs_and_pipelines_cir5(pipelining_server):
    """CIR-5: a line starting with a dot arrives intact (dot-stuffing), over PIPELINING."""
    import smtplib

    body = b"Subject: x\r\n\r\n.hidden\r\n..two\r\nend"
    with smtplib.SMTP("127.0.0.1", pipelining_server.port, timeout=5) as session:
        channels.smtp_transaction(session, "library@fjordvik.example", "a@fjordvik.example", body)
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            pipelining_server.refuse = "b@fjordvik.example"
            channels.smtp_transaction(
                session, "library@fjordvik.example", "b@fjordvik.example", body
            )
        channels.smtp_transaction(session, "library@fjordvik.example", "c@fjordvik.example", body)
    assert [to for to, _m in pipelining_server.messages] == [
        "a@fjordvik.example",
        "c@fjordvik.example",
    ]
    # the server un-stuffs nothing here: the stuffed form is what went over the wire
    assert pipelining_server.messages[0][1] == b"Subject: x\r\n\r\n..hidden\r\n...two\r\nend\r\n"


def test_next_envelope_goes_with_the_text_one_round_trip_a_message_cir5(
    pipelining_server, reader, loan
):
    """CIR-5: with PIPELINING the next message's MAIL, RCPT and DATA travel in the same
    write as this message's text and final dot; every message still arrives whole, to
    its own recipient, and each is recorded as sent."""
    readers = [reader() for _ in range(4)]
    for r in readers:
        loan(r, TODAY + dt.timedelta(days=2))
    assert services.queue_due_soon_notices(today=TODAY) == 4
    assert services.deliver_queued_notices() == 4
    together = [c for c in pipelining_server.chunks if b"\r\n.\r\nMAIL FROM:<" in c]
    assert len(together) == 3  # every message but the last carried the next envelope
    addresses = {r.contacts.get(kind="email").value for r in readers}
    assert {to for to, _m in pipelining_server.messages} == addresses
    for to, raw in pipelining_server.messages:
        assert email.message_from_bytes(raw)["To"] == to
    assert set(Notice.objects.values_list("state", flat=True)) == {"sent"}


def test_refused_text_with_the_next_envelope_ahead_fails_only_that_notice_cir5(
    pipelining_server, reader, loan
):
    """CIR-5: a 550 for a message's text while the next envelope is already on its way:
    that notice fails, the session carries on with the next one (no RSET inside its
    DATA), and nothing else is lost or sent twice."""
    readers = [reader() for _ in range(3)]
    for r in readers:
        loan(r, TODAY + dt.timedelta(days=2))
    assert services.queue_due_soon_notices(today=TODAY) == 3
    refused = readers[0].contacts.get(kind="email").value
    pipelining_server.refuse_data = refused
    assert services.deliver_queued_notices() == 2
    failed = Notice.objects.get(patron=readers[0])
    assert (failed.state, failed.last_error) == ("failed", "SMTP 550: DataError")
    sent = [to for to, _m in pipelining_server.messages]
    assert sorted(sent) == sorted(r.contacts.get(kind="email").value for r in readers[1:])


def test_an_envelope_sent_ahead_and_not_followed_delivers_nothing_cir5(pipelining_server):
    """CIR-5: when the message announced ahead does not come (another recipient next, or
    the channel closed), the connection is dropped without a text or QUIT for it: the
    server never gets a message for that address."""
    channel = channels.EmailChannel()
    try:
        channel.send(
            to="a@fjordvik.example",
            subject="s",
            body="one",
            message_id="<1@fjordvik.example>",
            next_to="b@fjordvik.example",
        )
        channel.send(to="c@fjordvik.example", subject="s", body="two", message_id="<2@x>")
        channel.send(
            to="d@fjordvik.example",
            subject="s",
            body="three",
            message_id="<3@x>",
            next_to="e@fjordvik.example",
        )
    finally:
        channel.close()
    assert [to for to, _m in pipelining_server.messages] == [
        "a@fjordvik.example",
        "c@fjordvik.example",
        "d@fjordvik.example",
    ]
