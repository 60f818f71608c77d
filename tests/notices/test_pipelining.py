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
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn):  # noqa: C901 - a whole SMTP server session
        conn.sendall(b"220 test ESMTP\r\n")
        buf, in_data, data, rcpt = b"", False, b"", None
        with conn:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
                if not in_data:
                    self.groups.append(buf.count(b"\r\n"))
                while True:
                    if in_data:
                        end = buf.find(b"\r\n.\r\n")
                        if end < 0:
                            break
                        data, buf, in_data = buf[2 : end + 2], buf[end + 5 :], False
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
