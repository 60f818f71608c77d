from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NoticesConfig(AppConfig):
    name = "quietshelf.notices"
    label = "notices"
    verbose_name = "Notices"

    def ready(self):
        from quietshelf.circulation.receipts import register_receipt_sender
        from quietshelf.notices import services
        from quietshelf.privacy import consent
        from quietshelf.privacy.services import register_forget_handler

        register_receipt_sender(services.send_checkout_receipt)  # the desk's receipt (CIR-2)

        # lazy: registered once at start-up, shown in each patron's own language (PRV-CON-1)
        consent.register_scope(
            services.HISTORY_SCOPE,
            description=_(
                "Keep the notices the library sends me, so I can read them in My account"
            ),
            on_withdraw=services.forget_notice_history,
        )
        register_forget_handler(
            services.forget_patron_notices, many=services.forget_patrons_notices
        )
        consent.register_scope(
            services.TITLES_SCOPE,
            description=_("Name the titles in my notices (due, overdue, ready to collect)"),
            on_withdraw=services.forget_notice_titles,
        )
