from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "quietshelf.api"
    label = "api"
    verbose_name = "REST API"

    def ready(self) -> None:
        from quietshelf.api import retention, services
        from quietshelf.core.api_auth import register_token_authenticator

        retention.install()  # revoked tokens expire (PRV-RET-1)
        # every router's bearer authentication (in core) finds the token's owner here
        register_token_authenticator(services.api_token_authenticate)
