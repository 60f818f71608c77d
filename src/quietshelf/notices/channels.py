"""Delivery channels: e-mail over SMTP (Django's backend) and SMS through an adapter.

A channel raises DeliveryError with `temporary` set when trying again later
may work (connection refused or dropped, time-out, 4xx, gateway 5xx) and
unset when it will not (5xx refusal of the recipient or message, gateway
4xx). Error texts name codes and kinds, never an address or a phone number.
"""

from __future__ import annotations

import email.utils
import json
import os
import quopri
import smtplib
import threading
import urllib.error
import urllib.request
from email.header import Header
from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend

from quietshelf.notices import conf


class DeliveryError(Exception):
    def __init__(self, message: str, *, temporary: bool, connection: bool = False):
        super().__init__(message)
        self.message = message[:200]
        self.temporary = temporary
        self.connection = connection  # the channel as a whole is down, not just this message


def _smtp_error(exc: Exception) -> DeliveryError:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        code = codes[0] if codes else 0
        return DeliveryError(f"SMTP {code}: recipient refused", temporary=code < 500)
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        kind = type(exc).__name__.removeprefix("SMTP")
        return DeliveryError(
            f"SMTP {code}: {kind}", temporary=code < 500, connection=code in (421, 554)
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return DeliveryError("SMTP server closed the connection", temporary=True, connection=True)
    if isinstance(exc, ConnectionRefusedError):
        return DeliveryError("SMTP connection refused", temporary=True, connection=True)
    if isinstance(exc, TimeoutError):
        return DeliveryError("SMTP time-out", temporary=True, connection=True)
    if isinstance(exc, OSError):
        return DeliveryError(
            f"SMTP network error ({type(exc).__name__})", temporary=True, connection=True
        )
    return DeliveryError(f"SMTP error ({type(exc).__name__})", temporary=True, connection=True)


class EmailChannel:
    """One SMTP connection reused for a batch of messages; reopened after a failure."""

    def __init__(self):
        self._conn = None
        # the sender is the same for every message of a run: parse and encode it once
        sender = conf.mail_from()
        self._sender = sender
        self._envelope_from = email.utils.parseaddr(sender)[1] or sender
        self._from_header = _header(sender)

    def _open(self):
        if self._conn is None:
            conn = get_connection(fail_silently=False)
            try:
                conn.open()
            except Exception as exc:  # noqa: BLE001 - classified for the outbox
                raise _smtp_error(exc) from None
            self._conn = conn
        return self._conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001, S110 - a broken connection is being dropped
                pass

    def send(self, *, to: str, subject: str, body: str, message_id: str) -> None:
        conn = self._open()
        sender = self._sender
        try:
            session = getattr(conn, "connection", None)
            if type(conn) is SmtpBackend and session is not None:
                # Straight to the open SMTP session: the same headers Django would write,
                # without building a MIME tree per message (most of the cost at 100k).
                session.sendmail(
                    self._envelope_from,
                    [to],
                    plain_text_message(
                        sender=sender,
                        to=to,
                        subject=subject,
                        body=body,
                        message_id=message_id,
                        from_header=self._from_header,
                    ),
                )
            else:  # console, file or locmem back-ends (development, tests)
                message = EmailMessage(
                    subject=subject,
                    body=body,
                    from_email=sender,
                    to=[to],
                    connection=conn,
                    headers={"Message-ID": message_id, "Auto-Submitted": "auto-generated"},
                )
                if message.send() != 1:
                    raise DeliveryError("SMTP: the message was not accepted", temporary=True)
        except DeliveryError:
            raise
        except Exception as exc:  # noqa: BLE001 - classified for the outbox
            error = _smtp_error(exc)
            if error.temporary or error.connection:
                self.close()  # a refused recipient leaves the session usable; anything else not
            raise error from None


def _header(value: str) -> str:
    value = " ".join(str(value).split())  # one line, whatever it held (header injection)
    return value if value.isascii() else Header(value, "utf-8").encode()


def plain_text_message(
    *, sender: str, to: str, subject: str, body: str, message_id: str, from_header: str = ""
) -> bytes:
    """A text/plain UTF-8 message (quoted-printable body) as bytes with CRLF line ends."""
    headers = [
        f"From: {from_header or _header(sender)}",
        f"To: {_header(to)}",
        f"Subject: {_header(subject)}",
        f"Date: {email.utils.formatdate(localtime=False)}",
        f"Message-ID: {_header(message_id)}",
        "Auto-Submitted: auto-generated",
        "MIME-Version: 1.0",
        'Content-Type: text/plain; charset="utf-8"',
        "Content-Transfer-Encoding: quoted-printable",
    ]
    text = body.replace("\r\n", "\n").encode("utf-8")
    encoded = quopri.encodestring(text).replace(b"\n", b"\r\n")
    return ("\r\n".join(headers) + "\r\n\r\n").encode("ascii") + encoded


class SmsGateway(Protocol):
    """Sends one text message; raises DeliveryError."""

    def send(self, *, to: str, text: str, message_id: str) -> None: ...


class HttpSmsGateway:
    """POSTs JSON {"to", "text", "sender", "reference"} to the provider's URL.

    2xx: sent. 5xx, 429, time-out or network error: temporary. Other 4xx: permanent.
    """

    def __init__(self, url: str, *, token: str = "", timeout: float = 10.0, sender: str = ""):
        if not url.startswith(("http://", "https://")):
            raise ValueError("QUIETSHELF_SMS_URL must be an http(s) URL")
        self.url = url
        self.token = token
        self.timeout = timeout
        self.sender = sender

    def send(self, *, to: str, text: str, message_id: str) -> None:
        payload = json.dumps(
            {"to": to, "text": text, "sender": self.sender, "reference": message_id}
        ).encode()
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url, data=payload, headers=headers, method="POST")  # noqa: S310 - scheme checked
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                response.read(1024)
        except urllib.error.HTTPError as exc:
            temporary = exc.code >= 500 or exc.code == 429
            raise DeliveryError(
                f"SMS gateway HTTP {exc.code}", temporary=temporary, connection=temporary
            ) from None
        except TimeoutError:
            raise DeliveryError("SMS gateway time-out", temporary=True, connection=True) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DeliveryError(
                f"SMS gateway unreachable ({type(reason).__name__})",
                temporary=True,
                connection=True,
            ) from None


class FileSmsGateway:
    """Appends each message as a JSON line to a file in the instance folder (demo only)."""

    _lock = threading.Lock()

    def __init__(self, path=None):
        self.path = path or (settings.INSTANCE_DIR / "sms-outbox.jsonl")

    def send(self, *, to: str, text: str, message_id: str) -> None:
        line = json.dumps({"to": to, "text": text, "reference": message_id}, ensure_ascii=False)
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")


def sms_gateway() -> SmsGateway | None:
    kind = conf.sms_gateway()
    if kind == "http":
        return HttpSmsGateway(
            conf.sms_url(),
            token=conf.sms_token(),
            timeout=conf.sms_timeout(),
            sender=conf.sms_sender(),
        )
    if kind == "file":
        return FileSmsGateway()
    return None
