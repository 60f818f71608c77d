"""The seam behind the desk's "send receipt" button (CIR-2): circulation offers it, the
notices app fills it from its AppConfig.ready(), so the desk page never imports notices,
which sits above circulation (docs/dev/architecture.md, #14)."""

from __future__ import annotations

from collections.abc import Callable

# fn(*, actor, patron_id, loan_ids) -> the queued notice, or None when the patron wants
# none: notices.services.send_checkout_receipt.
RECEIPT_SENDERS: list[Callable] = []


def register_receipt_sender(sender: Callable) -> Callable:
    if sender not in RECEIPT_SENDERS:
        RECEIPT_SENDERS.append(sender)
    return sender


def send_checkout_receipt(*, actor, patron_id, loan_ids):
    """Queue the receipt through the registered sender; None when there is none to send it."""
    for sender in RECEIPT_SENDERS:
        return sender(actor=actor, patron_id=patron_id, loan_ids=loan_ids)
    return None
