from django.apps import AppConfig


class PatronsConfig(AppConfig):
    name = "quietshelf.patrons"
    label = "patrons"
    verbose_name = "Patrons"

    def ready(self):
        from quietshelf.patrons import retention, signals  # noqa: F401

        retention.install()  # the patron purge step (PRV-RET-1)
