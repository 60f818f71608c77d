"""The seam behind the staff patron page's "send a password link" button (PRV-AUTH-1).

Password links are the portal's (its model, its mail, its rate limit); the staff patron
page sits in patrons, below the portal. The portal registers its sender from its
AppConfig.ready(), so patrons never imports the portal (docs/dev/architecture.md, #14).
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured

# fn(*, actor, patron_id) -> None: portal.services.send_password_link.
PASSWORD_LINK_SENDERS: list[Callable] = []


def register_password_link_sender(sender: Callable) -> Callable:
    if sender not in PASSWORD_LINK_SENDERS:
        PASSWORD_LINK_SENDERS.append(sender)
    return sender


def send_password_link(*, actor, patron_id) -> None:
    """Send the patron a link to set or reset their password through the registered
    sender; without one (no portal installed) there is no way to send it."""
    for sender in PASSWORD_LINK_SENDERS:
        return sender(actor=actor, patron_id=patron_id)
    raise ImproperlyConfigured("No password link sender: the patron portal is not installed.")
