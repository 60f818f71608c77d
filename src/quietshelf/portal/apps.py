from django.apps import AppConfig


class PatronPortalConfig(AppConfig):
    """The patron's side: sign-in, password links, self-registration, My account, SSO."""

    name = "quietshelf.patrons.portal"
    label = "patron_portal"
    verbose_name = "Patron portal"

    def ready(self):
        # A malformed QUIETSHELF_PATRON_SSO stops start-up with one line, not a 500 later.
        from quietshelf.patrons.portal import retention
        from quietshelf.patrons.sso import config

        config.providers()
        retention.install()  # password links and sign-in failures expire (PRV-RET-1)
