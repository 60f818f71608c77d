"""Outgoing mail and text messages without a mail server or SMS gateway (PRV-LOG-1).

Outside production, with no `QUIETSHELF_SMTP_HOST`, mail used to be printed on
the console, so patrons' addresses, notice texts and working password links
ended up in the demo's terminal and in `<instance>/logs/worker.log`; text
messages went to one clear-text file that nothing purged. Now every message
is one file in `<instance>/outgoing/` (`QUIETSHELF_OUTGOING_DIR`):

- the folder is 0700 and each file 0600, readable only by the person running
  the demo, who can still open a password link from there;
- nothing about a message is logged, not even its file name;
- the `outgoing_purge` job deletes messages older than a day
  (`QUIETSHELF_OUTGOING_HOURS`).

Production refuses to send without a server instead (core/mail.py).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def outgoing_dir() -> Path:
    """The folder for outgoing messages, made 0700 if it is not there."""
    folder = Path(
        getattr(settings, "QUIETSHELF_OUTGOING_DIR", None) or settings.INSTANCE_DIR / "outgoing"
    )
    folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    if folder.stat().st_mode & 0o777 != FOLDER_MODE:
        folder.chmod(FOLDER_MODE)
    return folder


def write_message(kind: str, data: bytes, *, suffix: str) -> Path:
    """One message as a new 0600 file; the name holds the time and a random part, no address."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    path = outgoing_dir() / f"{stamp}-{kind}-{secrets.token_hex(6)}{suffix}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path


class FolderEmailBackend(BaseEmailBackend):
    """Django e-mail back-end: each message becomes `<outgoing>/<time>-mail-<random>.eml`."""

    def send_messages(self, email_messages) -> int:
        sent = 0
        for message in email_messages or ():
            if not message.recipients():
                continue
            write_message("mail", message.message().as_bytes(linesep="\n"), suffix=".eml")
            sent += 1
        return sent


def write_text_message(*, to: str, text: str, reference: str) -> Path:
    """A text message (the demo's SMS gateway) as `<outgoing>/<time>-sms-<random>.txt`."""
    body = f"To: {to}\nReference: {reference}\n\n{text}\n"
    return write_message("sms", body.encode("utf-8"), suffix=".txt")


def purge_outgoing(*, now: dt.datetime | None = None) -> int:
    """Delete outgoing messages older than `QUIETSHELF_OUTGOING_HOURS` (default 24)."""
    folder = Path(
        getattr(settings, "QUIETSHELF_OUTGOING_DIR", None) or settings.INSTANCE_DIR / "outgoing"
    )
    if not folder.is_dir():
        return 0
    hours = int(getattr(settings, "QUIETSHELF_OUTGOING_HOURS", 24))
    now = now or dt.datetime.now(dt.UTC)
    cutoff = (now - dt.timedelta(hours=hours)).timestamp()
    removed = 0
    for path in folder.iterdir():
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # another purge got there first
            continue
    return removed
