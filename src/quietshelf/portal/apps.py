from django.apps import AppConfig


class PatronPortalConfig(AppConfig):
    """The patron's side: sign-in, password links, self-registration, My account, SSO."""

    name = "quietshelf.portal"
    label = "patron_portal"
    verbose_name = "Patron portal"

    def ready(self):
        # A malformed QUIETSHELF_PATRON_SSO stops start-up with one line, not a 500 later.
        from quietshelf.patrons.password_links import register_password_link_sender
        from quietshelf.portal import retention, services
        from quietshelf.portal.sso import config

        config.providers()
        retention.install()  # password links and sign-in failures expire (PRV-RET-1)
        # the staff patron page's "send a password link" (patrons sits below the portal)
        register_password_link_sender(services.send_password_link)
