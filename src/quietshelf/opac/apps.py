from django.apps import AppConfig


class OpacConfig(AppConfig):
    name = "quietshelf.opac"
    label = "opac"
    verbose_name = "Public catalogue"
