from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "quietshelf.accounts"
    label = "accounts"
    verbose_name = "Staff accounts"

    def ready(self) -> None:
        from quietshelf.accounts import declarations, signals  # noqa: F401
