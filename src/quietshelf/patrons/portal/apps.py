from django.apps import AppConfig


class PatronPortalConfig(AppConfig):
    """The patron's side: sign-in, password links, self-registration, My account, SSO."""

    name = "quietshelf.patrons.portal"
    label = "patron_portal"
    verbose_name = "Patron portal"
