"""Settings of the notices app, read lazily so tests can override them.

Each is `settings.QUIETSHELF_<NAME>` when set, else the environment variable
of the same name, else the default. The list is in docs/notices.md.
"""

from __future__ import annotations

from django.conf import settings

from quietshelf.core.env import env_bool, env_int, env_list, env_str


def _get(name: str, default):
    return getattr(settings, name, default)


def _int(name: str, default: int) -> int:
    return int(_get(name, env_int(name, default)))


def due_soon_days() -> int:
    """Days before the due date the courtesy notice goes (0: none)."""
    return _int("QUIETSHELF_NOTICE_DUE_SOON_DAYS", 3)


def overdue_days() -> tuple[int, ...]:
    """Days after the due date for the first, second and third overdue notice."""
    raw = _get("QUIETSHELF_NOTICE_OVERDUE_DAYS", None)
    if raw is None:
        raw = env_list("QUIETSHELF_NOTICE_OVERDUE_DAYS") or [1, 8, 15]
    days = tuple(int(d) for d in raw)[:3]
    if not days or any(b <= a for a, b in zip(days, days[1:], strict=False)) or days[0] < 1:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "QUIETSHELF_NOTICE_OVERDUE_DAYS must be up to three increasing whole numbers >= 1"
        )
    return days


def card_expiry_days() -> int:
    """Days before a card expires that the patron is told (0: never)."""
    return _int("QUIETSHELF_NOTICE_CARD_EXPIRY_DAYS", 14)


def titles_allowed() -> bool:
    """Whether the library lets patrons opt in to titles in notices (PRV-NOT-1)."""
    name = "QUIETSHELF_NOTICE_TITLES_ALLOWED"
    return bool(_get(name, env_bool(name, False)))


def retry_base_seconds() -> int:
    return _int("QUIETSHELF_NOTICE_RETRY_BASE_SECONDS", 300)


def retry_max_seconds() -> int:
    return _int("QUIETSHELF_NOTICE_RETRY_MAX_SECONDS", 6 * 3600)


def max_attempts() -> int:
    return _int("QUIETSHELF_NOTICE_MAX_ATTEMPTS", 6)


def claim_timeout_seconds() -> int:
    """A claim older than this is taken to belong to a worker that died."""
    return _int("QUIETSHELF_NOTICE_CLAIM_TIMEOUT_SECONDS", 900)


def delivery_threads() -> int:
    """Delivering threads of the scheduled deliver-notices run, each with its own database
    and SMTP connections (1..16): one waits on the relay while another works."""
    return max(1, min(16, _int("QUIETSHELF_NOTICE_DELIVERY_THREADS", 2)))


def failed_keep_days() -> int:
    """How long a failed or undeliverable notice keeps its content for staff."""
    return _int("QUIETSHELF_NOTICE_FAILED_KEEP_DAYS", 30)


def history_days() -> int:
    """How long a sent notice is kept for a patron who opted in to notification history."""
    from quietshelf.privacy.retention import rule_days  # the one schedule (PRV-RET-1)

    return rule_days("notice_history", 30)


def sms_gateway() -> str:
    """ "http", "file" (writes to the instance folder: demo only) or "none"."""
    default = "none" if getattr(settings, "PRODUCTION", False) else "file"
    value = _get("QUIETSHELF_SMS_GATEWAY", env_str("QUIETSHELF_SMS_GATEWAY", default))
    return (value or "none").strip().lower()


def sms_url() -> str:
    return _get("QUIETSHELF_SMS_URL", env_str("QUIETSHELF_SMS_URL", ""))


def sms_token() -> str:
    return _get("QUIETSHELF_SMS_TOKEN", env_str("QUIETSHELF_SMS_TOKEN", ""))


def sms_timeout() -> float:
    return float(_get("QUIETSHELF_SMS_TIMEOUT", env_int("QUIETSHELF_SMS_TIMEOUT", 10)))


def sms_sender() -> str:
    return _get("QUIETSHELF_SMS_SENDER", env_str("QUIETSHELF_SMS_SENDER", "Library"))


def mail_from() -> str:
    name = "QUIETSHELF_NOTICE_MAIL_FROM"
    return _get(name, env_str(name, "")) or settings.DEFAULT_FROM_EMAIL


def site_url() -> str:
    return getattr(settings, "QUIETSHELF_SITE_URL", "http://localhost:8000").rstrip("/")


def library_name() -> str:
    return _get("QUIETSHELF_LIBRARY_NAME", env_str("QUIETSHELF_LIBRARY_NAME", "The library"))


def staff_report_attachments() -> bool:
    """Whether a scheduled report's mail carries its table as a CSV attachment as well as
    in the text (QUIETSHELF_REPORT_MAIL_CSV, default on)."""
    name = "QUIETSHELF_REPORT_MAIL_CSV"
    return bool(_get(name, env_bool(name, True)))
