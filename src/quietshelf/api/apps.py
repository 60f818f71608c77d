from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "quietshelf.api"
    label = "api"
    verbose_name = "REST API"

    def ready(self) -> None:
        from quietshelf.api import retention

        retention.install()  # revoked tokens expire (PRV-RET-1)
