"""Settings of the jobs app, read lazily so tests can override them.

Each is `settings.QUIETSHELF_X` when the settings module defines it, else the
environment variable of the same name, else the default (docs/jobs.md).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from quietshelf.core.env import env_int, env_str


def _get(name: str, default):
    return getattr(settings, name, default)


def redis_url() -> str:
    """Redis for the job queue when set; else SQLite in the instance folder."""
    return _get("QUIETSHELF_REDIS_URL", env_str("QUIETSHELF_REDIS_URL")).strip()


def sqlite_file() -> Path:
    raw = _get("QUIETSHELF_JOBS_FILE", env_str("QUIETSHELF_JOBS_FILE"))
    return Path(raw) if raw else Path(settings.INSTANCE_DIR) / "jobs.sqlite3"


def queue_name() -> str:
    """The huey queue's name: per instance, so two instances on one Redis never mix.

    Derived from the main database's identity (the server and the worker of one
    instance share it, wherever their instance folders are).
    """
    name = _get("QUIETSHELF_JOBS_QUEUE", env_str("QUIETSHELF_JOBS_QUEUE")).strip()
    if name:
        return name
    return name_for_database(settings.DATABASES["default"])


def name_for_database(db: dict) -> str:
    identity = "|".join(str(db.get(k) or "") for k in ("ENGINE", "HOST", "PORT", "NAME"))
    return "quietshelf-" + hashlib.sha256(identity.encode()).hexdigest()[:12]


def night_hour() -> int:
    """The hour (library time) at which the nightly jobs start."""
    hour = _int("QUIETSHELF_JOBS_NIGHT_HOUR", 1)
    if not 0 <= hour <= 23:
        raise ImproperlyConfigured(f"QUIETSHELF_JOBS_NIGHT_HOUR must be 0..23, not {hour}")
    return hour


def _json_setting(name: str, default, kind: type):
    value = _get(name, None)
    if value is None:
        raw = env_str(name)
        if not raw.strip():
            return default
        try:
            value = json.loads(raw)
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be JSON") from None
    if not isinstance(value, kind):
        raise ImproperlyConfigured(f"{name} must be a JSON {kind.__name__}")
    return value


def schedule_overrides() -> dict[str, str]:
    """{"job-name": "daily 02:00" | "hourly :15" | "every 5 minutes" | "off"}."""
    return _json_setting("QUIETSHELF_JOBS_SCHEDULE", {}, dict)


def extra_jobs() -> list[dict]:
    """More jobs: [{"name", "callable": "pkg.mod:func", "schedule", "description"}]."""
    return _json_setting("QUIETSHELF_JOBS_EXTRA", [], list)


def _int(name: str, default: int) -> int:
    try:
        return int(_get(name, env_int(name, default)))
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"{name} must be a whole number") from None


def heartbeat_seconds() -> int:
    """How often a running job tells the database it is alive."""
    return max(1, _int("QUIETSHELF_JOBS_HEARTBEAT_SECONDS", 10))


def stale_seconds() -> int:
    """A run whose heartbeat is older than this is taken to be lost and is taken over."""
    return max(3 * heartbeat_seconds(), _int("QUIETSHELF_JOBS_STALE_SECONDS", 120))


def max_attempts() -> int:
    """Take-overs of a run whose worker died before it gives up (a job that kills workers)."""
    return max(1, _int("QUIETSHELF_JOBS_MAX_ATTEMPTS", 3))


def keep_days() -> int:
    """Run records older than this are deleted by the prune-job-runs job."""
    return max(1, _int("QUIETSHELF_JOBS_KEEP_DAYS", 14))
