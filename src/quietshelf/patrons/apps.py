from django.apps import AppConfig


class PatronsConfig(AppConfig):
    name = "quietshelf.patrons"
    label = "patrons"
    verbose_name = "Patrons"

    def ready(self):
        from quietshelf.patrons import signals  # noqa: F401
