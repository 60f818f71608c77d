"""The huey instance, built lazily from the settings (jobs/conf.py).

SQLite storage in the instance folder by default; Redis when
QUIETSHELF_REDIS_URL is set. The queue is named per instance
(conf.queue_name), so two instances sharing one Redis never take each
other's tasks. No result store: outcomes are JobRun rows.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from huey import Huey, RedisHuey, SqliteHuey

from quietshelf.jobs import conf

log = logging.getLogger("quietshelf.jobs")
_lock = threading.Lock()
_huey: Huey | None = None

# What puts the tasks on a huey instance: jobs.tasks.register, added by JobsConfig.ready().
# A registry rather than an import: the tasks call services, and services enqueue through
# this module, which therefore imports nothing of theirs (docs/dev/architecture.md, #14).
TASK_REGISTRARS: list[Callable[[Huey], None]] = []


def register_tasks(registrar: Callable[[Huey], None]) -> None:
    if registrar not in TASK_REGISTRARS:
        TASK_REGISTRARS.append(registrar)


def build_huey(*, name: str, redis_url: str = "", filename: Path | None = None) -> Huey:
    """A huey instance with Quietshelf's tasks registered on it."""
    if redis_url:
        huey = RedisHuey(name=name, url=redis_url, results=False, utc=True)
        huey.qs_storage = f"Redis {redact(redis_url)} (queue {name})"
    else:
        path = Path(filename or conf.sqlite_file())
        path.parent.mkdir(parents=True, exist_ok=True)
        huey = SqliteHuey(name=name, filename=str(path), results=False, utc=True, timeout=20)
        huey.qs_storage = f"SQLite {path} (queue {name})"
    for registrar in list(TASK_REGISTRARS):
        registrar(huey)
    return huey


def get_huey() -> Huey:
    global _huey
    with _lock:
        if _huey is None:
            _huey = build_huey(name=conf.queue_name(), redis_url=conf.redis_url())
        return _huey


def use(huey: Huey | None) -> None:
    """Make `huey` the instance this process enqueues on (None: rebuild from settings)."""
    global _huey
    with _lock:
        _huey = huey


def redact(url: str) -> str:
    """A Redis URL fit for logs and pages: no user name or password."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    if parts.password or parts.username:
        netloc = "***@" + netloc
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def enqueue_run(name: str, slot: str, *, huey: Huey | None = None) -> bool:
    """Hand a run to the queue; False (and a log line) when the queue is unreachable.

    A run that could not be handed over stays queued in the database, and the
    scheduler hands it over again (services.tick), so nothing is lost.
    """
    huey = huey or get_huey()
    try:
        huey.qs_run_job(name, slot)
    except Exception as exc:  # noqa: BLE001 - Redis down or SQLite locked: retried by the tick
        log.warning("job %s %s: could not be queued (%s)", name, slot, type(exc).__name__)
        return False
    return True


def queue_length(huey: Huey | None = None) -> int | None:
    """Tasks waiting in the queue, or None when it cannot be reached."""
    try:
        return (huey or get_huey()).pending_count()
    except Exception:  # noqa: BLE001 - shown as "unavailable" on the page
        return None
