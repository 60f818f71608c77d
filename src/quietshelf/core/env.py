"""Reading configuration from the environment, failing loudly on nonsense."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None


def env_days(name: str, default: int | None, *, minimum: int = 0) -> int | None:
    """A retention period in days: a whole number, never negative, never below a legal minimum.

    Refused at start-up with one line naming the setting (PRV-RET-1), so a typo
    can never shorten or stop a retention rule silently.
    """
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number of days, not {raw!r}") from None
    if value < 0:
        raise ImproperlyConfigured(f"{name} must not be negative (got {value})")
    if value < minimum:
        raise ImproperlyConfigured(
            f"{name} must be at least {minimum} days (the legal minimum), not {value}"
        )
    return value


def env_list(name: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, "").split(",") if part.strip()]


PRIVATE_UMASK = 0o077


def instance_dir() -> Path:
    """The instance folder: SQLite files, the key store, media, logs and outgoing mail.

    Everything in it is private to the account that runs Quietshelf (PRV-LOG-1,
    PRV-ENC-1): the process's umask makes every file it creates 0600 and every
    folder 0700 (SQLite's -wal and -shm files too, which no open() call of ours
    makes), and what an older version left readable by others is tightened.
    """
    os.umask(PRIVATE_UMASK)
    home = Path(os.environ.get("QUIETSHELF_HOME", "instance")).expanduser().resolve()
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    tighten(home)
    return home


def tighten(home: Path) -> None:
    """Take group and other permissions off the instance folder and everything in it.

    Key files (`*.key`) are left as they are: a master key others could read
    may have leaked, so the privacy kernel refuses to start and says so
    rather than have it quietly fixed here.
    """
    for root, dirs, files in os.walk(home):
        kept = [f for f in files if not f.endswith(".key")]
        for name in (root, *(os.path.join(root, f) for f in kept + dirs)):
            try:
                mode = os.lstat(name).st_mode
            except FileNotFoundError:
                continue
            if mode & 0o077 and not stat.S_ISLNK(mode):
                os.chmod(name, mode & ~0o077)


def private_file_secret(path: Path, nbytes: int = 48) -> str:
    """A per-instance secret kept in a 0600 file, created on first use.

    Used only outside production, where the operator must give the secret
    explicitly; this is what makes a demo instance safe without a default.
    """
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(nbytes))
    return path.read_text().strip()
