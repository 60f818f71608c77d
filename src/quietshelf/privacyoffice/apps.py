from django.apps import AppConfig


class PrivacyOfficeConfig(AppConfig):
    name = "quietshelf.privacyoffice"
    label = "privacyoffice"
    verbose_name = "Privacy office"
