from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "quietshelf.accounts"
    label = "accounts"
    verbose_name = "Staff accounts"

    def ready(self) -> None:
        from quietshelf.accounts import declarations, retention, signals  # noqa: F401

        retention.install()  # staff sessions, sign-in records, closed accounts (PRV-RET-1)
