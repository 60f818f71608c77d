from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "quietshelf.accounts"
    label = "accounts"
    verbose_name = "Staff accounts"
