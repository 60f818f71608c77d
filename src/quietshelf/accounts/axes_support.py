"""django-axes hooks: the tried user name never reaches axes' tables or logs in clear.

Axes counts failures per (address, user name). It is given a keyed digest
(HMAC-SHA256 under an instance key of its own) instead of the name, so two
tries of the same name still count together, and its log lines name only a
short prefix of that digest.
"""

from __future__ import annotations

from quietshelf.privacy.fields import blind_index

# Form fields that may carry what a person typed to identify themselves.
IDENTIFIER_FIELDS = ("username", "identifier", "email", "barcode", "login")


def username_digest(request, credentials) -> str | None:
    """AXES_USERNAME_CALLABLE: the digest of the name tried at sign-in."""
    value = None
    for source in (credentials or {}, getattr(request, "POST", {}) or {}):
        for name in IDENTIFIER_FIELDS:
            if source.get(name):
                value = source.get(name)
                break
        if value:
            break
    if not value:
        return None
    return blind_index(str(value), purpose="axes.username", kind="username")


def client_str(username, ip_address, user_agent, path_info, request) -> str:
    """AXES_CLIENT_STR_CALLABLE: what axes writes in its log lines (no name, no address)."""
    return f"{{user: {(username or '')[:8]}…, path: {path_info}}}"


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the lock-out page, 429 with Retry-After (the cool-off left)."""
    from axes.helpers import get_cool_off
    from django.conf import settings
    from django.shortcuts import render

    response = render(request, settings.AXES_LOCKOUT_TEMPLATE, {}, status=429)
    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds()) if cool_off else 15 * 60
    response["Retry-After"] = str(max(1, seconds))
    return response


def client_network(request) -> str | None:
    """AXES_CLIENT_IP_CALLABLE: the client's network, never its full address (PRV-LOG-1).

    /24 for IPv4, /48 for IPv6 (core.netutil.truncate_ip): lockout counts by
    network and account together, and axes' rows hold no one's address.
    """
    from quietshelf.core.netutil import client_ip, truncate_ip

    network = truncate_ip(client_ip(request))
    return None if network == "-" else network
