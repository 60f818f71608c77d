"""Mail without a mail server.

In production, with no QUIETSHELF_SMTP_HOST, Django would fall back to printing
every message (recipient and text) on the console, and so into the service's
journal (PRV-LOG-1). This back-end refuses instead: the notice outbox shows
the failure and retries, and the password-link page logs only the error type.
"""

from __future__ import annotations

from django.core.checks import Warning as CheckWarning
from django.core.checks import register
from django.core.mail.backends.base import BaseEmailBackend

NO_SERVER = "no mail server configured: set QUIETSHELF_SMTP_HOST (docs/configure.md)"


class NoMailServerBackend(BaseEmailBackend):
    def open(self):
        raise ConnectionRefusedError(NO_SERVER)

    def send_messages(self, email_messages):
        if email_messages:
            raise ConnectionRefusedError(NO_SERVER)
        return 0


@register()
def mail_server_configured(app_configs=None, **kwargs):
    from django.conf import settings

    if settings.EMAIL_BACKEND == f"{__name__}.NoMailServerBackend":
        return [
            CheckWarning(
                "No mail server: password links, notices and receipts cannot be sent.",
                hint="Set QUIETSHELF_SMTP_HOST (docs/configure.md, Mail).",
                id="core.W001",
            )
        ]
    return []
