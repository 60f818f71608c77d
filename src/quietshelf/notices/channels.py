"""Delivery channels: e-mail over SMTP (Django's backend) and SMS through an adapter.

A channel raises DeliveryError with `temporary` set when trying again later
may work (connection refused or dropped, time-out, 4xx, gateway 5xx) and
unset when it will not (5xx refusal of the recipient or message, gateway
4xx). Error texts name codes and kinds, never an address or a phone number.
"""

from __future__ import annotations

import email.utils
import json
import quopri
import re
import smtplib
import urllib.error
import urllib.request
from email.header import Header
from typing import Protocol

from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend

from quietshelf.core.outgoing import write_text_message
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
        self._pipe: SmtpPipeline | None = None
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
        pipe, self._pipe = self._pipe, None
        if conn is None:
            return
        if pipe is not None and pipe.ahead is not None and conn.connection is not None:
            # the server waits for the text of a message that will not come: drop the
            # connection without QUIT (it would be read as that text), the server discards it
            conn.connection.close()
            conn.connection = None
        try:
            conn.close()
        except Exception:  # noqa: BLE001, S110 - a broken connection is being dropped
            pass

    def send(
        self,
        *,
        to: str,
        subject: str,
        body: str,
        message_id: str,
        next_to: str | None = None,
        attachments: list[tuple[str, str, str]] | None = None,
    ) -> None:
        """Send one message. `next_to`: the address of the message the caller sends next
        on this channel, if it knows; its envelope may go with this message's text.
        `attachments`: (file name, text, MIME type) each, sent as multipart/mixed."""
        if self._pipe is not None and self._pipe.ahead not in (None, to):
            self.close()  # an envelope went ahead for a message that is not coming
        conn = self._open()
        sender = self._sender
        try:
            session = getattr(conn, "connection", None)
            if type(conn) is SmtpBackend and session is not None:
                # Straight to the open SMTP session: the same headers Django would write,
                # without building a MIME tree per message (most of the cost at 100k).
                if attachments:
                    message = mixed_message(
                        sender=sender,
                        to=to,
                        subject=subject,
                        body=body,
                        message_id=message_id,
                        attachments=attachments,
                        from_header=self._from_header,
                    )
                else:
                    message = plain_text_message(
                        sender=sender,
                        to=to,
                        subject=subject,
                        body=body,
                        message_id=message_id,
                        from_header=self._from_header,
                    )
                if self._envelope_from.isascii() and to.isascii():
                    if self._pipe is None or self._pipe.session is not session:
                        self._pipe = SmtpPipeline(session)
                    ahead = next_to if next_to and next_to.isascii() else None
                    self._pipe.send(self._envelope_from, to, message, next_to=ahead)
                else:  # SMTPUTF8 negotiation and its errors: smtplib's own
                    session.sendmail(self._envelope_from, [to], message)
            else:  # console, file or locmem back-ends (development, tests)
                message = EmailMessage(
                    subject=subject,
                    body=body,
                    from_email=sender,
                    to=[to],
                    connection=conn,
                    headers={"Message-ID": message_id, "Auto-Submitted": "auto-generated"},
                    attachments=list(attachments or ()),
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


_LEADING_DOT = re.compile(rb"(?m)^\.")


class SmtpPipeline:
    """Messages one after another on an open smtplib session, one recipient each.

    Raises the same smtplib exceptions as session.sendmail (SMTPSenderRefused,
    SMTPRecipientsRefused, SMTPDataError, SMTPServerDisconnected), so a refusal is
    classified the same way. When the server offers PIPELINING (RFC 2920) the
    envelope (MAIL, RCPT, DATA) goes in one write, and, when the caller names the
    next recipient, in the same write as this message's text and final dot: one
    round trip a message. A message's text is never sent before the server's 354
    for it, and its acceptance (the 250 after the final dot) is read before send()
    returns, so the caller can record it before the next message's text goes; a
    crash can therefore repeat at most that one message. An envelope sent ahead
    and never followed by its text is dropped with the connection (EmailChannel).
    `sender` and the recipients are plain ASCII addresses (checked by the caller
    and by policy.usable_email); `message` is ASCII with CRLF line ends.
    """

    def __init__(self, session: smtplib.SMTP):
        self.session = session
        self.ahead: str | None = None  # whose envelope went with the last message

    @staticmethod
    def _envelope(sender: str, to: str) -> bytes:
        return b"MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n" % (
            sender.encode("ascii"),
            to.encode("ascii"),
        )

    def send(self, sender: str, to: str, message: bytes, *, next_to: str | None = None) -> None:
        session = self.session
        session.ehlo_or_helo_if_needed()
        pipelining = session.does_esmtp and "pipelining" in session.esmtp_features
        if self.ahead is not None:
            if self.ahead != to:
                raise ValueError("an envelope went ahead for another recipient")
            self.ahead = None
            replies = [session.getreply() for _ in range(3)]
        elif pipelining:
            session.send(self._envelope(sender, to))
            replies = [session.getreply() for _ in range(3)]
        else:
            replies = []
            for command in self._envelope(sender, to).split(b"\r\n")[:3]:
                session.send(command + b"\r\n")
                replies.append(session.getreply())
                if replies[-1][0] not in (250, 251, 354):
                    break
        (mail_code, mail_text), *rest = replies
        rcpt_code, rcpt_text = rest[0] if rest else (503, b"not sent")
        data_code, data_text = rest[1] if len(rest) > 1 else (503, b"not sent")
        if data_code == 354 and (mail_code != 250 or rcpt_code not in (250, 251)):
            # a pipelining server said go ahead without a sender or recipient: end the
            # (empty) message at once; whatever it answers, nothing was accepted for `to`
            session.send(b".\r\n")
            session.getreply()
        if mail_code != 250:
            _reset(session, mail_code)
            raise smtplib.SMTPSenderRefused(mail_code, mail_text, sender)
        if rcpt_code not in (250, 251):
            _reset(session, rcpt_code)
            raise smtplib.SMTPRecipientsRefused({to: (rcpt_code, rcpt_text)})
        if data_code != 354:
            _reset(session, data_code)
            raise smtplib.SMTPDataError(data_code, data_text)
        data = _LEADING_DOT.sub(b"..", message)
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        following = b""
        if pipelining and next_to is not None:
            following = self._envelope(sender, next_to)
        session.send(data + b".\r\n" + following)
        if following:
            self.ahead = next_to
        code, text = session.getreply()
        if code != 250:
            if code == 421:
                self.ahead = None
                session.close()
            elif not following:
                _reset(session, code)
            # with an envelope ahead the session goes on with it: no RSET in its DATA
            raise smtplib.SMTPDataError(code, text)


def smtp_transaction(session: smtplib.SMTP, sender: str, to: str, message: bytes) -> None:
    """One message to one recipient on an open smtplib session, like session.sendmail
    (SmtpPipeline without a next recipient)."""
    SmtpPipeline(session).send(sender, to, message)


def _reset(session: smtplib.SMTP, code: int) -> None:
    """After a refusal: RSET to use the session again, or close it on 421 (as smtplib)."""
    if code == 421:
        session.close()
        return
    try:
        session.rset()
    except smtplib.SMTPServerDisconnected:
        pass


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


def _attachment_name(name: str) -> str:
    """A file name safe in a quoted header parameter: ASCII letters, digits, - _ . only."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", str(name))[:100].lstrip(".")
    return cleaned or "attachment"


def mixed_message(
    *,
    sender: str,
    to: str,
    subject: str,
    body: str,
    message_id: str,
    attachments: list[tuple[str, str, str]],
    from_header: str = "",
) -> bytes:
    """A multipart/mixed message: the text (as plain_text_message writes it) and each
    attachment as UTF-8 text in base64, as bytes with CRLF line ends (ASCII)."""
    import base64
    import uuid

    boundary = f"=_quietshelf_{uuid.uuid4().hex}"
    headers = [
        f"From: {from_header or _header(sender)}",
        f"To: {_header(to)}",
        f"Subject: {_header(subject)}",
        f"Date: {email.utils.formatdate(localtime=False)}",
        f"Message-ID: {_header(message_id)}",
        "Auto-Submitted: auto-generated",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/mixed; boundary="{boundary}"',
    ]
    text = quopri.encodestring(body.replace("\r\n", "\n").encode("utf-8"))
    parts = [
        (
            'Content-Type: text/plain; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        ).encode("ascii")
        + text.replace(b"\n", b"\r\n")
    ]
    for name, content, mimetype in attachments:
        kind = mimetype if re.fullmatch(r"[a-z]+/[a-z0-9.+-]+", mimetype or "") else "text/plain"
        filename = _attachment_name(name)
        encoded = base64.encodebytes(str(content).encode("utf-8")).replace(b"\n", b"\r\n")
        parts.append(
            (
                f'Content-Type: {kind}; charset="utf-8"; name="{filename}"\r\n'
                f'Content-Disposition: attachment; filename="{filename}"\r\n'
                "Content-Transfer-Encoding: base64\r\n\r\n"
            ).encode("ascii")
            + encoded
        )
    out = ("\r\n".join(headers) + "\r\n\r\n").encode("ascii")
    for part in parts:
        out += b"--" + boundary.encode("ascii") + b"\r\n" + part
        if not part.endswith(b"\r\n"):
            out += b"\r\n"
    return out + b"--" + boundary.encode("ascii") + b"--\r\n"


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
    """The demo's gateway: each message is one 0600 file in the instance's outgoing folder
    (core.outgoing), purged after a day and never logged (PRV-LOG-1)."""

    def send(self, *, to: str, text: str, message_id: str) -> None:
        try:
            write_text_message(to=to, text=text, reference=message_id)
        except OSError as exc:
            raise DeliveryError(
                f"SMS file error ({type(exc).__name__})", temporary=True, connection=True
            ) from None


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
