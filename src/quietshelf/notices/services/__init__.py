"""Notice use cases: queue, deliver, reduce (CIR-5, PRV-NOT-1), templates and retries.

Queueing (the queue_* jobs) is idempotent through Notice.dedupe_key: one row
per patron and occasion; a second run finds the key taken and inserts
nothing. Delivery claims its work with one conditional UPDATE
(state queued -> sending, stamped with the worker's id), so two workers never
take the same notice. Right after the server accepts a message, one UPDATE
records it on that row (`accepted`, two columns without an index); a worker
killed after the server's acceptance but before that UPDATE leaves a
"sending" claim that is put back in the queue after
QUIETSHELF_NOTICE_CLAIM_TIMEOUT_SECONDS, and that one message then goes a
second time with the same Message-ID (at least once, never lost; the window
is one message wide). A claim that timed out with `accepted` set is not sent
again: it becomes sent. A live worker keeps its claim fresh while it works
through a batch (_Claim): before each message it re-stamps the rest of its
batch whenever the stamp is a quarter of the timeout old, and skips any notice
it no longer holds, so a slow server never lets another run take back a
notice that is still being sent.

Without the notification-history consent, at the end of each batch one
transaction turns the accepted rows into bare markers and adds them to
NoticeDailyCount (PRV-NOT-1): no content, channel, time of sending or attempt
count is left on a row about the patron.

Every job here is run by the scheduler (jobs app) or `quietshelf send-notices`.

The use cases live in one module each (queueing, templates, claims, delivery, outbox,
history, staff_mail); this package re-exports their names so callers keep importing
`quietshelf.notices.services`.
"""

from quietshelf.notices import defaults  # noqa: F401 - the staff views read it through here
from quietshelf.notices.services.claims import (
    _Claim,
    _claim,
    _mark_accepted,
    _settle,
    requeue_stale_claims,
)
from quietshelf.notices.services.common import (
    CHUNK,
    HISTORY_SCOPE,
    NOTIFIABLE,
    PRIVACY_NOTIFIABLE,
    TITLES_SCOPE,
)
from quietshelf.notices.services.delivery import (
    BATCH,
    deliver_queued_notices,
    deliver_round,
)
from quietshelf.notices.services.history import (
    forget_notice_history,
    forget_notice_titles,
    forget_patron_notices,
    forget_patrons_notices,
    reduce_notice_history,
)
from quietshelf.notices.services.outbox import (
    notice_retry,
)
from quietshelf.notices.services.queueing import (
    queue_due_soon_notices,
    queue_expiring_card_notices,
    queue_fee_notices,
    queue_hold_ready_notices,
    queue_overdue_notices,
    queue_privacy_notices,
    send_checkout_receipt,
)
from quietshelf.notices.services.staff_mail import (
    queue_staff_report,
    render_staff_report,
    staff_mail_address,
    staff_mail_address_set,
    staff_with_mail_address,
)
from quietshelf.notices.services.templates import (
    DATE_VARIABLES,
    render_notice,
    template_preview,
    template_reset,
    template_save,
)

# the private names are the ones the delivery tests drive directly
__all__ = [
    "TITLES_SCOPE",
    "HISTORY_SCOPE",
    "CHUNK",
    "NOTIFIABLE",
    "PRIVACY_NOTIFIABLE",
    "queue_due_soon_notices",
    "queue_overdue_notices",
    "queue_hold_ready_notices",
    "queue_expiring_card_notices",
    "queue_fee_notices",
    "send_checkout_receipt",
    "queue_privacy_notices",
    "DATE_VARIABLES",
    "render_notice",
    "template_preview",
    "template_save",
    "template_reset",
    "requeue_stale_claims",
    "_claim",
    "_Claim",
    "_mark_accepted",
    "_settle",
    "BATCH",
    "deliver_queued_notices",
    "deliver_round",
    "notice_retry",
    "reduce_notice_history",
    "forget_notice_history",
    "forget_patron_notices",
    "forget_patrons_notices",
    "forget_notice_titles",
    "staff_mail_address",
    "staff_with_mail_address",
    "staff_mail_address_set",
    "queue_staff_report",
    "render_staff_report",
]
