"""The instance's own log files: rotated at midnight (UTC), kept 14 days, 0600 (PRV-LOG-1).

Two ways a log line reaches `<instance>/logs/`:

- `QUIETSHELF_LOG_FILE=name.log` adds a `PrivateTimedRotatingFileHandler` to
  LOGGING (settings), so `quietshelf serve`/`worker` write there as well as to
  the console;
- `quietshelf demo` runs the job worker and the SIP2 server as children and
  pumps their output, line by line, through the same handler (`pump`), so
  `logs/worker.log` and `logs/sip2.log` rotate too instead of growing forever.

The handler keeps at most as many rotated files as the request-log rule has
days (`backupCount`), and the retention job's "log files" step deletes any
rotated file older than the rule (a process that was not running at midnight
rotates nothing): the step is what the schedule names as the enforcement.
"""

from __future__ import annotations

import logging
import os
import threading
from logging.handlers import TimedRotatingFileHandler
from pathlib import Path
from typing import IO

FILE_MODE = 0o600
FOLDER_MODE = 0o700
DEFAULT_DAYS = 14


class PrivateTimedRotatingFileHandler(TimedRotatingFileHandler):
    """TimedRotatingFileHandler whose files (current and rotated) are 0600 in a 0700 folder."""

    def __init__(self, filename, when="midnight", backupCount=DEFAULT_DAYS, utc=True, **kw):  # noqa: N803
        folder = Path(filename).parent
        folder.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
        kw.setdefault("encoding", "utf-8")
        super().__init__(filename, when=when, backupCount=backupCount, utc=utc, **kw)

    def _open(self):
        # created 0600 from the start (no window in which another user can open it)
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        os.fchmod(fd, FILE_MODE)  # an older file made under a wider umask
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


def handler(path: Path | str, *, days: int = DEFAULT_DAYS) -> PrivateTimedRotatingFileHandler:
    out = PrivateTimedRotatingFileHandler(path, backupCount=max(days, 1))
    out.setFormatter(logging.Formatter("%(message)s"))
    return out


def pump(stream: IO[bytes], path: Path | str, *, days: int = DEFAULT_DAYS) -> threading.Thread:
    """Copy a child's output into a rotating log file, one line a record, until EOF."""
    target = handler(path, days=days)

    def run() -> None:
        try:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\n")
                target.emit(logging.makeLogRecord({"msg": line, "levelno": logging.INFO}))
        finally:
            target.close()

    thread = threading.Thread(target=run, name=f"log-pump-{Path(path).name}", daemon=True)
    thread.start()
    return thread
