from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "quietshelf.core"
    label = "core"
    verbose_name = "Quietshelf core"

    def ready(self):
        from quietshelf.core import mail  # noqa: F401 - registers the mail-server check
