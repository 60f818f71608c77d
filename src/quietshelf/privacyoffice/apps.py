from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyOfficeConfig(AppConfig):
    name = "quietshelf.privacyoffice"
    label = "privacyoffice"
    verbose_name = "Privacy office"

    def ready(self):
        from quietshelf.privacy import consent
        from quietshelf.privacyoffice import retention

        retention.install()  # closed cases, decided requests, old canaries (PRV-RET-1)

        # PRV-POL-1: patrons may subscribe to notice of policy changes (opt-in).
        consent.register_scope(
            "policy_changes", description=_("Tell me when the privacy policy changes")
        )
