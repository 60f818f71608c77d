from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "quietshelf.notices"
    label = "notices"
    verbose_name = "Notices"
