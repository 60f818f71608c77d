"""Throttling of patron sign-in by account and network together (PRV-AUTH-1).

A failure is recorded as two keyed hashes: of the account (the patron id
when the identifier matched one, else the normalised identifier) and of the
truncated network address (/24 for IPv4, /48 for IPv6). The identifier that
was typed is never stored or logged.

Rules (settings, docs/patron-portal.md):

- QUIETSHELF_PATRON_LOCKOUT_FAILURES (20) failures for one account from one
  network within QUIETSHELF_PATRON_LOCKOUT_MINUTES (15) lock that account
  *from that network* until the oldest failure ages out; the patron can
  still sign in from elsewhere (an attacker cannot lock a patron out of
  their own home network by guessing from theirs);
- QUIETSHELF_PATRON_LOCKOUT_IP_FAILURES (200) failures from one network,
  whatever the accounts, lock that network (password spraying);
- a successful sign-in clears that account's failures from that network;
  setting a password through an emailed link clears all of the account's.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from quietshelf.core.netutil import truncate_ip
from quietshelf.portal.models import SignInFailure
from quietshelf.privacy.fields import blind_index

ACCOUNT_PURPOSE = "patron_portal.sign_in_account"
NETWORK_PURPOSE = "patron_portal.sign_in_network"


def account_digest(*, patron_id=None, identifier: str = "") -> str:
    if patron_id is not None:
        return blind_index(f"patron {patron_id}", purpose=ACCOUNT_PURPOSE, kind="text")
    kind = "email" if "@" in identifier else "barcode"
    return blind_index(identifier or "-", purpose=ACCOUNT_PURPOSE, kind=kind)


def network_digest(ip: str) -> str:
    return blind_index(truncate_ip(ip), purpose=NETWORK_PURPOSE, kind="text")


def _window_start() -> dt.datetime:
    minutes = int(getattr(settings, "QUIETSHELF_PATRON_LOCKOUT_MINUTES", 15))
    return timezone.now() - dt.timedelta(minutes=minutes)


def is_locked(*, account: str, network: str) -> bool:
    since = _window_start()
    per_account = int(getattr(settings, "QUIETSHELF_PATRON_LOCKOUT_FAILURES", 20))
    per_network = int(getattr(settings, "QUIETSHELF_PATRON_LOCKOUT_IP_FAILURES", 200))
    recent = SignInFailure.objects.filter(at__gte=since)
    if recent.filter(account_digest=account, ip_digest=network).count() >= per_account:
        return True
    return recent.filter(ip_digest=network)[: per_network + 1].count() > per_network


def record_failure(*, account: str, network: str) -> None:
    SignInFailure.objects.create(account_digest=account, ip_digest=network, at=timezone.now())


def clear(*, account: str, network: str | None = None) -> None:
    qs = SignInFailure.objects.filter(account_digest=account)
    if network is not None:
        qs = qs.filter(ip_digest=network)
    qs.delete()


def purge_old() -> int:
    """Drop failures past the retention rule (run by the retention job)."""
    days = settings.QUIETSHELF_RETENTION.get("sign_in_failure", {}).get("days") or 1
    deleted, _ = SignInFailure.objects.filter(
        at__lt=timezone.now() - dt.timedelta(days=days)
    ).delete()
    return deleted
