from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "quietshelf.privacy"
    label = "privacy"
    verbose_name = "Privacy kernel"
