from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "quietshelf.core"
    label = "core"
    verbose_name = "Quietshelf core"
